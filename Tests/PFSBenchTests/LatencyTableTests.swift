import Foundation
import PFSBench
import PFSModels
import PFSPruning
import PFSTensor
import Testing

/// The latency model's bookkeeping and the budget search under a latency limit: grids,
/// interpolation, monotonicity, which width drives which layer, files. Never its speed.
@Suite(.serialized) struct LatencyTableTests {
    /// ResNet-20 on 3×8×8 inputs: every layer small enough to time in milliseconds.
    static func small() throws -> ChannelConfiguration {
        try ChannelConfiguration.standard(.resnet20, input: InputShape(channels: 3, height: 8, width: 8), classes: 4)
    }

    static func measured() throws -> LatencyTable {
        let saved = Engine.threads
        Engine.threads = 1
        defer { Engine.threads = saved }
        return try LatencyTable.measure(try small(), batch: 2, minSeconds: 0.001)
    }

    @Test func gridsSpanOneChannelToTheFullWidthInEighths() {
        #expect(LatencyTable.grid(16) == [1, 2, 4, 6, 8, 10, 12, 14, 16])
        #expect(LatencyTable.grid(3) == [1, 2, 3])
        #expect(LatencyTable.grid(1) == [1])
    }

    @Test func interpolationIsExactAtGridPointsLinearBetweenAndNeverDecreasing() throws {
        let table = try Self.measured()
        var layer = try #require(table.layers.first { $0.inputWidth == nil && $0.outputWidth != nil })
        layer.inputGrid = [16]
        layer.outputGrid = [2, 4, 8]
        layer.milliseconds = [[1.0, 3.0, 2.0]]
        layer.makeNonDecreasing()
        #expect(layer.milliseconds == [[1.0, 3.0, 3.0]])
        #expect(layer.interpolate(cin: 16, cout: 3) == 2.0)
        #expect(layer.interpolate(cin: 16, cout: 1) == 1.0)      // clamped below the grid
        var twoD = layer
        twoD.inputGrid = [1, 3]
        twoD.outputGrid = [1, 5]
        twoD.milliseconds = [[0, 4], [2, 6]]
        #expect(twoD.interpolate(cin: 2, cout: 3) == 3.0)          // bilinear centre
        #expect(twoD.interpolate(cin: 3, cout: 5) == 6.0)
    }

