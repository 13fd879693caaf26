import Foundation
import PFSModels
import Testing

/// Analytic MAC and parameter counts (SPEC §5) against exact reference figures.
///
/// How the figures were verified: every value below was reproduced by an independent PyTorch
/// definition (torch 2.13.0+cpu; CIFAR VGG/ResNet as the peer `torch_cifar.py` builds them, ResNet-18/50
/// and MobileNetV2 written out in the torchvision layout) counted with forward hooks exactly like
/// the peer's `macs()`: conv k_h·k_w·(C_in/groups)·C_out·H_out·W_out, linear in·out; params =
/// `sum(p.numel())` (BN γ/β and biases included). The CIFAR figures of VGG-16 and ResNet-20/56/110
/// are the SPEC's; the 224×224, 1000-class figures of ResNet-18 (11,689,512 params), ResNet-50
/// (25,557,032) and MobileNetV2 (3,504,872) are torchvision's published parameter counts.
@Suite struct ComplexityTests {
    struct Figure: CustomTestStringConvertible, Sendable {
        var architecture: Architecture
        var input: InputShape
        var classes: Int
        var macs: Int
        var params: Int
        var testDescription: String { "\(architecture.rawValue) \(input.description) \(classes) classes" }
    }

    static let standardFigures: [Figure] = [
        Figure(architecture: .vgg11, input: .cifar, classes: 10, macs: 152_769_536, params: 9_228_362),
        Figure(architecture: .vgg13, input: .cifar, classes: 10, macs: 228_267_008, params: 9_413_066),
        Figure(architecture: .vgg16, input: .cifar, classes: 10, macs: 313_201_664, params: 14_724_042),
        Figure(architecture: .vgg19, input: .cifar, classes: 10, macs: 398_136_320, params: 20_035_018),
        Figure(architecture: .resnet20, input: .cifar, classes: 10, macs: 40_813_184, params: 272_474),
        Figure(architecture: .resnet32, input: .cifar, classes: 10, macs: 69_124_736, params: 466_906),
        Figure(architecture: .resnet44, input: .cifar, classes: 10, macs: 97_436_288, params: 661_338),
        Figure(architecture: .resnet56, input: .cifar, classes: 10, macs: 125_747_840, params: 855_770),
        Figure(architecture: .resnet110, input: .cifar, classes: 10, macs: 253_149_824, params: 1_730_714),
        Figure(architecture: .resnet18, input: .imagenet, classes: 1000, macs: 1_814_073_344, params: 11_689_512),
        Figure(architecture: .resnet50, input: .imagenet, classes: 1000, macs: 4_089_184_256, params: 25_557_032),
        Figure(architecture: .mobilenetv2, input: .imagenet, classes: 1000, macs: 300_774_272, params: 3_504_872),
        // Small inputs: ResNet-18/50 keep the torchvision layout, MobileNetV2 uses the CIFAR strides.
        Figure(architecture: .resnet18, input: .cifar, classes: 10, macs: 37_016_576, params: 11_181_642),
        Figure(architecture: .resnet50, input: .cifar, classes: 10, macs: 83_431_424, params: 23_528_522),
        Figure(architecture: .mobilenetv2, input: .cifar, classes: 10, macs: 87_976_448, params: 2_236_682),
    ]

    @Test(arguments: standardFigures)
    func standardNetworksHaveTheReferenceCounts(_ figure: Figure) throws {
        let configuration = try ChannelConfiguration.standard(figure.architecture, input: figure.input,
                                                              classes: figure.classes)
        let complexity = ComplexityCounter.count(configuration)
        #expect(complexity.totalMACs == figure.macs)
        #expect(complexity.totalParams == figure.params)
        #expect(ComplexityCounter.totalMACs(configuration) == figure.macs)
        #expect(ComplexityCounter.totalParams(configuration) == figure.params)
        #expect(complexity.layers.reduce(0) { $0 + $1.macs } == figure.macs)
        #expect(complexity.layers.reduce(0) { $0 + $1.params } == figure.params)
    }

    /// Pruned configurations (random widths drawn with Python's `random.Random(2024)`), counted by
    /// the independent PyTorch models with the same widths.
    struct Pruned: CustomTestStringConvertible, Sendable {
        var architecture: Architecture
        var input: InputShape
        var classes: Int
        var prunable: [Int]
        var macs: Int
        var params: Int
        var testDescription: String { "pruned \(architecture.rawValue) \(input.description)" }
    }

    static let mobileNetV2Pruned = [3, 85, 65, 135, 26, 127, 56, 101, 199, 91, 264, 229, 328, 364, 769, 720, 913, 1186]

