/// Cost of one convolution or linear layer (SPEC §5).
public struct LayerCost: Codable, Equatable, Sendable {
    /// Layer name, e.g. `stage2.block1.conv1`, `stage2.block1.shortcut.conv`, `fc`.
    public var name: String
    /// `conv`, `depthwise` or `linear`.
    public var kind: String
    /// (C, H, W) for a convolution, (features) for a linear layer; batch excluded.
    public var inputShape: [Int]
    public var outputShape: [Int]
    /// Multiply-accumulates for one image (1 MAC = one multiply + one add; FLOPs would be 2×).
    public var macs: Int
    /// Parameters of the layer including the γ/β of the BatchNorm that follows it and any bias
    /// (BN running statistics are buffers, not parameters).
    public var params: Int

    public init(name: String, kind: String, inputShape: [Int], outputShape: [Int], macs: Int, params: Int) {
        self.name = name
        self.kind = kind
        self.inputShape = inputShape
        self.outputShape = outputShape
        self.macs = macs
        self.params = params
    }
}

/// Per-layer and total MACs and parameters of one configuration, for one input image.
public struct Complexity: Codable, Equatable, Sendable {
    /// Convolutions and the classifier, in forward order.
    public var layers: [LayerCost]
    /// Multiply-accumulates per image.
    public var totalMACs: Int
    /// Trainable parameters (weights, BN γ/β, biases; gates excluded).
    public var totalParams: Int

    public init(layers: [LayerCost], totalMACs: Int, totalParams: Int) {
        self.layers = layers
        self.totalMACs = totalMACs
        self.totalParams = totalParams
    }

    /// An aligned text table: one row per layer and a total, numbers with thousands separators.
    public func table() -> String {
        func shape(_ s: [Int]) -> String { s.map(String.init).joined(separator: "×") }
        let header = ["layer", "kind", "input", "output", "MACs", "params"]
        var rows = layers.map { [$0.name, $0.kind, shape($0.inputShape), shape($0.outputShape),
                                 Self.grouped($0.macs), Self.grouped($0.params)] }
        rows.append(["total", "", "", "", Self.grouped(totalMACs), Self.grouped(totalParams)])
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        let rightAligned: Set<Int> = [4, 5]
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (i, cell) in cells.enumerated() {
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                parts.append(rightAligned.contains(i) ? pad + cell : cell + pad)
            }
            var text = parts.joined(separator: "  ")
            while text.hasSuffix(" ") { text.removeLast() }
            return text
        }
        let rule = String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1))
        var lines = ["MACs (1 MAC = multiply + add) and parameters per image; params include BatchNorm γ/β and biases",
                     line(header), rule]
        lines += rows.dropLast().map(line)
        lines += [rule, line(rows[rows.count - 1])]
        return lines.joined(separator: "\n") + "\n"
    }

    /// `313201664` → `313,201,664` (how every MAC and parameter count is printed).
    public static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return value < 0 ? "-" + out : out
    }
}

/// Analytic MAC and parameter counts of SPEC §5: convolutions k_h·k_w·(C_in/groups)·C_out·H_out·W_out,
/// linear in·out; BN, ReLU, pooling, residual adds and gates cost nothing. Per image, at the
/// configuration's input size. The configuration must be valid (``ChannelConfiguration/validate()``);
/// a width list that does not fit the architecture is a programming error and traps.
public enum ComplexityCounter {
    /// Per-layer and total counts (builds layer names; use ``totalMACs(_:)`` in loops).
    public static func count(_ configuration: ChannelConfiguration) -> Complexity {
        requireLayout(configuration)
        var recorder = CostRecorder(input: configuration.input)
        var reader = WidthReader(configuration)
        walkArchitecture(context(configuration), widths: &reader, visitor: &recorder)
        if let problem = recorder.problem { preconditionFailure("ComplexityCounter.count: \(problem)") }
        return Complexity(layers: recorder.layers, totalMACs: recorder.totalMACs, totalParams: recorder.totalParams)
    }

    /// Total MACs per image, without building names or per-layer records: the fast path for the
    /// pruning budget search.
    public static func totalMACs(_ configuration: ChannelConfiguration) -> Int {
        totals(configuration).macs
    }

