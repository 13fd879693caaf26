import ArgumentParser
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
            GFLOPS count 2 floating-point operations per multiply-accumulate.
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

    @OptionGroup var engine: EngineOptions

    func validate() throws {
        guard seconds > 0 else { throw ValidationError("--seconds must be positive, got \(seconds)") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
    }

    func run() throws {
        engine.apply()
        let setting = "backend \(Engine.gemm), \(Engine.threads) thread(s), \(Engine.isDebugBuild ? "DEBUG build (numbers meaningless; use -c release)" : "release build")"
        let gemm = GEMMBenchmark(backend: Engine.gemm, threads: Engine.threads, minSeconds: seconds)
        switch op {
        case .gemm:
            print("SGEMM, \(setting)")
            var rows: [[String]] = []
            for (i, s) in GEMMBenchmark.defaultShapes.enumerated() {
                progress("gemm \(s.0)×\(s.1)×\(s.2)", i, GEMMBenchmark.defaultShapes.count)
                let r = gemm.run(m: s.0, n: s.1, k: s.2)
                rows.append(["\(r.m)", "\(r.n)", "\(r.k)", fmt(r.samples.median * 1e3, 3), fmt(r.gflops), "\(r.samples.seconds.count)"])
            }
            clearProgress()
            print(renderTable(header: ["m", "n", "k", "median ms", "GFLOPS", "runs"], rows: rows))
        case .conv:
            progress("SGEMM peak", 0, 1)
            let peak = gemm.peak()
            let bench = ConvBenchmark(batch: batch, minSeconds: seconds)
            var rows: [[String]] = []
            let jobs = ConvBenchmark.cifarResNetShapes.flatMap { s in ConvBenchmark.Pass.allCases.map { (s, $0) } }
            for (i, job) in jobs.enumerated() {
                progress("conv \(job.0.0)ch \(job.0.1)px \(job.1.rawValue)", i, jobs.count)
                let r = try bench.run(channels: job.0.0, size: job.0.1, pass: job.1)
                rows.append(["\(r.channels)", "\(r.size)×\(r.size)", r.pass.rawValue, fmt(r.samples.median * 1e3, 2),
                             fmt(r.gflops), fmt(100 * r.gflops / peak) + "%"])
            }
            clearProgress()
            print("3×3 convolution, stride 1, padding 1, batch \(batch), \(setting)")
            print("SGEMM peak (best median of 512³, 1024³): \(fmt(peak)) GFLOPS")
            print(renderTable(header: ["channels", "pixels", "pass", "median ms", "GFLOPS", "of peak"], rows: rows))
        }
    }
}

func fmt(_ v: Double, _ digits: Int = 1) -> String {
    let p = Double(pow10(digits))
    return String(Double((v * p).rounded()) / p)
}

private func pow10(_ n: Int) -> Int { (0..<n).reduce(1) { acc, _ in acc * 10 } }

/// One-line progress on standard error: step, total and what is being measured.
func progress(_ label: String, _ step: Int, _ total: Int) {
    var line = "[\(step + 1)/\(total)] \(label)…"
    line += String(repeating: " ", count: max(0, 60 - line.count))
    FileHandleStderr.write("\r" + line)
}

func clearProgress() { FileHandleStderr.write("\r" + String(repeating: " ", count: 60) + "\r") }

enum FileHandleStderr {
    static func write(_ s: String) {
        #if canImport(Glibc)
        fputs(s, stderr)
        #else
        fputs(s, stderr)
        #endif
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
