import Foundation
import PFSTensor

/// A finished benchmark: a title, context lines, and rows that render as an aligned table or as
/// JSON lines (one object per row, the format `Benchmarks/peer/torch_conv.py` prints too).
public struct BenchmarkReport {
    public var title: String
    public var notes: [String]
    public var header: [String]
    public var rows: [[String]]
    /// One dictionary per row for JSON output (numbers stay numbers).
    public var records: [[String: Any]]

    public init(title: String, notes: [String], header: [String], rows: [[String]], records: [[String: Any]]) {
        self.title = title; self.notes = notes; self.header = header; self.rows = rows; self.records = records
    }

    public var text: String {
        ([title] + notes + [renderTable(header: header, rows: rows)]).joined(separator: "\n")
    }

    public var jsonLines: String {
        records.compactMap { record in
            guard let data = try? JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]) else { return nil }
            return String(decoding: data, as: UTF8.self)
        }.joined(separator: "\n")
    }
}

/// Reports the progress of a long measurement: (finished steps, total steps, what runs next).
public typealias ProgressHandler = (_ done: Int, _ total: Int, _ label: String) -> Void

/// The measurements behind `pfs bench`.
public enum BenchmarkSuite {
    static func context() -> [String: Any] {
        ["peer": "pfs", "backend": Engine.gemm.rawValue, "threads": Engine.threads,
         "build": Engine.isDebugBuild ? "debug" : "release", "isa": Engine.kernels.isa.rawValue,
         "cpu": CPUInfo.current().model]
    }

    static var setting: String {
        "backend \(Engine.gemm.detailed), kernels \(Engine.kernels), \(Engine.threads) thread(s), "
            + (Engine.isDebugBuild ? "DEBUG build (numbers meaningless; use -c release)" : "release build")
    }

    /// SGEMM at ``GEMMBenchmark/defaultShapes`` on the current engine settings.
    public static func gemm(minSeconds: Double, progress: ProgressHandler = { _, _, _ in }) -> BenchmarkReport {
        let bench = GEMMBenchmark(backend: Engine.gemm, threads: Engine.threads, minSeconds: minSeconds)
        var rows: [[String]] = [], records: [[String: Any]] = []
        for (i, s) in GEMMBenchmark.defaultShapes.enumerated() {
            progress(i, GEMMBenchmark.defaultShapes.count, "gemm \(s.0)×\(s.1)×\(s.2)")
            let r = bench.run(m: s.0, n: s.1, k: s.2)
            rows.append(["\(r.m)", "\(r.n)", "\(r.k)", format(r.samples.median * 1e3, 3), format(r.gflops),
                         "\(r.samples.seconds.count)"])
            records.append(context().merging(["op": "gemm", "m": r.m, "n": r.n, "k": r.k, "median_ms": r.samples.median * 1e3,
                                              "gflops": r.gflops, "runs": r.samples.seconds.count]) { a, _ in a })
        }
        progress(GEMMBenchmark.defaultShapes.count, GEMMBenchmark.defaultShapes.count, "done")
        return BenchmarkReport(title: "SGEMM, \(setting)", notes: [], header: ["m", "n", "k", "median ms", "GFLOPS", "runs"],
                               rows: rows, records: records)
    }

    /// 3×3 convolutions at CIFAR-ResNet (or VGG) shapes, every pass, with the fraction of the SGEMM
    /// peak measured first in the same run.
    public static func conv(batch: Int, minSeconds: Double, shapes: ConvBenchmark.Shapes = .resnet,
                            progress: ProgressHandler = { _, _, _ in }) throws -> BenchmarkReport {
        let jobs = shapes.list.flatMap { s in ConvBenchmark.Pass.allCases.map { (s, $0) } }
        progress(0, jobs.count + 1, "SGEMM peak")
        let peak = GEMMBenchmark(backend: Engine.gemm, threads: Engine.threads, minSeconds: minSeconds).peak()
        let bench = ConvBenchmark(batch: batch, minSeconds: minSeconds)
        var rows: [[String]] = [], records: [[String: Any]] = []
        for (i, job) in jobs.enumerated() {
            progress(i + 1, jobs.count + 1, "conv \(job.0.0)ch \(job.0.1)px \(job.1.rawValue)")
            let r = try bench.run(channels: job.0.0, size: job.0.1, pass: job.1)
            rows.append(["\(r.channels)", "\(r.size)×\(r.size)", r.pass.rawValue, r.kernel,
                         format(r.samples.median * 1e3, 2), format(r.gflops), format(100 * r.gflops / peak) + "%"])
            records.append(context().merging([
                "op": "conv", "channels": r.channels, "pixels": r.size, "batch": r.batch, "pass": r.pass.rawValue,
                "algorithm": r.kernel, "median_ms": r.samples.median * 1e3, "gflops": r.gflops, "sgemm_peak_gflops": peak,
                "runs": r.samples.seconds.count,
            ]) { a, _ in a })
        }
        progress(jobs.count + 1, jobs.count + 1, "done")
        return BenchmarkReport(
            title: "3×3 convolution, stride 1, padding 1, batch \(batch), \(setting)",
            notes: ["SGEMM peak (best median of 512³, 1024³): \(format(peak)) GFLOPS"],
            header: ["channels", "pixels", "pass", "kernel", "median ms", "GFLOPS", "of peak"], rows: rows, records: records)
    }
}