    /// Total parameters (as ``Complexity/totalParams``), on the fast path.
    public static func totalParams(_ configuration: ChannelConfiguration) -> Int {
        totals(configuration).params
    }

    static func totals(_ configuration: ChannelConfiguration) -> (macs: Int, params: Int) {
        requireLayout(configuration)
        var counter = MACCounter(input: configuration.input)
        var reader = WidthReader(configuration)
        walkArchitecture(context(configuration), widths: &reader, visitor: &counter)
        return (counter.macs, counter.params)
    }

    @inline(__always)
    static func context(_ c: ChannelConfiguration) -> TemplateContext {
        TemplateContext(architecture: c.architecture, input: c.input, classes: c.classes)
    }

    @inline(__always)
    static func requireLayout(_ c: ChannelConfiguration) {
        let expected = ArchitectureLayout.of(c.architecture).widths.count
        precondition(c.widths.count == expected,
                     "\(c.architecture.rawValue) needs \(expected) widths, the configuration has \(c.widths.count); validate() it first")
    }
}

/// Counts MACs and parameters only (no names, no allocation beyond the walk).
struct MACCounter: ArchitectureVisitor {
    var c: Int, h: Int, w: Int
    var macs = 0, params = 0
    private var saved = (0, 0, 0), bodyOut = (0, 0, 0), hasShortcut = false

    init(input: InputShape) { (c, h, w) = (input.channels, input.height, input.width) }

    @inline(__always)
    mutating func conv(_ name: @autoclosure () -> String, out: Int, kernel: Int, stride: Int, padding: Int,
                       depthwise: Bool) {
        h = (h + 2 * padding - kernel) / stride + 1
        w = (w + 2 * padding - kernel) / stride + 1
        let weights = kernel * kernel * (depthwise ? 1 : c) * out
        params += weights
        macs += weights * h * w
        c = out
    }
    @inline(__always) mutating func batchNorm(_ name: @autoclosure () -> String) { params += 2 * c }
    @inline(__always) mutating func gate(width index: Int) {}
    @inline(__always) mutating func relu(_ name: @autoclosure () -> String, six: Bool) {}
    @inline(__always)
    mutating func maxPool(_ name: @autoclosure () -> String, kernel: Int, stride: Int, padding: Int) {
        h = (h + 2 * padding - kernel) / stride + 1
        w = (w + 2 * padding - kernel) / stride + 1
    }
    @inline(__always) mutating func globalAveragePool(_ name: @autoclosure () -> String) { h = 1; w = 1 }
    @inline(__always)
    mutating func linear(_ name: @autoclosure () -> String, out: Int) {
        macs += c * out
        params += c * out + out
        c = out
    }
    @inline(__always)
    mutating func beginResidual(_ name: @autoclosure () -> String) { saved = (c, h, w); hasShortcut = false }
    @inline(__always)
    mutating func beginShortcut() { bodyOut = (c, h, w); (c, h, w) = saved; hasShortcut = true }
    @inline(__always)
    mutating func endResidual() { if hasShortcut { (c, h, w) = bodyOut } }
}

/// Records every layer's cost with names and shapes, and the first layout problem (an input too
/// small for a layer, a residual add of unequal shapes).
struct CostRecorder: ArchitectureVisitor {
    var c: Int, h: Int, w: Int
    var layers: [LayerCost] = []
    var totalMACs = 0, totalParams = 0
    var problem: ModelError?
    private let input: InputShape
    private var residuals: [(name: String, input: [Int], bodyOutput: [Int]?)] = []

    init(input: InputShape) {
        self.input = input
        (c, h, w) = (input.channels, input.height, input.width)
    }

    /// Output extent of a k×k window with stride and padding over `size`; records a problem when
    /// the padded input is smaller than the window.
    private mutating func extent(_ size: Int, kernel: Int, stride: Int, padding: Int, layer: () -> String) -> Int {
        guard size + 2 * padding >= kernel else {
            if problem == nil {
                problem = ModelError(field: "input",
                                     expected: "an image large enough for every layer (\(layer()) gets \(h)×\(w), "
                                         + "needs at least \(kernel)×\(kernel) with padding \(padding))",
                                     got: input.description)
            }
            return 1
        }
        return (size + 2 * padding - kernel) / stride + 1
    }

