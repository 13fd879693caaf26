import PFSTensor

/// (N, d1, d2, …) → (N, d1·d2·…). A view: no data is copied.
public final class Flatten: Layer {
    public let name: String
    public var computesInputGradient = true
    private var cachedInputShape: [Int]?

    public init(name: String = "flatten") { self.name = name }

    public func forward(_ input: Tensor, mode: Mode) throws(EngineError) -> Tensor {
        guard input.rank >= 2, input.shape.allSatisfy({ $0 > 0 }) else {
            throw .shape(layer: name, expected: "(N, …) with at least two non-zero dimensions", got: input.shape)
        }
        cachedInputShape = input.shape
        return try input.reshaped([input.shape[0], input.count / input.shape[0]])
    }

    public func backward(_ gradOutput: Tensor) throws(EngineError) -> Tensor? {
        guard let shape = cachedInputShape else { throw .missingForwardCache(layer: name) }
        try checkGradient(gradOutput, against: [shape[0], Shape.count(shape) / shape[0]])
        return computesInputGradient ? try gradOutput.reshaped(shape) : nil
    }
}

/// Layers applied one after another. Setting ``computesInputGradient`` to `false` turns off the
/// input gradient of the first layer only (later layers must still pass gradients back).
///
/// A run of BatchNorm2d (+ ChannelGate) + ReLU is executed fused, as one pass over memory each way:
/// see ``FusedNormActivation``. A ``Residual`` whose body ends in BatchNorm, followed by a ReLU, has
/// the residual add and the ReLU done in that BatchNorm's output pass. `PFS_FUSE=0` turns both off.
public final class Sequential: Layer {
    public let name: String
    public private(set) var layers: [Layer]

    /// The layers, with fusable runs grouped.
    private enum Step {
        case layer(Layer)
        case fused(FusedNormActivation)
        /// A residual block whose body ends in BatchNorm, then a clamp: the add and the clamp run
        /// inside that BatchNorm's output pass (``Residual/forward(_:mode:clampCeiling:)``).
        case residualClamp(Residual, ReLU)
    }
    private let steps: [Step]
    /// Which steps the last forward ran fused (a fused run falls back to its layers when it can't run).
    private var ranFused: [Bool] = []

