import PFSNN
import PFSTensor

/// Builds networks from channel configurations: the generator G(·) of the paper.
public enum ModelBuilder {
    /// A freshly initialised network of `configuration` (SPEC §3): conv weights N(0, 2/(k·k·C_out)),
    /// BN γ = 1 and β = 0 (VGG: γ = 0.5), linear weights N(0, 0.01) and bias 0, all drawn in forward
    /// order from one `RandomGenerator(seed:)` — the same seed gives bit-identical weights.
    ///
    /// With `gates`, a `ChannelGate` (all ones) named `<width name>.gate` follows the BN of every
    /// prunable width's conv, before its non-linearity; ``Network/gates`` lists them in
    /// configuration order. The first layer computes no input gradient.
    public static func build(_ configuration: ChannelConfiguration, gates: Bool = false,
                             seed: UInt64) throws(ModelError) -> Network {
        try configuration.validate()
        var assembler = NetworkAssembler(configuration: configuration, gates: gates, seed: seed)
        var reader = WidthReader(configuration)
        walkArchitecture(TemplateContext(architecture: configuration.architecture, input: configuration.input,
                                         classes: configuration.classes),
                         widths: &reader, visitor: &assembler)
        if let failure = assembler.failure {
            throw ModelError(field: configuration.architecture.rawValue, expected: "layers the engine accepts",
                             got: failure)
        }
        guard let classifier = assembler.classifier, assembler.frames.count == 1 else {
            throw ModelError(field: configuration.architecture.rawValue, expected: "a complete network",
                             got: "a template without classifier or with an open residual block")
        }
        let body = Sequential(name: configuration.architecture.rawValue, assembler.frames[0])
        let network = Network(configuration: configuration, body: body, gates: assembler.gates,
                              batchNorms: assembler.batchNorms, convolutions: assembler.convolutions,
                              classifier: classifier, layers: assembler.leaves,
                              prunableUnits: assembler.units.map { $0.unit() })
        network.computesInputGradient = false
        return network
    }
}

/// Turns a template walk into layers.
struct NetworkAssembler: ArchitectureVisitor {
    let configuration: ChannelConfiguration
    let withGates: Bool
    let initialScale: Float
    var rng: RandomGenerator
    /// Current channel count.
    var c: Int
    /// Open layer lists: the network's, and one per open residual body or shortcut.
    var frames: [[Layer]] = [[]]
    var residuals: [(name: String, body: [Layer]?, input: Int, bodyOutput: Int)] = []
    var gates: [ChannelGate] = []
    var batchNorms: [BatchNorm2d] = []
    var convolutions: [Conv2d] = []
    var classifier: Linear?
    var leaves: [Layer] = []
    /// The topology of every prunable width, in configuration order.
    var units: [UnitRecord] = []
    /// The unit whose channels the current tensor carries (nil for fixed widths), and the one each
    /// open residual block started from (its shortcut reads the same tensor).
    var openUnit: Int?
    var residualInputUnits: [Int?] = []
    private var lastConvolution: Conv2d?
    private var lastBatchNorm: BatchNorm2d?
    /// The first engine error, as text.
    var failure: String?

    init(configuration: ChannelConfiguration, gates: Bool, seed: UInt64) {
        self.configuration = configuration
        self.withGates = gates
        self.initialScale = configuration.architecture.batchNormInitialScale
        self.rng = RandomGenerator(seed: seed)
        self.c = configuration.input.channels
    }

    private mutating func append(_ layer: Layer) {
        frames[frames.count - 1].append(layer)
        leaves.append(layer)
    }

    /// Runs `make`, recording the first error; later layers are skipped once one failed.
    private mutating func attempt(_ make: (inout NetworkAssembler) throws -> Void) {
        guard failure == nil else { return }
        do { try make(&self) } catch { failure = "\(error)" }
    }

    mutating func conv(_ name: @autoclosure () -> String, out: Int, kernel: Int, stride: Int, padding: Int,
                       depthwise: Bool) {
        let name = name()
        attempt { a in
            let layer = try Conv2d(name: name, inChannels: a.c, outChannels: out, kernelSize: kernel, stride: stride,
                                   padding: padding, groups: depthwise ? a.c : 1, bias: false, rng: &a.rng)
            a.append(layer)
            a.convolutions.append(layer)
            a.c = out
            a.lastConvolution = layer
            if let open = a.openUnit {
                // A depthwise convolution keeps the width channel for channel: it shrinks with it.
                if depthwise { a.units[open].passThrough.append(layer) } else { a.units[open].consumers.append(layer) }
            }
            if !depthwise { a.openUnit = nil }
        }
    }