    mutating func conv(_ name: @autoclosure () -> String, out: Int, kernel: Int, stride: Int, padding: Int,
                       depthwise: Bool) {
        let inputShape = [c, h, w]
        let oh = extent(h, kernel: kernel, stride: stride, padding: padding, layer: name)
        let ow = extent(w, kernel: kernel, stride: stride, padding: padding, layer: name)
        let weights = checked([kernel, kernel, depthwise ? 1 : c, out], layer: name)
        let macs = checked([weights, oh, ow], layer: name)
        layers.append(LayerCost(name: name(), kind: depthwise ? "depthwise" : "conv", inputShape: inputShape,
                                outputShape: [out, oh, ow], macs: macs, params: weights))
        totalMACs = checked(sum: totalMACs, macs, layer: name)
        totalParams = checked(sum: totalParams, weights, layer: name)
        (c, h, w) = (out, oh, ow)
    }

    mutating func batchNorm(_ name: @autoclosure () -> String) {
        if !layers.isEmpty { layers[layers.count - 1].params += 2 * c }
        totalParams += 2 * c
    }

    mutating func gate(width index: Int) {}
    mutating func relu(_ name: @autoclosure () -> String, six: Bool) {}

    mutating func maxPool(_ name: @autoclosure () -> String, kernel: Int, stride: Int, padding: Int) {
        let oh = extent(h, kernel: kernel, stride: stride, padding: padding, layer: name)
        let ow = extent(w, kernel: kernel, stride: stride, padding: padding, layer: name)
        (h, w) = (oh, ow)
    }

    mutating func globalAveragePool(_ name: @autoclosure () -> String) { (h, w) = (1, 1) }

    mutating func linear(_ name: @autoclosure () -> String, out: Int) {
        let macs = checked([c, out], layer: name)
        let params = checked(sum: macs, out, layer: name)
        layers.append(LayerCost(name: name(), kind: "linear", inputShape: [c], outputShape: [out], macs: macs,
                                params: params))
        totalMACs = checked(sum: totalMACs, macs, layer: name)
        totalParams = checked(sum: totalParams, params, layer: name)
        c = out
    }

    /// The product of `factors`, or 0 with a recorded problem when it overflows (widths and
    /// inputs are bounded by validate(), but their products are not).
    private mutating func checked(_ factors: [Int], layer: () -> String) -> Int {
        var product = 1
        for f in factors {
            let (p, overflow) = product.multipliedReportingOverflow(by: f)
            if overflow { recordOverflow(layer); return 0 }
            product = p
        }
        return product
    }

    private mutating func checked(sum a: Int, _ b: Int, layer: () -> String) -> Int {
        let (s, overflow) = a.addingReportingOverflow(b)
        if overflow { recordOverflow(layer); return 0 }
        return s
    }

    private mutating func recordOverflow(_ layer: () -> String) {
        if problem == nil {
            problem = ModelError(field: "widths", expected: "a network whose MACs and parameters fit in 64 bits",
                                 got: "more at \(layer())")
        }
    }

    mutating func beginResidual(_ name: @autoclosure () -> String) {
        residuals.append((name(), [c, h, w], nil))
    }

    mutating func beginShortcut() {
        guard !residuals.isEmpty else { return }
        residuals[residuals.count - 1].bodyOutput = [c, h, w]
        let x = residuals[residuals.count - 1].input
        (c, h, w) = (x[0], x[1], x[2])
    }

    mutating func endResidual() {
        guard let residual = residuals.popLast() else { return }
        let body = residual.bodyOutput ?? [c, h, w]
        let shortcut = residual.bodyOutput == nil ? residual.input : [c, h, w]
        if body != shortcut && problem == nil {
            problem = ModelError(field: "widths",
                                 expected: "equal shapes at the residual add of \(residual.name) "
                                     + "(body output \(body.map(String.init).joined(separator: "×")))",
                                 got: "shortcut output \(shortcut.map(String.init).joined(separator: "×"))")
        }
        (c, h, w) = (body[0], body[1], body[2])
    }
}
