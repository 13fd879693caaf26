import PFSNN
import PFSTensor

/// A network built from a ``ChannelConfiguration``: a real network of exactly the configured
/// widths (a pruned configuration gives a smaller network, not a masked one).
///
/// Input (N, C, H, W) with (C, H, W) = `configuration.input` → logits (N, classes). Forward and
/// backward delegate to ``body``.
public final class Network: Layer {
    public let configuration: ChannelConfiguration
    /// The architecture's name, e.g. `resnet20`.
    public let name: String
    /// The layers, as one `Sequential` (residual blocks as `Residual`).
    public let body: Layer
    /// One gate per prunable width, in configuration order; empty when built without gates.
    public let gates: [ChannelGate]
    /// Every BatchNorm in forward order (a block's shortcut BN after its body's), unique names.
    public let batchNorms: [BatchNorm2d]
    /// Every convolution in forward order (shortcut convs after their block's body).
    public let convolutions: [Conv2d]
    /// The final `Linear` layer.
    public let classifier: Linear
    /// Every leaf layer (no containers) in forward order, shortcut layers after their block's body.
    public let layers: [Layer]
    /// The topology of every prunable width, in configuration order (one per gate position of
    /// SPEC §2, also when the network was built without gates): criteria read weights through it
    /// instead of re-deriving which layer produces or reads a width.
    public let prunableUnits: [PrunableUnit]
    private let allParameters: [Parameter]

    init(configuration: ChannelConfiguration, body: Layer, gates: [ChannelGate], batchNorms: [BatchNorm2d],
         convolutions: [Conv2d], classifier: Linear, layers: [Layer], prunableUnits: [PrunableUnit]) {
        self.configuration = configuration
        self.name = configuration.architecture.rawValue
        self.body = body
        self.gates = gates
        self.batchNorms = batchNorms
        self.convolutions = convolutions
        self.classifier = classifier
        self.layers = layers
        self.prunableUnits = prunableUnits
        self.allParameters = body.parameters
    }

    /// Every parameter (weights, BN γ/β, biases and gates), unique names such as
    /// `stage1.block1.conv1.weight`, `stage1.block1.bn1.weight`, `stage1.block1.conv1.gate.gate`.
    public var parameters: [Parameter] { allParameters }

    /// When `false`, the first layer (the stem convolution) computes no input gradient.
    public var computesInputGradient: Bool {
        get { body.computesInputGradient }
        set { body.computesInputGradient = newValue }
    }

    /// Whether each forward pass first tells the convolutions around every gate at exactly 0
    /// which channels they may skip (``refreshClosedGateSkips()``); off by default, on while
    /// learning gates. The result is the same up to float rounding (the skipped terms are exact
    /// zeros), the work smaller by the closed fraction of the gated convolutions' inputs and input
    /// gradients.
    public var skipsClosedGates = false {
        didSet { if !skipsClosedGates { clearClosedGateSkips() } }
    }

    /// (N, C, H, W) → (N, classes).
    public func forward(_ input: Tensor, mode: Mode) throws(EngineError) -> Tensor {
        if skipsClosedGates { refreshClosedGateSkips() }
        return try body.forward(input, mode: mode)
    }

    /// From the gates' current values: a closed channel (gate exactly 0) of a width has dY = 0 at
    /// its producer (BatchNorm's gradient there is scaled by the gate), so the producer's input
    /// gradient leaves it out; when a clamp follows the gate and nothing passes the width through,
    /// the channel is also exactly 0 where the consuming convolutions read it and its gradient is
    /// masked by the clamp, so they skip it in the forward pass and in their input gradient.
    public func refreshClosedGateSkips() {
        for unit in prunableUnits {
            guard let gate = unit.gate else { continue }
            let values = gate.gate.value.scalars
            let open = values.indices.filter { values[$0] != 0 }
            let live = open.count == values.count ? nil : open
            unit.producer.liveGradientChannels = live
            guard unit.clampsGate && unit.passThrough.isEmpty else { continue }
            for case let consumer as Conv2d in unit.consumers { consumer.liveInputChannels = live }
        }
    }

    private func clearClosedGateSkips() {
        for conv in convolutions {
            conv.liveInputChannels = nil
            conv.liveGradientChannels = nil
        }
    }

    public func backward(_ gradOutput: Tensor) throws(EngineError) -> Tensor? {
        try body.backward(gradOutput)
    }

    /// MACs per image measured by the convolutions and the classifier during the last forward
    /// pass (0 before any); equals ``ComplexityCounter/totalMACs(_:)`` at the configured input size.
    public var measuredMACsPerImage: Int {
        convolutions.reduce(0) { $0 + $1.lastForwardMACsPerImage } + classifier.lastForwardMACsPerImage
    }
}

/// One prunable width of a built network (a gate position of SPEC §2) and the layers around it.
///
/// For a width of C channels: `producer` is the convolution whose C output channels it is (weight
/// (C, C_in/groups, kH, kW)); `batchNorm` normalises them (γ, β of shape (C)); `gate`, when the
/// network was built with gates, multiplies them after the BatchNorm; `passThrough` lists layers
/// that keep the width channel for channel and shrink with it (MobileNetV2's depthwise convolution
/// and its BatchNorm); `consumers` read the width as their input channels (the next convolutions,
/// or the classifier `Linear`).
public struct PrunableUnit {
    /// The width's name in the configuration, e.g. `stage2.block1.conv1` or `conv7`.
    public let name: String
    /// Index of the width in ``ChannelConfiguration/widths``.
    public let widthIndex: Int
    public let producer: Conv2d
    public let batchNorm: BatchNorm2d
    public let gate: ChannelGate?
    /// Whether a ReLU (or ReLU6) directly follows the gate, so that a gate at exactly 0 gives
    /// channels of exactly 0 whose gradient nothing reads (the clamp's mask is 0 there).
    public let clampsGate: Bool
    public let passThrough: [Layer]
    public let consumers: [Layer]

    /// Channels of the width.
    public var channels: Int { producer.outChannels }
}
