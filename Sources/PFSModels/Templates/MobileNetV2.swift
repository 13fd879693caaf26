/// MobileNetV2 in the torchvision layout without dropout: 3×3 stem conv (32, stride 2) → BN →
/// [gate] → ReLU6; 17 inverted residual blocks from the settings (t, c, n, s); 1×1 head conv
/// (1280) → BN → [gate] → ReLU6; global average pooling; `Linear(head, classes)`.
///
/// An inverted residual block: [1×1 expansion conv → BN → [gate] → ReLU6, when t ≠ 1] → 3×3
/// depthwise conv (stride) → BN → ReLU6 → 1×1 projection conv → BN (linear bottleneck); the input
/// is added when the standard block has stride 1 and equal input/output widths (every block but
/// the first of its setting), and those widths are then tied.
///
/// Inputs of at most 64×64 pixels use the CIFAR variant: stem stride 1 and stride 1 in the second
/// setting (24 channels), so a 32×32 image reaches the head at 4×4.
///
/// Widths, in order: `stem` (prunable; the first block's depthwise conv shrinks with it), then per
/// block `blockK.expand` (prunable, absent in block 1 where t = 1; the block's depthwise conv
/// shrinks with it) and `blockK.out` (fixed), then `head` (prunable).
enum MobileNetV2Template {
    /// (expansion t, output channels c, blocks n, stride s of the first block).
    static let settings: [(t: Int, c: Int, n: Int, s: Int)] = [
        (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
    ]

    /// Whether `input` gets the CIFAR variant's strides (both sides at most 64 pixels).
    static func usesCifarStrides(_ input: InputShape) -> Bool { input.height <= 64 && input.width <= 64 }

    static func walk<V: ArchitectureVisitor>(_ context: TemplateContext, _ widths: inout WidthReader, _ v: inout V) {
        let cifar = usesCifarStrides(context.input)
        let stem = widths.take("stem", standard: 32, prunable: true)
        v.conv("stem.conv", out: stem.channels, kernel: 3, stride: cifar ? 1 : 2, padding: 1, depthwise: false)
        v.batchNorm("stem.bn")
        v.gate(width: stem.index)
        v.relu("stem.relu", six: true)
        var channels = stem.channels, channelsIndex = stem.index, standardChannels = 32
        var k = 0
        for (group, setting) in settings.enumerated() {
            for i in 0..<setting.n {
                k += 1
                let stride = i > 0 || (cifar && group == 1) ? 1 : setting.s
                let expand = setting.t == 1 ? nil
                    : widths.take("block\(k).expand", standard: standardChannels * setting.t, prunable: true)
                let out = widths.take("block\(k).out", standard: setting.c, prunable: false)
                let residual = i > 0
                if residual {
                    widths.tie(out.index, to: channelsIndex, reason: "block\(k) adds its input to its output")
                    v.beginResidual("block\(k)")
                }
                var hidden = channels
                if let expand {
                    v.conv("block\(k).expand.conv", out: expand.channels, kernel: 1, stride: 1, padding: 0, depthwise: false)
                    v.batchNorm("block\(k).expand.bn")
                    v.gate(width: expand.index)
                    v.relu("block\(k).expand.relu", six: true)
                    hidden = expand.channels
                }
                v.conv("block\(k).depthwise.conv", out: hidden, kernel: 3, stride: stride, padding: 1, depthwise: true)
                v.batchNorm("block\(k).depthwise.bn")
                v.relu("block\(k).depthwise.relu", six: true)
                v.conv("block\(k).project.conv", out: out.channels, kernel: 1, stride: 1, padding: 0, depthwise: false)
                v.batchNorm("block\(k).project.bn")
                if residual { v.endResidual() }
                channels = out.channels
                channelsIndex = out.index
                standardChannels = setting.c
            }
        }
        let head = widths.take("head", standard: 1280, prunable: true)
        v.conv("head.conv", out: head.channels, kernel: 1, stride: 1, padding: 0, depthwise: false)
        v.batchNorm("head.bn")
        v.gate(width: head.index)
        v.relu("head.relu", six: true)
        v.globalAveragePool("gap")
        v.linear("fc", out: context.classes)
    }
}
