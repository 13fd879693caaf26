import Foundation
import PFSBench
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
}
