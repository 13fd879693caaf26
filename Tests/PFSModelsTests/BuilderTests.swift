import PFSModels
import PFSNN
import PFSTensor
import Testing

/// Networks built from configurations: real layers of exactly the configured widths.
@Suite struct BuilderTests {
    func noise(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        return Tensor.randomNormal(shape, using: &rng)
    }

    static let architectures: [Architecture] = [.vgg11, .vgg16, .resnet20, .resnet56, .resnet18, .resnet50, .mobilenetv2]

    @Test(arguments: architectures)
    func builtNetworksDoTheCountedMACsAndHoldTheCountedParameters(_ architecture: Architecture) throws {
        let configuration = try ChannelConfiguration.standard(architecture, widthMultiplier: 0.5)
        let network = try ModelBuilder.build(configuration, seed: 1)
        let input = noise([2, 3, 32, 32], seed: 5)
        let logits = try network.forward(input, mode: .evaluation)
        #expect(logits.shape == [2, 10])
        #expect(network.measuredMACsPerImage == ComplexityCounter.totalMACs(configuration))
        #expect(network.parameterCount == ComplexityCounter.totalParams(configuration))
    }

    @Test func aPrunedConfigurationBuildsASmallerRealNetwork() throws {
        let standard = try ChannelConfiguration.standard(.resnet20)
        let widths = standard.prunableWidths.enumerated().map { max(1, $0.element / ($0.offset % 3 + 1)) }
        let pruned = try standard.withPrunableWidths(widths)
        let network = try ModelBuilder.build(pruned, gates: true, seed: 2)
        _ = try network.forward(noise([1, 3, 32, 32], seed: 1), mode: .training)
        #expect(network.measuredMACsPerImage == ComplexityCounter.totalMACs(pruned))
        #expect(network.measuredMACsPerImage < ComplexityCounter.totalMACs(standard))
        #expect(network.gates.map(\.channels) == widths)
        let convs = network.convolutions.filter { $0.name.hasSuffix("conv1") && $0.name.hasPrefix("stage") }
        #expect(convs.map { $0.weight.value.shape[0] } == widths)
    }

    @Test func theSameSeedGivesTheSameWeightsAndAnotherSeedOthers() throws {
        let configuration = try ChannelConfiguration.standard(.vgg11, widthMultiplier: 0.25)
        let a = try ModelBuilder.build(configuration, seed: 4), b = try ModelBuilder.build(configuration, seed: 4)
        let c = try ModelBuilder.build(configuration, seed: 5)
        #expect(a.parameters.map(\.value) == b.parameters.map(\.value))
        #expect(a.parameters[0].value != c.parameters[0].value)
        // VGG: BatchNorm γ starts at 0.5 (SPEC §3).
        #expect(a.batchNorms[0].gamma.value.scalars.allSatisfy { $0 == 0.5 })
    }

    /// Every prunable width knows the convolution that produces it, its BatchNorm and gate, the
    /// layers that shrink with it and those that read it, with matching channel counts.
    @Test(arguments: architectures)
    func prunableUnitsRecordProducerBatchNormGateAndConsumers(_ architecture: Architecture) throws {
        let standard = try ChannelConfiguration.standard(architecture, widthMultiplier: 0.25)
        var rng = RandomGenerator(seed: 9)
        let widths = standard.prunableWidths.map { max(1, $0 - rng.int(below: max(1, $0 / 2))) }
        let configuration = try standard.withPrunableWidths(widths)
        for gated in [false, true] {
            let network = try ModelBuilder.build(configuration, gates: gated, seed: 1)
            let units = network.prunableUnits
            #expect(units.map(\.name) == configuration.prunableNames)
            #expect(units.map(\.channels) == widths)
            for unit in units {
                #expect(configuration.widths[unit.widthIndex].name == unit.name)
                #expect(unit.batchNorm.channels == unit.channels, "\(unit.name)")
                #expect((unit.gate != nil) == gated)
                if let gate = unit.gate { #expect(gate.channels == unit.channels && gate.name == unit.name + ".gate") }
                #expect(!unit.consumers.isEmpty, "\(unit.name) has no consumer")
                for consumer in unit.consumers {
                    if let conv = consumer as? Conv2d {
                        #expect(conv.inChannels == unit.channels && conv.groups == 1, "\(unit.name) → \(conv.name)")
                    } else if let linear = consumer as? Linear {
                        #expect(linear.inFeatures == unit.channels, "\(unit.name) → \(linear.name)")
                    } else {
                        Issue.record("\(unit.name): unexpected consumer \(type(of: consumer))")
                    }
                }
                for layer in unit.passThrough {
                    if let conv = layer as? Conv2d {
                        #expect(conv.groups == unit.channels && conv.outChannels == unit.channels)
                    } else if let bn = layer as? BatchNorm2d {
                        #expect(bn.channels == unit.channels)
                    }
                }
            }
            #expect(Set(units.map { ObjectIdentifier($0.producer) }).count == units.count)
        }
    }

    @Test func topologyOfKnownLayouts() throws {
        let resnet = try ModelBuilder.build(try ChannelConfiguration.standard(.resnet20), seed: 1)
        let first = resnet.prunableUnits[0]
        #expect(first.producer.name == "stage1.block1.conv1" && first.batchNorm.name == "stage1.block1.bn1")
        #expect(first.consumers.map { ($0 as? Conv2d)?.name } == ["stage1.block1.conv2"])
        let vgg = try ModelBuilder.build(try ChannelConfiguration.standard(.vgg16), seed: 1)
        #expect(vgg.prunableUnits.last?.consumers.map { ($0 as? Linear)?.name } == ["fc"])
        #expect((vgg.prunableUnits[1].consumers.first as? Conv2d)?.name == "conv3")   // across the max-pool
        let mobile = try ModelBuilder.build(try ChannelConfiguration.standard(.mobilenetv2), seed: 1)
        let stem = mobile.prunableUnits[0]
        #expect(stem.passThrough.map { ($0 as? Conv2d)?.name ?? ($0 as? BatchNorm2d)?.name }
                == ["block1.depthwise.conv", "block1.depthwise.bn"])
        #expect((stem.consumers.first as? Conv2d)?.name == "block1.project.conv")
        let bottleneck = try ModelBuilder.build(try ChannelConfiguration.standard(.resnet50, input: .cifar), seed: 1)
        #expect((bottleneck.prunableUnits[1].consumers.first as? Conv2d)?.name == "stage1.block1.conv3")
    }
}
