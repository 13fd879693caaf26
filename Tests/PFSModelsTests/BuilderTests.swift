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
}
