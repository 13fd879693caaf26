import ArgumentParser
import Foundation
import PFSBench
import PFSTensor

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure kernel throughput (median of repeated runs).",
        discussion: """
            --op gemm: SGEMM GFLOPS at square and convolution-shaped sizes.
            --op conv: 3×3 convolutions at CIFAR-ResNet shapes (16/32/64 channels at 32/16/8 pixels), \
            forward and backward, with the fraction of the SGEMM peak measured in the same run.
            GFLOPS count 2 floating-point operations per multiply-accumulate. Use a release build.
            """)

    enum Op: String, ExpressibleByArgument, CaseIterable {
        case gemm, conv
    }

    @Option(help: "What to measure: \(Op.allCases.map(\.rawValue).joined(separator: ", ")).")
    var op: Op = .conv

    @Option(help: "Minimum timed seconds per measurement (at least 5 runs each).")
    var seconds: Double = 1

    @Option(help: "Batch size for --op conv.")
    var batch: Int = 128

    @Flag(help: "Print one JSON object per measurement instead of a table.")
    var json = false

    @OptionGroup var engine: EngineOptions

    func validate() throws {
        guard seconds > 0 else { throw ValidationError("--seconds must be positive, got \(seconds)") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
    }

    func run() throws {
        engine.apply()
        let bar = ProgressLine()
        let report: BenchmarkReport
        switch op {
        case .gemm: report = BenchmarkSuite.gemm(minSeconds: seconds, progress: bar.update)
        case .conv: report = try BenchmarkSuite.conv(batch: batch, minSeconds: seconds, progress: bar.update)
        }
        bar.finish()
        print(json ? report.jsonLines : report.text)
    }
}
