import Foundation
import PFSModels
import PFSNN
import PFSPruning
import PFSTensor
import PFSTraining
import Testing

/// The FLOPs-budget search: exactness against brute force, the budget bound, minimum channels,
/// ties, the pruned document and invalid budgets.
@Suite struct BudgetSearchTests {
    /// A small network whose MACs are cheap to count exhaustively (VGG-11 at 1/16 width: 4…32 channels).
    static func small() throws -> ChannelConfiguration { try .standard(.vgg11, widthMultiplier: 1.0 / 16) }

    /// Gates with many exact ties: values on a coarse grid, about a third exactly 0.
    static func tiedGates(_ configuration: ChannelConfiguration, seed: UInt64) -> [[Float]] {
        var rng = RandomGenerator(seed: seed)
        return configuration.prunableWidths.map { c in
            (0..<c).map { _ in rng.int(below: 3) == 0 ? 0 : Float(rng.int(below: 5)) / 4 }
        }
    }

    /// Reference: the kept counts for k extra channels, choosing one channel at a time by the
    /// documented rule (value, then rank within the layer, then layer), written independently.
    static func naiveCounts(_ gates: [[Float]], extra: Int, minChannels: Int) -> [Int] {
        var remaining = gates.map { layer in layer.indices.sorted { layer[$0] != layer[$1] ? layer[$0] > layer[$1] : $0 < $1 } }
        var counts = [Int](repeating: 0, count: gates.count)
        for j in gates.indices {
            let m = min(minChannels, gates[j].count)
            counts[j] = m
            remaining[j].removeFirst(m)
        }
        for _ in 0..<extra {
            var best: (j: Int, value: Float, rank: Int)?
            for j in gates.indices {
                guard let head = remaining[j].first else { continue }
                let candidate = (j: j, value: gates[j][head], rank: counts[j])
                if let b = best {
                    if candidate.value > b.value || (candidate.value == b.value && candidate.rank < b.rank) {
                        best = candidate
                    }
                } else {
                    best = candidate
                }
            }
            guard let b = best else { break }
            remaining[b.j].removeFirst()
            counts[b.j] += 1
        }
        return counts
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func findsTheLargestFeasibleKAgainstBruteForce(seed: UInt64) throws {
        let target = try Self.small()
        let gates = Self.tiedGates(target, seed: seed)
        let total = gates.reduce(0) { $0 + $1.count }
        let forced = gates.count
        let macsByK = try (0...(total - forced)).map { extra in
            ComplexityCounter.totalMACs(try target.withPrunableWidths(Self.naiveCounts(gates, extra: extra, minChannels: 1)))
        }
        let full = ComplexityCounter.totalMACs(target)
        for fraction in stride(from: 0.1, through: 1.0, by: 0.07) {
            let budget = Int(Double(full) * fraction)
            guard macsByK[0] <= budget else { continue }
            let bestExtra = macsByK.lastIndex { $0 <= budget }!
            let fit = try BudgetSearch.fit(scores: gates, target: target, budgetMACs: budget)
            #expect(fit.keptTotal == forced + bestExtra, "budget \(budget)")
            #expect(fit.counts == Self.naiveCounts(gates, extra: bestExtra, minChannels: 1))
            #expect(fit.achievedMACs <= budget)
            #expect(fit.achievedMACs == macsByK[bestExtra])
            if bestExtra < macsByK.count - 1 { #expect(macsByK[bestExtra + 1] > budget) }
        }
    }

    /// `roundTo`: every width a multiple of N or full, the largest such network in the global
    /// order that fits (brute force over k with the rounded counts), kept channels the layer's best.
    @Test(arguments: [4, 8])
    func roundedWidthsAreMultiplesAndStillTheLargestFit(roundTo: Int) throws {
        let target = try ChannelConfiguration.standard(.resnet20)
        var rng = RandomGenerator(seed: 5)
        let gates = target.prunableWidths.map { c in (0..<c).map { _ in rng.uniform() < 0.3 ? 0 : rng.uniform() } }
        let total = gates.reduce(0) { $0 + $1.count }, forced = gates.count
        func rounded(_ c: [Int]) -> [Int] {
            c.indices.map { min(gates[$0].count, Int((Double(c[$0]) / Double(roundTo)).rounded(.up)) * roundTo) }
        }
        let macsByK = try (0...(total - forced)).map { extra in
            ComplexityCounter.totalMACs(try target.withPrunableWidths(rounded(Self.naiveCounts(gates, extra: extra, minChannels: 1))))
        }
        let full = ComplexityCounter.totalMACs(target)
        for fraction in [0.5, 0.7] {
            let budget = Int(Double(full) * fraction)
            let fit = try BudgetSearch.fit(scores: gates, target: target, budgetMACs: budget, roundTo: roundTo)
            let bestExtra = macsByK.lastIndex { $0 <= budget }!
            #expect(fit.counts == rounded(Self.naiveCounts(gates, extra: bestExtra, minChannels: 1)), "\(fraction)")
            #expect(fit.achievedMACs <= budget && fit.achievedMACs == macsByK[bestExtra])
            for (j, count) in fit.counts.enumerated() {
                #expect(count % roundTo == 0 || count == gates[j].count, "layer \(j): \(count)")
                // The kept channels are the layer's best `count` by score (ties by index).
                let order = gates[j].indices.sorted { gates[j][$0] != gates[j][$1] ? gates[j][$0] > gates[j][$1] : $0 < $1 }
                #expect(fit.kept[j] == Array(order.prefix(count)).sorted())
            }
        }
        #expect(throws: PruningError.self) { _ = try BudgetSearch.fit(scores: gates, target: target, budgetMACs: full, roundTo: 0) }
        // A budget below N channels per layer names --round-to.
        let tooSmall = #expect(throws: PruningError.self) {
            _ = try BudgetSearch.fit(scores: gates, target: target, budgetMACs: full / 4, roundTo: 16)
        }
        #expect(tooSmall?.description.contains("round-to") == true)
    }

    @Test func neverExceedsTheBudgetAndRespectsTheMinimum() throws {
        let target = try ChannelConfiguration.standard(.resnet56)
        var rng = RandomGenerator(seed: 9)
        let gates = target.prunableWidths.map { c in (0..<c).map { _ in rng.uniform() < 0.5 ? 0 : rng.uniform() } }
        let full = ComplexityCounter.totalMACs(target)
        for fraction in [0.2, 0.3, 0.5, 0.7, 0.95] {
            for minChannels in [1, 4] {
                let budget = Int(Double(full) * fraction)
                let fit = try BudgetSearch.fit(scores: gates, target: target, budgetMACs: budget, minChannels: minChannels)
                #expect(fit.achievedMACs <= budget)
                #expect(fit.counts.allSatisfy { $0 >= minChannels })
                #expect(fit.kept.map(\.count) == fit.counts)
                let atMinimum = target.prunableNames.indices.filter { fit.counts[$0] == minChannels }.map { target.prunableNames[$0] }
                #expect(fit.layersAtMinimum == atMinimum)
            }
        }
    }

    @Test func tiesAreBrokenDeterministicallyLayersTakingTurns() throws {
        let target = try Self.small()
        let zeros = target.prunableWidths.map { [Float](repeating: 0, count: $0) }
        let full = ComplexityCounter.totalMACs(target)
        let a = try BudgetSearch.fit(scores: zeros, target: target, budgetMACs: full / 3)
        let b = try BudgetSearch.fit(scores: zeros, target: target, budgetMACs: full / 3)
        #expect(a == b)
        // All tied: every layer's second channel comes before any layer's third, so counts differ by ≤ 1
        // among layers that are not full.
        let open = a.counts.enumerated().filter { $0.element < target.prunableWidths[$0.offset] }.map(\.element)
        #expect((open.max() ?? 0) - (open.min() ?? 0) <= 1)
        // Among tied channels of a layer, the lower indices are kept.
        #expect(a.kept.allSatisfy { $0 == Array(0..<$0.count) })
    }

    @Test func invalidBudgetsAreRefusedClearly() throws {
        #expect(throws: PruningError.setting(field: "keep-macs", expected: "a fraction in (0, 1] of the standard MACs",
                                             got: "0.0")) { _ = try Budget.keepFraction(0).macs(standardMACs: 100) }
        #expect(throws: PruningError.self) { _ = try Budget.keepFraction(-0.5).macs(standardMACs: 100) }
        #expect(throws: PruningError.self) { _ = try Budget.keepFraction(1.2).macs(standardMACs: 100) }
        #expect(throws: PruningError.self) { _ = try Budget.keepFraction(.nan).macs(standardMACs: 100) }
        #expect(throws: PruningError.self) { _ = try Budget.maxMACs(0).macs(standardMACs: 100) }
        #expect(try Budget.keepFraction(1).macs(standardMACs: 100) == 100)

