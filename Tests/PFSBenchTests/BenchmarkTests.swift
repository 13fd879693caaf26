import Foundation
import PFSBench
import PFSModels
import PFSTensor
import Testing

/// The benchmark harness measures what it claims: these check its bookkeeping, never its speed.
@Suite struct BenchmarkTests {
    @Test(arguments: ConvBenchmark.Pass.allCases)
    func convFLOPCountMatchesTheWorkTheKernelsReport(pass: ConvBenchmark.Pass) throws {
        let bench = ConvBenchmark(batch: 3, minSeconds: 0)
        let row = try bench.run(channels: 4, size: 5, pass: pass)
        let forwardMACs = 3 * 4 * 25 * 4 * 9
        #expect(row.samples.seconds.count >= 5)
        #expect(row.gflops > 0 && row.gflops.isFinite)
        switch pass {
        case .forward:
            #expect(row.macs == forwardMACs)
            #expect(row.reportedWork == GradientWork())
        case .backward:
            #expect(row.macs == 2 * forwardMACs)
            #expect(row.reportedWork.weightGradientMACs == forwardMACs && row.reportedWork.inputGradientMACs == forwardMACs)
        case .backwardData:
            #expect(row.macs == forwardMACs)
            #expect(row.reportedWork.weightGradientMACs == 0 && row.reportedWork.inputGradientMACs == forwardMACs)
        case .backwardWeight:
            #expect(row.macs == forwardMACs)
            #expect(row.reportedWork.weightGradientMACs == forwardMACs && row.reportedWork.inputGradientMACs == 0)
        }
    }

    @Test func gemmRowCountsTwoFlopsPerMAC() {
        let row = GEMMBenchmark(backend: .builtin, threads: 1, minSeconds: 0).run(m: 3, n: 5, k: 7)
        #expect(abs(row.gflops - 2 * 105 / row.samples.median * 1e-9) < 1e-9 * row.gflops)
    }

    @Test func reportsRenderAlignedTablesAndJSONLines() throws {
        let report = BenchmarkReport(title: "t", notes: ["n"], header: ["a", "value"], rows: [["x", "1.5"], ["long", "10.25"]],
                                     records: [["op": "gemm", "gflops": 1.5], ["op": "gemm", "gflops": 10.25]])
        let lines = report.text.split(separator: "\n").map(String.init)
        #expect(lines == ["t", "n", "a     value", "----  -----", "x       1.5", "long  10.25"])
        let parsed = try report.jsonLines.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        #expect(parsed.count == 2)
        #expect(parsed[1]["gflops"] as? Double == 10.25)
    }

    @Test func medianOfSamples() {
        #expect(Samples(seconds: [3, 1, 2]).median == 2)
        #expect(Samples(seconds: [4, 1, 3, 2]).median == 2.5)
    }

    /// Interleaved timing runs one call of each body per round, starting with a different body each
    /// round, and pairs the samples by round; the speed-up is the median of the rounds' ratios, so a
    /// round the machine ran slow for both does not move it.
    @Test func interleavedRoundsPairTheSamples() {
        var calls: [Int] = []
        let samples = Samples.measureInterleaved(warmup: 1, minRuns: 4, minSeconds: 0, [{ calls.append(0) }, { calls.append(1) }, { calls.append(2) }])
        #expect(samples.map(\.seconds.count) == [4, 4, 4])
        #expect(calls == [0, 1, 2] + [0, 1, 2, 1, 2, 0, 2, 0, 1, 0, 1, 2])   // warm-up, then rotated rounds
        let reference = Samples(seconds: [2, 4, 2, 20]), faster = Samples(seconds: [1, 2, 1, 10])
        #expect(faster.speedUp(over: reference) == 2)
        #expect(reference.median / faster.median == 2)
        // Three of four rounds 2× faster, one not: the paired median says 2, the medians' ratio 1.25.
        let drifting = Samples(seconds: [0.5, 2, 2, 2]), slowerHalf = Samples(seconds: [1, 1, 4, 4])
        #expect(drifting.speedUp(over: slowerHalf) == 2 && slowerHalf.median / drifting.median == 1.25)
    }

    /// The interleaved model benchmark builds each network and returns their rows in order.
    @Test func interleavedModelRowsFollowTheConfigurations() throws {
        let standard = try ChannelConfiguration.standard(.resnet20)
        var narrow = standard
        for i in narrow.widths.indices where narrow.widths[i].prunable { narrow.widths[i].channels = max(1, narrow.widths[i].channels / 2) }
        let rows = try ModelBenchmark(batch: 2, minSeconds: 0, warmup: 0).runInterleaved([standard, narrow], mode: .fwd)
        #expect(rows.count == 2)
        #expect(rows[0].macsPerImage == ComplexityCounter.totalMACs(standard))
        #expect(rows[1].macsPerImage == ComplexityCounter.totalMACs(narrow) && rows[1].macsPerImage < rows[0].macsPerImage)
        #expect(rows.allSatisfy { $0.samples.seconds.count == 5 && $0.imagesPerSecond > 0 })
    }
}
