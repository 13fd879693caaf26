import ArgumentParser
import Foundation
import PFSBench
import PFSTraining
import PFSModels
import PFSTensor

extension ConvBenchmark.Shapes: ExpressibleByArgument {}

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure kernel throughput (median of repeated runs).",
        discussion: """
            --op gemm: SGEMM GFLOPS at square and convolution-shaped sizes.
            --model resnet20|resnet56|vgg16|mobilenetv2 --mode fwd|train|gate: whole-network steps at \
            CIFAR size (median images/s after warm-up, GFLOPS, fraction of the SGEMM peak, peak memory), \
            the same work as the PyTorch peer's `torch_cifar.py bench`. Overrides --op.
            --op conv: 3×3 convolutions at CIFAR-ResNet shapes (16/32/64 channels at 32/16/8 pixels; \
            --shapes vgg: 64…512 channels at 32…2 pixels), forward and backward, with the kernel that ran \
            and the fraction of the SGEMM peak measured in the same run.
            --op latency with --model or --config: the per-layer inference latency table a latency budget \
            (`pfs prune --max-latency-ms`) predicts from, at --batch images, saved to the cache (per CPU, \
            instruction set, SGEMM backend, threads, batch and network; --out FILE to choose).
            --op loader --data DIR: the streaming loader alone on an image folder (DIR/CLASS/*.jpg): images/s \
            of --batch batches at --input px with --workers decoding threads, and peak memory.
            GFLOPS count 2 floating-point operations per multiply-accumulate. Use a release build.
            """)

    enum Op: String, ExpressibleByArgument, CaseIterable {
        case gemm, conv, latency, loader
    }

    @Option(help: "What to measure: \(Op.allCases.map(\.rawValue).joined(separator: ", ")).")
    var op: Op = .conv

    @Option(help: "Whole-network benchmark of this architecture (instead of --op gemm/conv; the network of --op latency).")
    var model: Architecture?

    @Option(help: "Whole-network benchmark of this configuration file (a pruned architecture, say) instead of --model.")
    var config: String?

    @Option(help: "With --model or --config: fwd, train or gate.")
    var mode: ModelBenchmark.Mode = .train

    @Option(help: "With --mode gate: the fraction (0 ≤ f < 1) of every gated width's gates set to exactly 0 first, as in a search under way (gate learning skips their channels).")
    var closedGates: Double = 0

    @Option(help: "Minimum timed seconds per measurement (at least 5 runs each; default 1, or 10 with --model).")
    var seconds: Double?

    @Option(help: "With --op conv: the layer shapes of resnet or vgg.")
    var shapes: ConvBenchmark.Shapes = .resnet

    @Option(help: "Batch size for --op conv and --model.")
    var batch: Int = 128

    @Flag(help: "Print one JSON object per measurement instead of a table.")
    var json = false

    @Option(help: "With --op latency: the table file to write (default: in the latency cache).")
    var out: String?

    @Option(help: "With --op loader: the image folder (DIR/CLASS/*.{jpg,png}).") var data: String?
    @Option(help: "Input side in pixels: of --model (default 32, CIFAR; e.g. 224 for resnet50/mobilenetv2) or of --op loader (default 224).")
    var input: Int?
    @Option(help: "Classes of --model's classifier (default 10 at 32 px, else 1000).") var classes: Int?
    @Option(help: "With --op loader: decoding threads.") var workers: Int = 2
    @Flag(help: "With --op loader: the evaluation transform (resize + centre crop) instead of RandomResizedCrop.")
    var evaluation = false

    @OptionGroup var engine: EngineOptions

    func validate() throws {
        if let seconds, !(seconds > 0) { throw ValidationError("--seconds must be positive, got \(seconds)") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        if model != nil && config != nil { throw ValidationError("give --model or --config, not both") }
        if op == .latency && model == nil && config == nil {
            throw ValidationError("--op latency needs the network: --model ARCH or --config FILE")
        }
        if out != nil && op != .latency { throw ValidationError("--out applies to --op latency") }
        try OutputPath.file("a latency table file (JSON)", name: "latency.json").check(out)
        guard closedGates >= 0 && closedGates < 1 else {
            throw ValidationError("--closed-gates must be a fraction, 0 ≤ f < 1, got \(closedGates)")
        }
        if closedGates > 0 && (mode != .gate || (model == nil && config == nil)) {
            throw ValidationError("--closed-gates applies to --mode gate with --model or --config")
        }
        if let classes, classes < 1 { throw ValidationError("--classes must be at least 1, got \(classes)") }
        if (input != nil || classes != nil) && model == nil && op != .loader {
            throw ValidationError("--input and --classes apply to --model (and --input to --op loader)")
        }
        if op == .loader {
            guard data != nil else { throw ValidationError("--op loader needs --data DIR (an image folder)") }
            if let input, !(1...4096).contains(input) { throw ValidationError("--input must be 1 … 4096 pixels, got \(input)") }
            guard (1...256).contains(workers) else { throw ValidationError("--workers must be 1 … 256, got \(workers)") }
        }
    }

    func run() throws {
        engine.apply()
        let bar = ProgressLine()
        let report: BenchmarkReport
        if op == .latency {
            let configuration = try config.map(ConfigurationFile.read) ?? ChannelConfiguration.standard(model!)
            let table = try LatencyTable.measure(configuration, batch: batch, minSeconds: seconds ?? 0.05, progress: bar.update)
            bar.finish()
            let file = out ?? LatencyCache.file(for: configuration, batch: batch)
            try table.save(to: file)
            print(LatencyCache.summary(table))
            print("saved  \(file)")
            return
        }
        if op == .loader {
            report = try BenchmarkSuite.loader(folder: data!, batch: batch, size: input ?? 224, workers: workers, training: !evaluation,
                                               minSeconds: seconds ?? 10, progress: bar.update)
        } else if model != nil || config != nil {
            let side = input ?? 32
            let configuration = try config.map(ConfigurationFile.read)
                ?? ChannelConfiguration.standard(model!, input: InputShape(channels: 3, height: side, width: side),
                                                 classes: classes ?? (side == 32 ? 10 : 1000))
            report = try BenchmarkSuite.model(configuration, mode: mode, batch: batch, minSeconds: seconds ?? 10,
                                              closedGates: closedGates, progress: bar.update)
        } else {
            switch op {
            case .gemm: report = BenchmarkSuite.gemm(minSeconds: seconds ?? 1, progress: bar.update)
            case .conv: report = try BenchmarkSuite.conv(batch: batch, minSeconds: seconds ?? 1, shapes: shapes,
                                                        progress: bar.update)
            case .latency, .loader: preconditionFailure("handled above")
            }
        }
        bar.finish()
        print(json ? report.jsonLines : report.text)
    }
}
