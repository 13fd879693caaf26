/// CIFAR VGG, as the PyTorch peer defines it: for every entry of the cfg a 3×3 conv (padding 1,
/// no bias) → BN → [gate] → ReLU, a 2×2/2 max-pool for every "M" (the final "M" of the classic
/// cfg omitted), then global average pooling and `Linear(C_last, classes)` with bias.
///
/// Widths: `conv1` … `convK`, all prunable (SPEC §2: every conv output of VGG).
enum VGGTemplate {
    /// Standard widths; 0 marks a 2×2 max-pool ("M").
    static let vgg11 = [64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512]
    static let vgg13 = [64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512]
    static let vgg16 = [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512]
    static let vgg19 = [64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512]

    static func walk<V: ArchitectureVisitor>(_ cfg: [Int], _ context: TemplateContext, _ widths: inout WidthReader,
                                             _ v: inout V) {
        var conv = 0, pool = 0
        for entry in cfg {
            if entry == 0 {
                pool += 1
                v.maxPool("pool\(pool)", kernel: 2, stride: 2, padding: 0)
                continue
            }
            conv += 1
            let width = widths.take("conv\(conv)", standard: entry, prunable: true)
            v.conv("conv\(conv)", out: width.channels, kernel: 3, stride: 1, padding: 1, depthwise: false)
            v.batchNorm("bn\(conv)")
            v.gate(width: width.index)
            v.relu("relu\(conv)", six: false)
        }
        v.globalAveragePool("gap")
        v.linear("fc", out: context.classes)
    }
}