    @Test func aMeasuredTableKnowsWhichWidthDrivesEachLayerAndPredictsMonotonically() throws {
        let full = try Self.small()
        let table = try Self.measured()
        let costs = ComplexityCounter.count(full).layers
        #expect(table.layers.map(\.name) == costs.map(\.name))
        let names = full.prunableNames
        for layer in table.layers {
            // A block's first convolution writes its gated width; the second reads it.
            if layer.name.hasSuffix(".conv1") {
                #expect(layer.outputWidth.map { names[$0] } == layer.name && layer.inputWidth == nil, "\(layer.name)")
            } else if layer.name.hasSuffix(".conv2") {
                let gated = layer.name.replacingOccurrences(of: ".conv2", with: ".conv1")
                #expect(layer.inputWidth.map { names[$0] } == gated && layer.outputWidth == nil, "\(layer.name)")
            } else {
                #expect(layer.inputWidth == nil && layer.outputWidth == nil, "\(layer.name)")
            }
            #expect(layer.milliseconds.allSatisfy { row in zip(row, row.dropFirst()).allSatisfy { $0 <= $1 } })
        }
        #expect(table.calibrationPoints.map(\.scale) == [1, 0.5, 0.25] && table.calibration > 0)
        #expect(table.machine.cpu == LatencyTable.Machine.current.cpu && table.machine.threads == 1 && table.batch == 2)   // measured at 1 thread
        // More channels in any width never predict less time.
        var rng = RandomGenerator(seed: 3)
        for _ in 0..<20 {
            let widths = full.prunableWidths.map { 1 + rng.int(below: $0) }
            let j = rng.int(below: widths.count)
            var wider = widths
            wider[j] = min(full.prunableWidths[j], wider[j] + 1 + rng.int(below: 4))
            #expect(try table.predictMilliseconds(try full.withPrunableWidths(widths))
                        <= table.predictMilliseconds(try full.withPrunableWidths(wider)))
        }
        // Networks the table does not span are refused, naming what differs.
        let wide = try ChannelConfiguration.standard(.resnet20, input: full.input, classes: 4, widthMultiplier: 2)
        let error = #expect(throws: PruningError.self) { _ = try table.predictMilliseconds(wide) }
        #expect(error?.description.contains("fixed width") == true)
    }

    @Test func tablesRoundTripAndAreRefusedForAnotherMachine() throws {
        let table = try Self.measured()
        let directory = NSTemporaryDirectory() + "pfs-latency-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/" + LatencyTable.cacheFileName(for: table.full, batch: 2, machine: table.machine)
        try table.save(to: file)
        let loaded = try LatencyTable.load(file, expecting: table.machine)
        #expect(try loaded.predictMilliseconds(table.full) == table.predictMilliseconds(table.full))
        var other = table.machine
        other.threads += 1
        let error = #expect(throws: PruningError.self) { _ = try LatencyTable.load(file, expecting: other) }
        #expect(error?.description.contains("machine") == true && error?.description.contains(file) == true)
        #expect(LatencyTable.cacheFileName(for: table.full, batch: 2, machine: other)
                    != LatencyTable.cacheFileName(for: table.full, batch: 2, machine: table.machine))
        // Other kernels (a switch, a later kernel revision) or none recorded (an older table): refused, another cache file.
        #expect(table.machine.kernels?.contains("kernels \(KernelSettings.revision)") == true)
        let current = try #require(table.machine.kernels)
        for kernels in [current.replacingOccurrences(of: "kernels \(KernelSettings.revision)", with: "kernels r1"),
                        current + ", small-plane kernel off", nil] {
            var older = table.machine
            older.kernels = kernels
            #expect(throws: PruningError.self) { _ = try LatencyTable.load(file, expecting: older) }
            #expect(LatencyTable.cacheFileName(for: table.full, batch: 2, machine: older)
                        != LatencyTable.cacheFileName(for: table.full, batch: 2, machine: table.machine))
        }
        try Data("{\"format\": \"pfs.latency-table/1\"}".utf8).write(to: URL(fileURLWithPath: file))
        #expect(throws: PruningError.self) { _ = try LatencyTable.load(file) }
    }

    /// The latency budget search: never over the predicted limit, the largest such k, and the
    /// MAC search when the cost is MACs.
    @Test func theLimitSearchIsTheMACSearchWhenTheCostIsMACsAndNeverExceedsALatencyLimit() throws {
        let full = try ChannelConfiguration.standard(.resnet20)
        var rng = RandomGenerator(seed: 11)
        let scores = full.prunableWidths.map { c in (0..<c).map { _ in rng.uniform() } }
        let budget = ComplexityCounter.totalMACs(full) / 2
        let macs = CostLimit(name: "MACs", flag: "max-macs", unit: "MACs", limit: Double(budget)) { c in
            Double(ComplexityCounter.totalMACs(c))
        }
        for roundTo in [1, 4] {
            let a = try BudgetSearch.fit(scores: scores, target: full, budgetMACs: budget, roundTo: roundTo)
            let b = try BudgetSearch.fit(scores: scores, target: full, limit: macs, roundTo: roundTo)
            #expect(a.counts == b.counts && a.kept == b.kept)
        }
        let small = try Self.small()
        let table = try Self.measured()
        let smallScores = small.prunableWidths.map { c in (0..<c).map { _ in rng.uniform() } }
        let fullMilliseconds = try table.predictMilliseconds(small)
        let limit = 0.6 * fullMilliseconds
        let fit = try BudgetSearch.fit(scores: smallScores, target: small, limit: table.limit(milliseconds: limit))
        let predicted = try #require(fit.achievedCost)
        let recomputed = try table.predictMilliseconds(fit.configuration)
        #expect(predicted <= limit && predicted == recomputed)
        #expect(fit.probes.allSatisfy { $0.cost != nil && ($0.fits == ($0.cost! <= limit)) })
        // One more channel in the global order would go over: the last failing probe is the next k.
        let next = fit.probes.filter { !$0.fits }.map(\.keptChannels).min()
        #expect(next == nil || next! > fit.keptTotal)
        // A limit below the smallest network is refused naming the flag.
        let error = #expect(throws: PruningError.self) {
            _ = try BudgetSearch.fit(scores: smallScores, target: small, limit: table.limit(milliseconds: 1e-9))
        }
        #expect(error?.description.contains("max-latency-ms") == true)
        // Recorded in the pruned architecture with its prediction.
        let gates = ChannelScores(configuration: small, scores: smallScores,
                                  provenance: ScoreProvenance(criterion: .random, seed: 1))
        let pruned = try PrunedArchitecture.make(from: gates, limit: table.limit(milliseconds: limit), detail: "test")
        #expect(pruned.costLimit?.predicted == predicted && pruned.costLimit?.limit == limit)
        #expect(pruned.configuration == fit.configuration && pruned.table().contains("predicted latency"))
    }
}