        let target = try ChannelConfiguration.standard(.resnet20)
        let gates = target.prunableWidths.map { [Float](repeating: 1, count: $0) }
        let error = #expect(throws: PruningError.self) {
            _ = try BudgetSearch.fit(scores: gates, target: target, budgetMACs: 1_000_000, minChannels: 1)
        }
        guard case let .infeasibleBudget(budget, minimum, _)? = error else {
            Issue.record("expected infeasibleBudget, got \(String(describing: error))")
            return
        }
        #expect(budget == 1_000_000 && minimum > budget)
        // The remedy names --min-channels only when lowering it could help (it is 1 here).
        #expect(error?.description.contains("raise the budget") == true && error?.description.contains("min-channels") == false)
        #expect(throws: PruningError.self) {
            _ = try BudgetSearch.fit(scores: Array(gates.dropLast()), target: target, budgetMACs: 30_000_000)
        }
    }

    static func result(_ configuration: ChannelConfiguration, gates: [[Float]]) -> GateSearchResult {
        let epoch = GateEpoch(epoch: 1, trainLoss: 1, objective: 1, trainAccuracy: 0.1, validationLoss: 1,
                              validationAccuracy: 0.1, meanGate: 0.5, nonZeroFraction: 0.5, seconds: 1,
                              imagesPerSecond: 1, gates: gates)
        return GateSearchResult(configuration: configuration, settings: GateSearchSettings(),
                                source: .randomInitialization(seed: 4), data: "synthetic", history: [epoch],
                                selection: GateSelection(epoch: 1, rule: .lastEpochNoneSparse), complete: true,
                                seconds: 1)
    }

    @Test(arguments: [Architecture.resnet20, .vgg16, .mobilenetv2])
    func aPrunedConfigurationBuildsANetworkOfExactlyTheStatedMACs(_ architecture: Architecture) throws {
        let standard = try ChannelConfiguration.standard(architecture)
        var rng = RandomGenerator(seed: 3)
        let gates = standard.prunableWidths.map { c in (0..<c).map { _ in rng.uniform() } }
        let pruned = try PrunedArchitecture.make(from: Self.result(standard, gates: gates), gatesFile: nil,
                                                 budget: .keepFraction(0.4))
        #expect(pruned.budget.achievedMACs <= pruned.budget.targetMACs && pruned.budget.gapMACs >= 0)
        #expect(pruned.macs.pruned == pruned.budget.achievedMACs)
        let directory = NSTemporaryDirectory() + "pfs-pruned-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try pruned.save(to: directory + "/pruned.json")
        let text = try String(contentsOfFile: directory + "/pruned.json", encoding: .utf8)
        #expect(text.contains("\"keepFraction\" : 0.4"))
        let configuration = try ConfigurationFile.read(directory + "/pruned.json")
        #expect(configuration == pruned.configuration)
        #expect(configuration.prunableWidths == pruned.layers.map(\.pruned))
        let network = try ModelBuilder.build(configuration, seed: 1)
        var noise = RandomGenerator(seed: 2)
        _ = try network.forward(Tensor.randomNormal([1, 3, 32, 32], using: &noise), mode: .evaluation)
        #expect(network.measuredMACsPerImage == pruned.macs.pruned)
        #expect(network.parameterCount == pruned.params.pruned)
    }

    @Test func widthExpansionPrunesToTheStandardBudget() throws {
        let standard = try ChannelConfiguration.standard(.resnet20)
        let wide = try ChannelConfiguration.standard(.resnet20, widthMultiplier: 2)
        var rng = RandomGenerator(seed: 5)
        let gates = wide.prunableWidths.map { c in (0..<c).map { _ in rng.uniform() } }
        let pruned = try PrunedArchitecture.make(from: Self.result(wide, gates: gates), gatesFile: nil,
                                                 budget: .keepFraction(0.5))
        #expect(pruned.macs.standard == ComplexityCounter.totalMACs(standard))
        #expect(pruned.macs.searched == ComplexityCounter.totalMACs(wide))
        #expect(pruned.budget.targetMACs == ComplexityCounter.totalMACs(standard) / 2)
        // Fixed widths come from the standard network; prunable ones may exceed it.
        #expect(pruned.configuration.widths.filter { !$0.prunable } == standard.widths.filter { !$0.prunable })
        #expect(pruned.layers.allSatisfy { $0.searched == 2 * $0.standard })
    }

    /// The authors' variant keeps the expanded stem and stage widths and cuts only the gated
    /// interiors, still under the budget of the standard network (SPEC §3).
    @Test func expandedFixedWidthsKeepTheSearchedStemAndStages() throws {
        let standard = try ChannelConfiguration.standard(.resnet20)
        let wide = try ChannelConfiguration.standard(.resnet20, widthMultiplier: 2)
        var rng = RandomGenerator(seed: 5)
        let gates = wide.prunableWidths.map { c in (0..<c).map { _ in rng.uniform() } }
        let result = Self.result(wide, gates: gates)
        let pruned = try PrunedArchitecture.make(from: result, gatesFile: nil, budget: .keepFraction(0.5),
                                                 fixedWidths: .expanded)
        #expect(pruned.fixedWidths == .expanded)
        #expect(pruned.configuration.widths.filter { !$0.prunable } == wide.widths.filter { !$0.prunable })
        #expect(pruned.budget.targetMACs == ComplexityCounter.totalMACs(standard) / 2)
        #expect(pruned.macs.pruned <= pruned.budget.targetMACs && pruned.macs.pruned == pruned.budget.achievedMACs)
        // The wide stream leaves less for the interiors than the standard variant does.
        let standardFixed = try PrunedArchitecture.make(from: result, gatesFile: nil, budget: .keepFraction(0.5))
        #expect(standardFixed.fixedWidths == .standard)
        #expect(pruned.keptChannels < standardFixed.keptChannels)
        #expect(pruned.table().contains("--fixed-widths expanded") && !standardFixed.table().contains("--fixed-widths"))
        // The network builds, and its measured MACs are the recorded ones.
        let network = try ModelBuilder.build(pruned.configuration, seed: 1)
        var noise = RandomGenerator(seed: 2)
        _ = try network.forward(Tensor.randomNormal([1, 3, 32, 32], using: &noise), mode: .evaluation)
        #expect(network.measuredMACsPerImage == pruned.macs.pruned)
        // Without expansion both variants give the same network.
        let plain = Self.result(standard, gates: standard.prunableWidths.map { c in (0..<c).map { _ in rng.uniform() } })
        #expect(try PrunedArchitecture.make(from: plain, gatesFile: nil, budget: .keepFraction(0.5), fixedWidths: .expanded)
                    .configuration == PrunedArchitecture.make(from: plain, gatesFile: nil, budget: .keepFraction(0.5)).configuration)
    }

    /// At e = 80 ResNet-20's fixed widths and one-channel interiors cost 16,233,600 MACs (SPEC §3).
    @Test func theReferenceExpansionAtEightyLeavesLittleForTheInteriors() throws {
        let wide = try ChannelConfiguration.standard(.resnet20, widthMultiplier: 5)
        #expect(try BudgetSearch.minimumMACs(target: wide, minChannels: 1) == 16_233_600)
    }

    @Test func budgetsRoundTripThroughJSON() throws {
        for budget in [Budget.keepFraction(0.35), .maxMACs(12_345_678)] {
            let data = try JSONEncoder().encode(budget)
            #expect(try JSONDecoder().decode(Budget.self, from: data) == budget)
        }
        #expect(String(decoding: try JSONEncoder().encode(Budget.maxMACs(7)), as: UTF8.self) == "{\"maxMACs\":7}")
    }

    @Test func uniformScalingFitsTheBudgetTightly() throws {
        let standard = try ChannelConfiguration.standard(.resnet56)
        let budget = ComplexityCounter.totalMACs(standard) / 2
        let fit = try UniformScaling.fit(standard, budgetMACs: budget)
        #expect(ComplexityCounter.totalMACs(fit.configuration) <= budget)
        #expect(fit.factor > 0.6 && fit.factor < 0.75)
        #expect(ComplexityCounter.totalMACs(standard.scaled(by: fit.factor + 0.01)) > budget)
    }
}