    static let prunedFigures: [Pruned] = [
        Pruned(architecture: .vgg16, input: .cifar, classes: 10,
               prunable: [61, 24, 78, 52, 210, 136, 126, 511, 363, 426, 224, 317, 339],
               macs: 129_561_738, params: 6_692_561),
        Pruned(architecture: .resnet20, input: .cifar, classes: 10, prunable: [3, 7, 15, 10, 14, 27, 8, 45, 54],
               macs: 22_971_008, params: 161_000),
        Pruned(architecture: .resnet110, input: .cifar, classes: 10,
               prunable: [15, 4, 5, 11, 13, 11, 12, 7, 11, 14, 14, 11, 7, 14, 8, 7, 2, 8,
                          2, 17, 21, 27, 8, 22, 15, 16, 30, 24, 9, 13, 24, 32, 10, 17, 25, 22,
                          43, 60, 22, 17, 43, 27, 9, 13, 23, 1, 20, 57, 31, 45, 30, 11, 26, 37],
               macs: 138_373_760, params: 833_048),
        Pruned(architecture: .mobilenetv2, input: .cifar, classes: 10, prunable: mobileNetV2Pruned,
               macs: 54_268_212, params: 1_691_458),
        Pruned(architecture: .mobilenetv2, input: .imagenet, classes: 1000, prunable: mobileNetV2Pruned,
               macs: 181_608_606, params: 2_866_588),
        Pruned(architecture: .resnet50, input: .imagenet, classes: 1000,
               prunable: [49, 10, 16, 30, 8, 17, 54, 23, 45, 61, 125, 43, 42, 23, 65, 54, 16, 56, 93, 162, 1, 63,
                          144, 15, 94, 32, 107, 216, 213, 195, 473, 191],
               macs: 1_282_598_810, params: 10_342_167),
    ]

    @Test(arguments: prunedFigures)
    func prunedConfigurationsMatchThePyTorchPeer(_ figure: Pruned) throws {
        let configuration = try ChannelConfiguration.standard(figure.architecture, input: figure.input,
                                                              classes: figure.classes)
            .withPrunableWidths(figure.prunable)
        let complexity = ComplexityCounter.count(configuration)
        #expect(complexity.totalMACs == figure.macs)
        #expect(complexity.totalParams == figure.params)
        #expect(ComplexityCounter.totalMACs(configuration) == figure.macs)
    }

    @Test func layerRecordsNameShapesAndKinds() throws {
        let complexity = ComplexityCounter.count(try .standard(.resnet20))
        let first = try #require(complexity.layers.first)
        #expect(first == LayerCost(name: "stem.conv", kind: "conv", inputShape: [3, 32, 32], outputShape: [16, 32, 32],
                                   macs: 27 * 16 * 1024, params: 27 * 16 + 32))
        let shortcut = try #require(complexity.layers.first { $0.name == "stage2.block1.shortcut.conv" })
        #expect(shortcut.inputShape == [16, 32, 32] && shortcut.outputShape == [32, 16, 16])
        #expect(shortcut.macs == 16 * 32 * 256 && shortcut.params == 16 * 32 + 64)
        #expect(complexity.layers.last == LayerCost(name: "fc", kind: "linear", inputShape: [64], outputShape: [10],
                                                    macs: 640, params: 650))
        // 1 stem + 9 blocks × 2 convs + 2 shortcuts + fc.
        #expect(complexity.layers.count == 1 + 18 + 2 + 1)

        let mobile = ComplexityCounter.count(try .standard(.mobilenetv2, input: .imagenet, classes: 1000))
        let depthwise = try #require(mobile.layers.first { $0.name == "block2.depthwise.conv" })
        #expect(depthwise.kind == "depthwise")
        #expect(depthwise.inputShape == [96, 112, 112] && depthwise.outputShape == [96, 56, 56])
        #expect(depthwise.macs == 9 * 96 * 56 * 56 && depthwise.params == 9 * 96 + 2 * 96)
    }

    @Test func tableIsAlignedWithSeparatorsAndStatesTheUnit() throws {
        let table = ComplexityCounter.count(try .standard(.resnet20)).table()
        let lines = table.split(separator: "\n").map(String.init)
        #expect(lines[0].contains("MACs (1 MAC = multiply + add)"))
        #expect(lines[1].hasPrefix("layer") && lines[1].contains("params"))
        let total = try #require(lines.last)
        #expect(total.hasPrefix("total") && total.contains("40,813,184") && total.hasSuffix("272,474"))
        #expect(table.contains("stage3.block3.conv2"))
        // Numbers are right-aligned: every data row ends at the same column.
        let rows = lines.dropFirst(3).filter { !$0.hasPrefix("-") }
        #expect(Set(rows.map(\.count)).count == 1)
    }

    @Test func widthMultiplierScalesEveryWidth() throws {
        let wide = try ChannelConfiguration.standard(.resnet20, widthMultiplier: 5)
        #expect(wide.widths.first == Width(name: "stage1", channels: 80, prunable: false))
        #expect(wide.widths.first { $0.name == "stage3" }?.channels == 320)
        #expect(Set(wide.prunableWidths) == [80, 160, 320])
        // Conv MACs grow with the square of the width, the stem and classifier linearly.
        let base = try ChannelConfiguration.standard(.resnet20)
        #expect(ComplexityCounter.totalMACs(wide) > 24 * ComplexityCounter.totalMACs(base))
    }

}
