/// Architecture templates: each architecture is written once, as a walk over its layers in
/// forward order that reads its widths from a ``WidthReader`` and reports every layer to an
/// ``ArchitectureVisitor``. The same walk gives the standard width list (recording reader), the
/// analytic MAC/parameter count, the shape checks of `validate()` and the built network, so the
/// four cannot disagree.

/// Receives a network's layers in forward order. Channel counts flow implicitly: every layer
/// consumes the current (C, H, W) and produces the next; a visitor tracks what it needs.
/// Names are autoclosures so that visitors which do not need them (the MAC fast path) build no strings.
protocol ArchitectureVisitor {
    /// k×k convolution without bias, C_out = `out`. `depthwise`: groups = C_in = C_out (`out` equals C_in).
    mutating func conv(_ name: @autoclosure () -> String, out: Int, kernel: Int, stride: Int, padding: Int,
                       depthwise: Bool)
    /// BatchNorm over the current channels; its γ/β are attributed to the preceding conv.
    mutating func batchNorm(_ name: @autoclosure () -> String)
    /// The gate of the prunable width at `index` of the configuration's widths (after BN, before the non-linearity).
    mutating func gate(width index: Int)
    /// ReLU, or ReLU6 when `six`.
    mutating func relu(_ name: @autoclosure () -> String, six: Bool)
    mutating func maxPool(_ name: @autoclosure () -> String, kernel: Int, stride: Int, padding: Int)
    /// (C, H, W) → (C).
    mutating func globalAveragePool(_ name: @autoclosure () -> String)
    /// Linear with bias, (features) → (out).
    mutating func linear(_ name: @autoclosure () -> String, out: Int)
    /// Starts y = body(x) + shortcut(x); the layers that follow form the body.
    mutating func beginResidual(_ name: @autoclosure () -> String)
    /// The layers that follow (up to `endResidual`) form the shortcut; without this call it is the identity.
    mutating func beginShortcut()
    mutating func endResidual()
}

/// A tie between two widths: a residual add needs `index` to equal `sameAs` (SPEC: widths the
/// template ties cannot be changed independently).
struct WidthTie: Sendable {
    var index: Int
    var sameAs: Int
    var reason: String
}

/// Hands the walk its widths in configuration order: from a configuration, or — when recording —
/// the standard widths the walk proposes, which then become the architecture's layout.
struct WidthReader {
    private let channels: [Int]?
    private(set) var next = 0
    private(set) var recorded: [Width] = []
    private(set) var ties: [WidthTie] = []

    /// Reads the widths of `configuration` (which must have the architecture's layout).
    init(_ configuration: ChannelConfiguration) { channels = configuration.widths.map(\.channels) }
    /// Reads the given channel counts, one per width.
    init(channels: [Int]) { self.channels = channels }
    /// Records the standard layout.
    init() { channels = nil }

    /// The next width: its index in the configuration and its channel count.
    @inline(__always)
    mutating func take(_ name: @autoclosure () -> String, standard: Int, prunable: Bool) -> (index: Int, channels: Int) {
        let index = next
        next += 1
        if let channels { return (index, index < channels.count ? channels[index] : 1) }
        recorded.append(Width(name: name(), channels: standard, prunable: prunable))
        return (index, standard)
    }

    /// Declares that width `index` must equal width `sameAs` (recorded only in recording mode).
    mutating func tie(_ index: Int, to sameAs: Int, reason: @autoclosure () -> String) {
        if channels == nil { ties.append(WidthTie(index: index, sameAs: sameAs, reason: reason())) }
    }
}

/// What a walk needs besides the widths.
struct TemplateContext {
    var architecture: Architecture
    var input: InputShape
    var classes: Int
}

/// Dispatches to the architecture's template.
@inline(__always)
func walkArchitecture<V: ArchitectureVisitor>(_ context: TemplateContext, widths: inout WidthReader, visitor: inout V) {
    switch context.architecture {
    case .vgg11: VGGTemplate.walk(VGGTemplate.vgg11, context, &widths, &visitor)
    case .vgg13: VGGTemplate.walk(VGGTemplate.vgg13, context, &widths, &visitor)
    case .vgg16: VGGTemplate.walk(VGGTemplate.vgg16, context, &widths, &visitor)
    case .vgg19: VGGTemplate.walk(VGGTemplate.vgg19, context, &widths, &visitor)
    case .resnet20: CifarResNetTemplate.walk(depth: 20, context, &widths, &visitor)
    case .resnet32: CifarResNetTemplate.walk(depth: 32, context, &widths, &visitor)
    case .resnet44: CifarResNetTemplate.walk(depth: 44, context, &widths, &visitor)
    case .resnet56: CifarResNetTemplate.walk(depth: 56, context, &widths, &visitor)
    case .resnet110: CifarResNetTemplate.walk(depth: 110, context, &widths, &visitor)
    case .resnet18: ImageNetResNetTemplate.walk(.resnet18, context, &widths, &visitor)
    case .resnet50: ImageNetResNetTemplate.walk(.resnet50, context, &widths, &visitor)
    case .mobilenetv2: MobileNetV2Template.walk(context, &widths, &visitor)
    }
}

/// A visitor that ignores everything (used to record layouts).
struct NullVisitor: ArchitectureVisitor {
    mutating func conv(_ name: @autoclosure () -> String, out: Int, kernel: Int, stride: Int, padding: Int, depthwise: Bool) {}
    mutating func batchNorm(_ name: @autoclosure () -> String) {}
    mutating func gate(width index: Int) {}
    mutating func relu(_ name: @autoclosure () -> String, six: Bool) {}
    mutating func maxPool(_ name: @autoclosure () -> String, kernel: Int, stride: Int, padding: Int) {}
    mutating func globalAveragePool(_ name: @autoclosure () -> String) {}
    mutating func linear(_ name: @autoclosure () -> String, out: Int) {}
    mutating func beginResidual(_ name: @autoclosure () -> String) {}
    mutating func beginShortcut() {}
    mutating func endResidual() {}
}

/// The fixed part of an architecture: its width names, which are prunable, their standard
/// channel counts (width multiplier 1) and the ties between widths. Independent of input and classes.
struct ArchitectureLayout: Sendable {
    var widths: [Width]
    var ties: [WidthTie]
    var prunableCount: Int

    static let all: [Architecture: ArchitectureLayout] = {
        var result: [Architecture: ArchitectureLayout] = [:]
        for architecture in Architecture.allCases {
            var reader = WidthReader()
            var visitor = NullVisitor()
            walkArchitecture(TemplateContext(architecture: architecture, input: .cifar, classes: 10),
                             widths: &reader, visitor: &visitor)
            result[architecture] = ArchitectureLayout(widths: reader.recorded, ties: reader.ties,
                                                      prunableCount: reader.recorded.filter(\.prunable).count)
        }
        return result
    }()

    static func of(_ architecture: Architecture) -> ArchitectureLayout { all[architecture]! }
}
