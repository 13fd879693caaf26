/// CIFAR ResNet-(6n+2) with basic blocks, as the PyTorch peer defines it: 3×3 stem conv → BN →
/// ReLU, three stages of n basic blocks (stride 2 at the first block of stages 2 and 3), global
/// average pooling, `Linear(C_stage3, classes)`.
///
/// Widths, in order: `stage1` (fixed; also the stem's width, tied by stage 1's identity shortcuts),
/// `stage1.block1.conv1` … `stage1.blockN.conv1` (prunable middle widths), `stage2`, its blocks,
/// `stage3`, its blocks. Standard: 16, 32, 64.
enum CifarResNetTemplate {
    static func walk<V: ArchitectureVisitor>(depth: Int, _ context: TemplateContext, _ widths: inout WidthReader,
                                             _ v: inout V) {
        let n = (depth - 2) / 6
        let stage1 = widths.take("stage1", standard: 16, prunable: false).channels
        v.conv("stem.conv", out: stage1, kernel: 3, stride: 1, padding: 1, depthwise: false)
        v.batchNorm("stem.bn")
        v.relu("stem.relu", six: false)
        var channels = stage1
        for stage in 1...3 {
            let standard = 16 << (stage - 1)
            let out = stage == 1 ? stage1 : widths.take("stage\(stage)", standard: standard, prunable: false).channels
            for block in 1...n {
                ResNetBlocks.basic(stage: stage, block: block, in: channels, out: out,
                                   stride: stage > 1 && block == 1 ? 2 : 1, middleStandard: standard, &widths, &v)
                channels = out
            }
        }
        v.globalAveragePool("gap")
        v.linear("fc", out: context.classes)
    }
}

/// Residual blocks shared by the CIFAR and the ImageNet ResNets. A shortcut is the identity
/// unless the stride is not 1 or the width changes; then it is a 1×1 conv (with the stride) + BN.
enum ResNetBlocks {
    /// Basic block: 3×3 conv (stride) → BN → [gate] → ReLU → 3×3 conv → BN, + shortcut, ReLU.
    /// Reads one prunable width, `stageS.blockB.conv1`.
    static func basic<V: ArchitectureVisitor>(stage s: Int, block b: Int, in input: Int, out: Int, stride: Int,
                                              middleStandard: Int, _ widths: inout WidthReader, _ v: inout V) {
        let middle = widths.take("stage\(s).block\(b).conv1", standard: middleStandard, prunable: true)
        v.beginResidual("stage\(s).block\(b)")
        v.conv("stage\(s).block\(b).conv1", out: middle.channels, kernel: 3, stride: stride, padding: 1, depthwise: false)
        v.batchNorm("stage\(s).block\(b).bn1")
        v.gate(width: middle.index)
        v.relu("stage\(s).block\(b).relu1", six: false)
        v.conv("stage\(s).block\(b).conv2", out: out, kernel: 3, stride: 1, padding: 1, depthwise: false)
        v.batchNorm("stage\(s).block\(b).bn2")
        shortcut(stage: s, block: b, in: input, out: out, stride: stride, &v)
        v.endResidual()
        v.relu("stage\(s).block\(b).relu", six: false)
    }

    /// Bottleneck (torchvision v1.5, stride on the 3×3): 1×1 conv → BN → [gate] → ReLU → 3×3 conv
    /// (stride) → BN → [gate] → ReLU → 1×1 conv → BN, + shortcut, ReLU. Reads two prunable widths,
    /// `stageS.blockB.conv1` and `stageS.blockB.conv2`.
    static func bottleneck<V: ArchitectureVisitor>(stage s: Int, block b: Int, in input: Int, out: Int, stride: Int,
                                                   middleStandard: Int, _ widths: inout WidthReader, _ v: inout V) {
        let first = widths.take("stage\(s).block\(b).conv1", standard: middleStandard, prunable: true)
        let second = widths.take("stage\(s).block\(b).conv2", standard: middleStandard, prunable: true)
        v.beginResidual("stage\(s).block\(b)")
        v.conv("stage\(s).block\(b).conv1", out: first.channels, kernel: 1, stride: 1, padding: 0, depthwise: false)
        v.batchNorm("stage\(s).block\(b).bn1")
        v.gate(width: first.index)
        v.relu("stage\(s).block\(b).relu1", six: false)
        v.conv("stage\(s).block\(b).conv2", out: second.channels, kernel: 3, stride: stride, padding: 1, depthwise: false)
        v.batchNorm("stage\(s).block\(b).bn2")
        v.gate(width: second.index)
        v.relu("stage\(s).block\(b).relu2", six: false)
        v.conv("stage\(s).block\(b).conv3", out: out, kernel: 1, stride: 1, padding: 0, depthwise: false)
        v.batchNorm("stage\(s).block\(b).bn3")
        shortcut(stage: s, block: b, in: input, out: out, stride: stride, &v)
        v.endResidual()
        v.relu("stage\(s).block\(b).relu", six: false)
    }

    @inline(__always)
    static func shortcut<V: ArchitectureVisitor>(stage s: Int, block b: Int, in input: Int, out: Int, stride: Int,
                                                 _ v: inout V) {
        guard stride != 1 || input != out else { return }
        v.beginShortcut()
        v.conv("stage\(s).block\(b).shortcut.conv", out: out, kernel: 1, stride: stride, padding: 0, depthwise: false)
        v.batchNorm("stage\(s).block\(b).shortcut.bn")
    }
}
