/// The network families `pfs` can generate from a channel configuration.
///
/// Layouts (every one ends with global average pooling and one `Linear` classifier):
/// - `vgg11`…`vgg19`: the CIFAR VGG of the PyTorch peer — 3×3 conv (padding 1, no bias), BN, ReLU,
///   a 2×2 max-pool per "M" of the standard cfg (the final "M" omitted), at any input size.
/// - `resnet20`…`resnet110`: CIFAR ResNets — 3×3 stem of 16, three stages of (depth − 2)/6 basic
///   blocks (16, 32, 64 channels, stride 2 at the first block of stages 2 and 3), 1×1-conv + BN
///   projection shortcut where the stride is not 1 or the width changes.
/// - `resnet18`, `resnet50`: the torchvision layout (7×7/2 stem, 3×3/2 max-pool, stages of
///   64-128-256-512 basic blocks or bottlenecks of expansion 4 with the stride on the 3×3, "v1.5").
///   The same layout is used for small inputs (a 32×32 image reaches the last stage at 1×1).
/// - `mobilenetv2`: the torchvision layout (3×3/2 stem of 32, inverted residual settings
///   (t, c, n, s) = (1,16,1,1), (6,24,2,2), (6,32,3,2), (6,64,4,2), (6,96,3,1), (6,160,3,2),
///   (6,320,1,1), 1×1 head of 1280, ReLU6, no dropout). For inputs of at most 64×64 pixels
///   (CIFAR) the common CIFAR variant is used: stem stride 1 and stride 1 in the second setting.
public enum Architecture: String, CaseIterable, Codable, Sendable {
    case vgg11, vgg13, vgg16, vgg19
    case resnet20, resnet32, resnet44, resnet56, resnet110
    case resnet18, resnet50
    case mobilenetv2

    /// Which template generates the architecture.
    public enum Family: String, Sendable {
        case vgg, cifarResNet, imageNetResNet, mobileNetV2
    }

    public var family: Family {
        switch self {
        case .vgg11, .vgg13, .vgg16, .vgg19: return .vgg
        case .resnet20, .resnet32, .resnet44, .resnet56, .resnet110: return .cifarResNet
        case .resnet18, .resnet50: return .imageNetResNet
        case .mobilenetv2: return .mobileNetV2
        }
    }

    /// Initial BatchNorm scale γ (SPEC §3): 0.5 for VGG (the Network-Slimming convention), else 1.
    public var batchNormInitialScale: Float { family == .vgg ? 0.5 : 1 }

    /// Decodes the raw name; an unknown name throws a ``ModelError`` that lists the known ones.
    public init(from decoder: Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        guard let value = Architecture(rawValue: raw) else {
            throw ModelError(field: "architecture",
                             expected: "one of " + Architecture.allCases.map(\.rawValue).joined(separator: ", "),
                             got: "\"\(raw)\"")
        }
        self = value
    }
}

/// The shape of one input image, (C, H, W).
public struct InputShape: Codable, Equatable, Sendable, CustomStringConvertible {
    public var channels: Int
    public var height: Int
    public var width: Int

    public init(channels: Int, height: Int, width: Int) {
        self.channels = channels
        self.height = height
        self.width = width
    }

    /// 3×32×32 (CIFAR-10/100).
    public static let cifar = InputShape(channels: 3, height: 32, width: 32)
    /// 3×224×224 (ImageNet).
    public static let imagenet = InputShape(channels: 3, height: 224, width: 224)

    /// `3×32×32`.
    public var description: String { "\(channels)×\(height)×\(width)" }
}