    public init(name: String = "sequential", _ layers: [Layer]) {
        self.name = name
        self.layers = layers
        var steps: [Step] = [], i = 0
        while i < layers.count {
            if let run = FusedNormActivation.match(layers, at: i) {
                steps.append(.fused(run))
                i += run.layers.count
            } else if FusedNormActivation.isEnabled, let block = layers[i] as? Residual, block.canFuseClamp,
                      i + 1 < layers.count, let clamp = layers[i + 1] as? ReLU {
                steps.append(.residualClamp(block, clamp))
                i += 2
            } else {
                steps.append(.layer(layers[i]))
                i += 1
            }
        }
        self.steps = steps
    }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }

    public var computesInputGradient: Bool {
        get { layers.first?.computesInputGradient ?? true }
        set { layers.first?.computesInputGradient = newValue }
    }

    public func forward(_ input: Tensor, mode: Mode) throws(EngineError) -> Tensor {
        try run(steps[...], input, mode: mode)
    }

    /// `steps` in order; in inference mode a convolution and the BatchNorm step after it run as
    /// one (``Conv2d/forward(_:folding:gate:addend:clampCeiling:)``).
    private func run(_ steps: ArraySlice<Step>, _ input: Tensor, mode: Mode) throws(EngineError) -> Tensor {
        var x = input
        ranFused = []
        var i = steps.startIndex
        while i < steps.endIndex {
            if mode == .inference, i + 1 < steps.endIndex, let folded = try runFolded(steps[i], steps[i + 1], x) {
                x = folded
                ranFused += [false, false]   // no backward after inference mode: nothing was cached
                i += 2
                continue
            }
            x = try run(steps[i], x, mode: mode)
            i += 1
        }
        return x
    }

    /// Inference mode: a convolution followed by a BatchNorm (+ gate + clamp) step, as one pass
    /// over the output, or nil where the pair does not fold (then each runs on its own and reports
    /// its own errors). `addend` and `clampCeiling`: a residual add and clamp after a lone BatchNorm.
    private func runFolded(_ first: Step, _ second: Step, _ input: Tensor, addend: Tensor? = nil,
                           clampCeiling: Float? = nil) throws(EngineError) -> Tensor? {
        guard FusedNormActivation.isEnabled, case .layer(let layer) = first, let conv = layer as? Conv2d else { return nil }
        switch second {
        case .fused(let run) where run.canRun && run.norm.channels == conv.outChannels
                                   && (run.gate?.channels ?? conv.outChannels) == conv.outChannels && addend == nil:
            run.dropCaches()
            return try conv.forward(input, folding: run.norm, gate: run.gate?.gate.value, addend: nil,
                                    clampCeiling: run.activation.ceiling)
        case .layer(let layer):
            guard let norm = layer as? BatchNorm2d, norm.channels == conv.outChannels else { return nil }
            norm.dropCache()
            return try conv.forward(input, folding: norm, gate: nil, addend: addend, clampCeiling: clampCeiling)
        default:
            return nil
        }
    }

    private func run(_ step: Step, _ input: Tensor, mode: Mode) throws(EngineError) -> Tensor {
        switch step {
        case .layer(let layer):
            ranFused.append(false)
            return try layer.forward(input, mode: mode)
        case .fused(let run):
            ranFused.append(run.canRun)
            if run.canRun { return try run.forward(input, mode: mode) }
            var x = input
            for layer in run.layers { x = try layer.forward(x, mode: mode) }
            return x
        case .residualClamp(let block, let clamp):
            ranFused.append(clamp.computesInputGradient)
            if clamp.computesInputGradient {
                clamp.dropCache()   // stale otherwise: the block keeps the clamp's output
                return try block.forward(input, mode: mode, clampCeiling: clamp.ceiling)
            }
            return try clamp.forward(block.forward(input, mode: mode), mode: mode)
        }
    }

    /// The last layer when it is a BatchNorm run on its own (no clamp after it in this container).
    var trailingBatchNorm: BatchNorm2d? {
        if case .layer(let layer)? = steps.last { return layer as? BatchNorm2d }
        return nil
    }

    /// Forward with the trailing BatchNorm writing clamp(BN(z) + addend): the residual add and
    /// clamp of the enclosing ``Residual`` (`owner`) fused into its output pass.
    func forward(_ input: Tensor, mode: Mode, addend: Tensor, clampCeiling: Float,
                 owner: String) throws(EngineError) -> Tensor {
        guard let norm = trailingBatchNorm else { preconditionFailure("\(name): no trailing BatchNorm to fuse into") }
        if mode == .inference, steps.count >= 2, case .layer(let layer) = steps[steps.count - 2], let conv = layer as? Conv2d {
            // The residual add and clamp go into the last convolution's output pass with the BatchNorm.
            var x = try run(steps.dropLast(2), input, mode: mode)
            try Residual.checkAdd(body: try conv.geometry(for: x.shape).outputShape, shortcut: addend.shape, block: owner)
            if let y = try runFolded(steps[steps.count - 2], steps[steps.count - 1], x, addend: addend,
                                     clampCeiling: clampCeiling) {
                ranFused += [false, false]
                return y
            }
            x = try run(steps[steps.count - 2], x, mode: mode)
            ranFused.append(false)
            return try norm.forward(x, mode: mode, gate: nil, clampCeiling: clampCeiling, addend: addend)
        }
        let x = try run(steps.dropLast(), input, mode: mode)
        try Residual.checkAdd(body: x.shape, shortcut: addend.shape, block: owner)
        ranFused.append(false)
        return try norm.forward(x, mode: mode, gate: nil, clampCeiling: clampCeiling, addend: addend)
    }

    public func backward(_ gradOutput: Tensor) throws(EngineError) -> Tensor? {
        // Unfused view of the last forward: the layers in order, a fused run as one entry.
        var units: [(name: String, backward: (Tensor) throws(EngineError) -> Tensor?)] = []
        for (step, fused) in zip(steps, ranFused) {
            switch step {
            case .layer(let layer): units.append((layer.name, layer.backward))
            case .fused(let run) where fused: units.append((run.norm.name, run.backward))
            case .fused(let run): for layer in run.layers { units.append((layer.name, layer.backward)) }
            case .residualClamp(let block, _) where fused: units.append((block.name, block.backwardThroughClamp))
            case .residualClamp(let block, let clamp):
                units.append((block.name, block.backward))
                units.append((clamp.name, clamp.backward))
            }
        }
        guard units.count >= steps.count else { throw .missingForwardCache(layer: name) }
        var g: Tensor? = gradOutput
        for i in units.indices.reversed() {
            guard let current = g else {
                throw .configuration(layer: name, field: "gradient flow",
                                     expected: "only the first layer may skip its input gradient",
                                     got: "\(units[i + 1].name) returned none")
            }
            g = try units[i].backward(current)
        }
        return g
    }
}

