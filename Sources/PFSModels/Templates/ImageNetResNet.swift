/// ResNet-18 / ResNet-50 in the torchvision layout: 7×7/2 stem conv (64) → BN → ReLU → 3×3/2
/// max-pool (padding 1), four stages (64, 128, 256, 512 planes; stride 2 at the first block of
/// stages 2–4) of basic blocks (ResNet-18: 2-2-2-2) or bottlenecks of expansion 4 with the stride
/// on the 3×3 (ResNet-50: 3-4-6-3, "v1.5"), global average pooling, `Linear(C_stage4, classes)`.
/// Small inputs keep the same layout (a 32×32 image is 8×8 after the stem and 1×1 in stage 4).
///
/// Widths, in order — ResNet-18: `stage1` (fixed, also the stem's width, tied by identity
/// shortcuts), then per block `stageS.blockB.conv1` (prunable), `stage2`, …; ResNet-50: `stem`
/// (fixed), `stage1` (fixed block output, 256), then per block `stageS.blockB.conv1` and
/// `stageS.blockB.conv2` (prunable), `stage2`, ….
enum ImageNetResNetTemplate {
    enum Variant { case resnet18, resnet50 }

    /// Blocks per stage.
    static let blocksResNet18 = [2, 2, 2, 2]
    static let blocksResNet50 = [3, 4, 6, 3]

    static func walk<V: ArchitectureVisitor>(_ variant: Variant, _ context: TemplateContext,
                                             _ widths: inout WidthReader, _ v: inout V) {
        let bottleneck = variant == .resnet50
        let blocks = bottleneck ? blocksResNet50 : blocksResNet18
        // ResNet-18: stage 1 keeps the stem's width (identity shortcuts), so one width serves both.
        let stem = widths.take(bottleneck ? "stem" : "stage1", standard: 64, prunable: false).channels
        v.conv("stem.conv", out: stem, kernel: 7, stride: 2, padding: 3, depthwise: false)
        v.batchNorm("stem.bn")
        v.relu("stem.relu", six: false)
        v.maxPool("stem.pool", kernel: 3, stride: 2, padding: 1)
        var channels = stem
        for stage in 1...4 {
            let planes = 64 << (stage - 1)
            let count = blocks[stage - 1]
            let out: Int
            if stage == 1 && !bottleneck {
                out = stem
            } else {
                out = widths.take("stage\(stage)", standard: bottleneck ? 4 * planes : planes, prunable: false).channels
            }
            for block in 1...count {
                let stride = stage > 1 && block == 1 ? 2 : 1
                if bottleneck {
                    ResNetBlocks.bottleneck(stage: stage, block: block, in: channels, out: out, stride: stride,
                                            middleStandard: planes, &widths, &v)
                } else {
                    ResNetBlocks.basic(stage: stage, block: block, in: channels, out: out, stride: stride,
                                       middleStandard: planes, &widths, &v)
                }
                channels = out
            }
        }
        v.globalAveragePool("gap")
        v.linear("fc", out: context.classes)
    }
}
