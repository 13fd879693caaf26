import Foundation
import PFSData
import PFSModels
import PFSNN
import PFSPruning
import PFSTensor
import PFSTestSupport
import PFSTraining
import Testing

/// Channel-importance criteria: shapes, rankings, reproducibility, penalties and score files.
@Suite(.serialized) struct CriteriaTests {
    static func configuration(_ architecture: Architecture) throws -> ChannelConfiguration {
        let size = architecture.family == .vgg ? 16 : 8
        return try ChannelConfiguration.standard(architecture, input: InputShape(channels: 3, height: size, width: size),
                                                 classes: 4, widthMultiplier: 0.25)
    }

    static func criteria() -> [(String, ChannelImportance)] {
        [("gates", GateValues()), ("slimming", BatchNormScaleMagnitude()), ("l1", FilterL1Norm()),
         ("random", RandomStructureScores(seed: 3))]
    }

    @Test(arguments: [Architecture.resnet20, .vgg11, .mobilenetv2])
    func everyCriterionScoresEveryChannelAndPrunesWithinTheBudget(_ architecture: Architecture) throws {
        let configuration = try Self.configuration(architecture)
        let network = try ModelBuilder.build(configuration, gates: true, seed: 4)
        var rng = RandomGenerator(seed: 8)
        for g in network.gates { g.gate.value = Tensor(shape: [g.channels]) { _ in rng.uniform() } }
        for bn in network.batchNorms { bn.gamma.value = Tensor(shape: [bn.channels]) { _ in rng.uniform(-1, 1) } }
        for (name, criterion) in Self.criteria() {
            let scores = try ChannelScores.measure(network, with: criterion,
                                                   provenance: ScoreProvenance(criterion: .random, seed: 1))
            #expect(scores.scores.map(\.count) == configuration.prunableWidths, "\(name)")
            #expect(scores.scores.allSatisfy { $0.allSatisfy(\.isFinite) }, "\(name)")
            let pruned = try PrunedArchitecture.make(from: scores, budget: .keepFraction(0.5))
            #expect(pruned.budget.achievedMACs <= pruned.budget.targetMACs, "\(name)")
            let kept = try #require(pruned.kept)
            #expect(kept.map(\.count) == pruned.layers.map(\.pruned), "\(name)")
            for (j, indices) in kept.enumerated() {
                #expect(indices == indices.sorted() && Set(indices).count == indices.count)
                #expect(indices.allSatisfy { $0 >= 0 && $0 < configuration.prunableWidths[j] })
            }
            // The kept channels of each layer are its best-scored ones.
            for (j, indices) in kept.enumerated() {
                let worstKept = indices.map { scores.scores[j][$0] }.min() ?? .infinity
                let bestDropped = scores.scores[j].indices.filter { !indices.contains($0) }.map { scores.scores[j][$0] }.max()
                if let bestDropped { #expect(worstKept >= bestDropped, "\(name) layer \(j)") }
            }
        }
    }

    @Test func gateValuesNeedAGatedNetwork() throws {
        let network = try ModelBuilder.build(try Self.configuration(.resnet20), seed: 1)
        #expect(throws: PruningError.self) { _ = try GateValues().scores(for: network) }
    }

    /// Hand-made filters: the L1 norm of each output filter over its layer's mean.
    @Test func l1NormRanksHandMadeFilters() throws {
        let network = try ModelBuilder.build(try Self.configuration(.vgg11), seed: 1)
        let unit = network.prunableUnits[0]             // conv1: (16, 3, 3, 3)
        let perFilter = 3 * 3 * 3
        let norms: [Float] = (0..<unit.channels).map { Float(($0 * 7) % unit.channels + 1) }
        unit.producer.weight.value = Tensor(shape: unit.producer.weight.value.shape) { i in
            let f = i / perFilter
            return (i % 2 == 0 ? 1 : -1) * norms[f] / Float(perFilter)
        }
        let scores = FilterL1Norm().scores(for: network)
        let mean = norms.reduce(0, +) / Float(norms.count)
        for c in 0..<unit.channels { #expect(abs(scores[0][c] - norms[c] / mean) < 1e-5) }
        #expect(FilterL1Norm.filterNorms(unit.producer.weight.value).enumerated().allSatisfy { abs($0.element - norms[$0.offset]) < 1e-4 })
        // Scale-free: multiplying a whole layer by 10 changes none of its scores.
        let before = scores[1]
        let second = network.prunableUnits[1].producer.weight
        second.value = Tensor(shape: second.value.shape) { i in second.value.scalars[i] * 10 }
        let after = FilterL1Norm().scores(for: network)[1]
        #expect(zip(before, after).allSatisfy { abs($0 - $1) < 1e-4 })
    }

    @Test func randomScoresReproduceFromTheSeedAndGiveRandomLayerRatios() throws {
        let widths = try ChannelConfiguration.standard(.vgg16).prunableWidths
        let a = RandomStructureScores.scores(widths: widths, seed: 5)
        #expect(a == RandomStructureScores.scores(widths: widths, seed: 5))
        #expect(a != RandomStructureScores.scores(widths: widths, seed: 6))
        // Each layer is a random permutation of evenly spaced scores below its offset.
        for (j, layer) in a.enumerated() {
            let sorted = layer.sorted(by: >)
            let step = 1 / Float(widths[j])
            for i in 1..<sorted.count { #expect(abs(sorted[i - 1] - sorted[i] - step) < 1e-5) }
        }
        // Cut to one budget, the kept ratios differ from layer to layer far more than uniform's.
        let standard = try ChannelConfiguration.standard(.vgg16)
        let pruned = try PrunedArchitecture.make(
            from: ChannelScores(configuration: standard, scores: a, provenance: ScoreProvenance(criterion: .random, seed: 5)),
            budget: .keepFraction(0.5))
        let ratios = pruned.keptRatios
        let spread = (ratios.max() ?? 0) - (ratios.min() ?? 0)
        #expect(spread > 0.3, "kept ratios \(ratios)")
    }

    @Test func slimmingPenaltyValueAndSubgradient() throws {
        let network = try ModelBuilder.build(try Self.configuration(.resnet20), seed: 2)
        let bns = network.prunableUnits.map(\.batchNorm)
        var rng = RandomGenerator(seed: 3)
        for bn in bns {   // away from 0, where |γ| is differentiable
            bn.gamma.value = Tensor(shape: [bn.channels]) { _ in
                let v = rng.uniform(0.05, 1)
                return rng.int(below: 2) == 0 ? v : -v
            }
        }
        let penalty = BatchNormL1Penalty(batchNorms: bns, strength: 0.01)
        let expected = bns.reduce(0.0) { $0 + $1.gamma.value.scalars.reduce(0.0) { $0 + Double(abs($1)) } } * 0.01
        #expect(abs(penalty.value() - expected) < 1e-6 * expected)
        for bn in bns { bn.gamma.zeroGradient() }
        #expect(abs(penalty.accumulateGradient() - expected) < 1e-6 * expected)
        let h: Float = 1e-3
        for bn in bns {
            let analytic = try #require(bn.gamma.grad).scalars
            for c in [0, bn.channels - 1] {
                bn.gamma.value.withUnsafeMutableBufferPointer { $0[c] += h }
                let plus = penalty.value()
                bn.gamma.value.withUnsafeMutableBufferPointer { $0[c] -= 2 * h }
                let minus = penalty.value()
                bn.gamma.value.withUnsafeMutableBufferPointer { $0[c] += h }
                let numeric = (plus - minus) / Double(2 * h)
                #expect(abs(Double(analytic[c]) - numeric) < 1e-4, "\(bn.name)[\(c)]: \(analytic[c]) vs \(numeric)")
            }
        }
        // At exactly 0 the subgradient taken is 0; the other BatchNorms get nothing.
        bns[0].gamma.value = Tensor(zeros: [bns[0].channels])
        for bn in network.batchNorms { bn.gamma.zeroGradient() }
        _ = penalty.accumulateGradient()
        #expect(bns[0].gamma.grad!.scalars.allSatisfy { $0 == 0 })
        let others = network.batchNorms.filter { bn in !bns.contains { $0 === bn } }
        #expect(!others.isEmpty && others.allSatisfy { $0.gamma.grad == nil || $0.gamma.grad!.scalars.allSatisfy { $0 == 0 } })
    }

    /// The penalty hooked into the one training loop: a strong L1 term shrinks the scales it acts on.
    @Test func slimmingTrainingShrinksTheGatedScales() throws {
        let data = SyntheticData.dataset(count: 32)
        var recipe = TrainingRecipe()
        recipe.epochs = 2
        recipe.batchSize = 8
        recipe.learningRate = 0.05
        recipe.weightDecay = 0
        func train(strength: Float?) throws -> (scales: Double, history: [EpochRecord]) {
            let network = try ModelBuilder.build(try Self.configuration(.resnet20), seed: 3)
            let penalties = strength.map { [BatchNormL1Penalty(batchNorms: network.prunableUnits.map(\.batchNorm), strength: $0)] } ?? []
            let trainer = try Trainer(network: network, recipe: recipe, train: data, validation: nil,
                                      normalization: .identity(channels: 3), dataDescription: "synthetic", runDirectory: nil,
                                      penalties: penalties)
            let state = try trainer.run()
            let scales = network.prunableUnits.reduce(0.0) { $0 + $1.batchNorm.gamma.value.scalars.reduce(0.0) { $0 + Double(abs($1)) } }
            return (scales, state.history)
        }
        let plain = try train(strength: nil), slim = try train(strength: 0.5)
        #expect(slim.scales < plain.scales * 0.9, "Σ|γ| \(slim.scales) vs \(plain.scales)")
        #expect(plain.history.allSatisfy { $0.penalty == nil })
        #expect(slim.history.allSatisfy { ($0.penalty ?? 0) > 0 })
    }

    /// Uniform scaling's kept ratios differ only by rounding to whole channels; a structure with a
    /// real preference between layers does not pass for uniform.
    @Test func uniformUpToRoundingIsRecognised() throws {
        for architecture in [Architecture.resnet20, .resnet56, .vgg16, .mobilenetv2] {
            let standard = try ChannelConfiguration.standard(architecture)
            for keep in [0.3, 0.5, 0.8] {
                let uniform = try PrunedArchitecture.uniform(standard, budget: .keepFraction(keep))
                #expect(uniform.isUniformUpToRounding, "\(architecture) at \(keep): \(uniform.keptRatios)")
                #expect(Set(uniform.keptRatios).count > 1 || architecture == .vgg16, "\(architecture) at \(keep)")
            }
        }
        // ResNet-20 interiors 16/16/16 | 32/32/32 | 64/64/64: PFS's seed-1 structure of the
        // full-CIFAR campaign (10 14 7 | 13 8 17 | 25 20 34) is not uniform; 11s, 22–23s and 44–45s are.
        let standard = try ChannelConfiguration.standard(.resnet20)
        func structure(_ widths: [Int]) throws -> PrunedArchitecture {
            let scores = zip(standard.prunableWidths, widths).map { c, k in (0..<c).map { Float($0 < k ? 1 : 0) } }
            // The budget is exactly these widths' MACs: the k channels scored 1 fill it, one more exceeds it.
            let macs = ComplexityCounter.totalMACs(try standard.withPrunableWidths(widths))
            let pruned = try PrunedArchitecture.make(
                from: ChannelScores(configuration: standard, scores: scores, provenance: ScoreProvenance(criterion: .random, seed: 1)),
                budget: .maxMACs(macs))
            #expect(pruned.layers.map(\.pruned) == widths)
            return pruned
        }
        #expect(try structure([11, 11, 11, 23, 22, 23, 45, 44, 45]).isUniformUpToRounding)
        #expect(try !structure([10, 14, 7, 13, 8, 17, 25, 20, 34]).isUniformUpToRounding)
        #expect(try !structure([11, 11, 11, 23, 23, 23, 45, 45, 47]).isUniformUpToRounding)   // 47/64 is 1.5 channels off
    }

    @Test func pearsonOnKnownVectors() {
        #expect(pearsonCorrelation([1, 2, 3], [2, 4, 6]) == 1)
        #expect(pearsonCorrelation([1, 2, 3], [3, 2, 1]) == -1)
        #expect(abs(pearsonCorrelation([1, 2, 3, 4], [1, 3, 2, 4])! - 0.8) < 1e-12)
        #expect(abs(pearsonCorrelation([2, 4, 4, 4, 5, 5, 7, 9], [1, 2, 3, 4, 5, 6, 7, 8])! - 0.9274260335029676) < 1e-12)
        #expect(pearsonCorrelation([1, 1, 1], [1, 2, 3]) == nil)
        #expect(pearsonCorrelation([5], [5]) == nil)
    }

    @Test func scoresFilesRoundTripAndBadOnesAreNamed() throws {
        let directory = NSTemporaryDirectory() + "pfs-scores-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let network = try ModelBuilder.build(try Self.configuration(.resnet20), seed: 1)
        let scores = try ChannelScores.measure(network, with: FilterL1Norm(),
                                               provenance: ScoreProvenance(criterion: .l1Norm, checkpoint: "x.safetensors"))
        try scores.save(to: directory + "/scores.json")
        let loaded = try ChannelScores.load(directory + "/scores.json")
        #expect(loaded.scores == scores.scores && loaded.provenance == scores.provenance)
        let pruned = try PrunedArchitecture.make(from: loaded, budget: .keepFraction(0.5))
        #expect(pruned.scores.criterion == .l1Norm && pruned.scores.checkpoint == "x.safetensors")

        var bad = scores
        bad.scores[2][1] = 12345.5
        let text = String(decoding: try JSONEncoder().encode(bad), as: UTF8.self)
            .replacingOccurrences(of: "12345.5", with: "1e999")   // JSON has no NaN; an overflow decodes as ∞ or fails
        try Data(text.utf8).write(to: URL(fileURLWithPath: directory + "/inf.json"))
        let infinite = #expect(throws: PruningError.self) { _ = try ChannelScores.load(directory + "/inf.json") }
        #expect(infinite?.description.contains("inf.json") == true)

        var short = scores
        short.scores[1].removeLast()
        try Data(try JSONEncoder().encode(short)).write(to: URL(fileURLWithPath: directory + "/short.json"))
        let error = #expect(throws: PruningError.self) { _ = try ChannelScores.load(directory + "/short.json") }
        #expect(error?.description.contains("short.json") == true)
        #expect(error?.description.contains("scores[1] (stage1.block2.conv1)") == true)

        try Data("{\"format\": \"pfs.checkpoint/1\"}".utf8).write(to: URL(fileURLWithPath: directory + "/other.json"))
        let other = #expect(throws: PruningError.self) { _ = try ChannelScores.load(directory + "/other.json") }
        #expect(other?.description.contains("pfs.channel-scores/1") == true)
    }
}