    mutating func batchNorm(_ name: @autoclosure () -> String) {
        let name = name()
        attempt { a in
            let layer = try BatchNorm2d(name: name, channels: a.c, initialScale: a.initialScale)
            a.append(layer)
            a.batchNorms.append(layer)
            a.lastBatchNorm = layer
            if let open = a.openUnit, a.units[open].passThrough.last === a.lastConvolution {
                a.units[open].passThrough.append(layer)   // the BatchNorm of a depthwise pass-through
            }
        }
    }

    mutating func gate(width index: Int) {
        attempt { a in
            var gate: ChannelGate?
            if a.withGates {
                let layer = try ChannelGate(name: a.configuration.widths[index].name + ".gate", channels: a.c)
                a.append(layer)
                a.gates.append(layer)
                gate = layer
            }
            guard let producer = a.lastConvolution, let batchNorm = a.lastBatchNorm else {
                throw ModelError(field: a.configuration.widths[index].name, expected: "a convolution and BatchNorm before the gate",
                                 got: "none")
            }
            a.units.append(UnitRecord(name: a.configuration.widths[index].name, widthIndex: index, producer: producer,
                                      batchNorm: batchNorm, gate: gate))
            a.openUnit = a.units.count - 1
        }
    }

    mutating func relu(_ name: @autoclosure () -> String, six: Bool) {
        if let open = openUnit, let gate = units[open].gate, leaves.last === gate { units[open].clampsGate = true }
        append(six ? ReLU.relu6(name: name()) : ReLU(name: name()))
    }

    mutating func maxPool(_ name: @autoclosure () -> String, kernel: Int, stride: Int, padding: Int) {
        append(MaxPool2d(name: name(), kernelSize: kernel, stride: stride, padding: padding))
    }

    mutating func globalAveragePool(_ name: @autoclosure () -> String) { append(GlobalAvgPool(name: name())) }

    mutating func linear(_ name: @autoclosure () -> String, out: Int) {
        let name = name()
        attempt { a in
            let layer = try Linear(name: name, inFeatures: a.c, outFeatures: out, bias: true, std: 0.01, rng: &a.rng)
            a.append(layer)
            a.classifier = layer
            a.c = out
            if let open = a.openUnit { a.units[open].consumers.append(layer) }
            a.openUnit = nil
        }
    }

    mutating func beginResidual(_ name: @autoclosure () -> String) {
        residuals.append((name(), nil, c, c))
        residualInputUnits.append(openUnit)
        frames.append([])
    }

    mutating func beginShortcut() {
        openUnit = residualInputUnits.last ?? nil
        let body = frames.removeLast()
        residuals[residuals.count - 1].body = body
        residuals[residuals.count - 1].bodyOutput = c
        c = residuals[residuals.count - 1].input
        frames.append([])
    }

    mutating func endResidual() {
        residualInputUnits.removeLast()
        openUnit = nil            // the sum is a fixed width
        let last = frames.removeLast()
        let residual = residuals.removeLast()
        let block: Residual
        if let body = residual.body {
            block = Residual(name: residual.name, body: Sequential(name: residual.name + ".body", body),
                             shortcut: Sequential(name: residual.name + ".shortcut", last))
            c = residual.bodyOutput
        } else {
            block = Residual(name: residual.name, body: Sequential(name: residual.name + ".body", last))
        }
        frames[frames.count - 1].append(block)
    }
}

/// A prunable unit while the walk is still adding its readers.
struct UnitRecord {
    var name: String
    var widthIndex: Int
    var producer: Conv2d
    var batchNorm: BatchNorm2d
    var gate: ChannelGate?
    var clampsGate = false
    var passThrough: [Layer] = []
    var consumers: [Layer] = []

    func unit() -> PrunableUnit {
        PrunableUnit(name: name, widthIndex: widthIndex, producer: producer, batchNorm: batchNorm, gate: gate,
                     clampsGate: clampsGate, passThrough: passThrough, consumers: consumers)
    }
}