/// A residual block: y = body(x) + shortcut(x), with the identity when `shortcut` is `nil`.
/// Backward sums the two paths' input gradients: dx = body'ᵀ·dy + shortcut'ᵀ·dy.
public final class Residual: Layer {
    public let name: String
    public let body: Layer
    public let shortcut: Layer?
    private var cachedShape: [Int]?
    private var cachedClampOutput: Tensor?
    private var clampCeiling: Float = .infinity
    private var inputGradient = true

    public init(name: String = "residual", body: Layer, shortcut: Layer? = nil) {
        self.name = name
        self.body = body
        self.shortcut = shortcut
    }

    public var parameters: [Parameter] { body.parameters + (shortcut?.parameters ?? []) }

    public var computesInputGradient: Bool {
        get { inputGradient }
        set { inputGradient = newValue; body.computesInputGradient = newValue; shortcut?.computesInputGradient = newValue }
    }

    public func forward(_ input: Tensor, mode: Mode) throws(EngineError) -> Tensor {
        cachedClampOutput = nil
        var y = try body.forward(input, mode: mode)
        let s = try shortcut?.forward(input, mode: mode) ?? input
        try Self.checkAdd(body: y.shape, shortcut: s.shape, block: name)
        y.add(s)
        cachedShape = y.shape
        return y
    }

    /// The residual add needs the shortcut's output in the body's output shape.
    static func checkAdd(body: [Int], shortcut: [Int], block: String) throws(EngineError) {
        guard shortcut == body else {
            throw .shape(layer: "\(block) (residual add: body output \(Shape.describe(body)))",
                         expected: Shape.describe(body) + " from the shortcut", got: shortcut)
        }
    }

    /// Whether a clamp after this block can run fused into its body's trailing BatchNorm.
    var canFuseClamp: Bool { (body as? Sequential)?.trailingBatchNorm != nil }

    /// clamp(body(x) + shortcut(x)) with the add and the clamp inside the body's last BatchNorm pass
    /// (``canFuseClamp``); the output is kept as the clamp's mask for ``backwardThroughClamp(_:)``.
    func forward(_ input: Tensor, mode: Mode, clampCeiling: Float) throws(EngineError) -> Tensor {
        guard let body = body as? Sequential else { preconditionFailure("\(name): the body is not a Sequential") }
        let s = try shortcut?.forward(input, mode: mode) ?? input
        let y = try body.forward(input, mode: mode, addend: s, clampCeiling: clampCeiling, owner: name)
        cachedShape = y.shape
        cachedClampOutput = mode.keepsBackwardCaches ? y : nil
        self.clampCeiling = clampCeiling
        return y
    }

    /// The backward of ``forward(_:mode:clampCeiling:)``: the clamp's mask, then the block's.
    func backwardThroughClamp(_ gradOutput: Tensor) throws(EngineError) -> Tensor? {
        guard let y = cachedClampOutput else { throw .missingForwardCache(layer: name) }
        try checkGradient(gradOutput, against: y.shape)
        let masked = ReLU.gradient(output: y, gradOutput: gradOutput, ceiling: clampCeiling)
        return try backward(masked)
    }

    public func backward(_ gradOutput: Tensor) throws(EngineError) -> Tensor? {
        guard let shape = cachedShape else { throw .missingForwardCache(layer: name) }
        try checkGradient(gradOutput, against: shape)
        var dBody = try body.backward(gradOutput)
        let dShortcut = try shortcut.map { layer throws(EngineError) in try layer.backward(gradOutput) } ?? gradOutput
        // Moved out of `dBody`, so that the add below finds its buffer uniquely referenced and does
        // not copy it first.
        guard inputGradient, var dx = dBody.take() else { return nil }
        if let dShortcut { dx.add(dShortcut) }
        return dx
    }
}
