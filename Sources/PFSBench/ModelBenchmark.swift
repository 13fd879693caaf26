import Foundation
import PFSData
import PFSModels
import PFSNN
import PFSPruning
import PFSTensor
import PFSTraining

/// Whole-network steps at the configuration's input size (CIFAR's 3×32×32 by default; 224 px for
/// the ImageNet networks), as `pfs bench --model` runs them and
/// as the PyTorch peer (`torch_cifar.py bench`) runs the same work.
public struct ModelBenchmark {
    public enum Mode: String, CaseIterable, Sendable {
        /// Inference: forward in evaluation mode.
        case fwd
        /// One SGD training step: forward (BatchNorm batch statistics), cross-entropy, backward, update
        /// (lr 0.01, momentum 0.9, weight decay 1e-4, like the peer).
        case train
        /// One gate-learning step of the pipeline: weights frozen, BatchNorm in training mode, the
        /// SPEC §3 objective, Adam on the gates, projection to [0, 1].
        case gate

        /// Multiply-accumulates per image in units of the forward MACs: forward 1; training 3
        /// (forward, input gradient, weight gradient); gate 2 (no weight gradient).
        public var forwardMultiple: Int {
            switch self {
            case .fwd: return 1
            case .train: return 3
            case .gate: return 2
            }
        }
    }

    public struct Row: Sendable {
        public var architecture: Architecture
        public var mode: Mode
        public var batch: Int
        public var macsPerImage: Int
        public var samples: Samples
        /// Peak resident memory of the process (VmHWM) after the measurement, in bytes; nil where
        /// the platform does not report it.
        public var peakMemoryBytes: Int?

        public var imagesPerSecond: Double { Double(batch) / samples.median }
        /// GFLOPS achieved: 2 · forward MACs · ``Mode/forwardMultiple`` per image.
        public var gflops: Double { 2 * Double(macsPerImage * mode.forwardMultiple) * imagesPerSecond * 1e-9 }
    }

    public var batch: Int
    public var minSeconds: Double
    public var warmup: Int
    /// Gate mode: the fraction of every gated width's channels whose gate starts at exactly 0
    /// (chosen at random, seed 1), as in a search under way; 0 = every gate open (at 1).
    public var closedGates: Double

    public init(batch: Int = 128, minSeconds: Double = 10, warmup: Int = 3, closedGates: Double = 0) {
        self.batch = batch
        self.minSeconds = minSeconds
        self.warmup = warmup
        self.closedGates = closedGates
    }

    public func run(_ architecture: Architecture, mode: Mode) throws -> Row {
        try run(try ChannelConfiguration.standard(architecture), mode: mode)
    }

    /// Times the network of any configuration (a pruned one, say) on random inputs of its shape.
    public func run(_ configuration: ChannelConfiguration, mode: Mode) throws -> Row {
        let step = try makeStep(configuration, mode: mode)
        var failure: Error?
        let samples = Samples.measure(warmup: warmup, minSeconds: minSeconds) {
            do { try step() } catch { failure = error }
        }
        if let failure { throw failure }
        return row(configuration, mode: mode, samples: samples)
    }

    /// Times the networks of several configurations step by step in turn (one step of each per
    /// round, ``Samples/measureInterleaved(warmup:minRuns:maxRuns:minSeconds:_:)``), so their ratios
    /// hold on a machine whose speed drifts: one row per configuration, in order, whose samples
    /// pair up by round (``Samples/speedUp(over:)``). Every network is held in memory at once.
    public func runInterleaved(_ configurations: [ChannelConfiguration], mode: Mode) throws -> [Row] {
        let steps = try configurations.map { try makeStep($0, mode: mode) }
        var failure: Error?
        let samples = Samples.measureInterleaved(warmup: warmup, minSeconds: minSeconds, steps.map { step in
            { do { try step() } catch { failure = failure ?? error } }
        })
        if let failure { throw failure }
        return zip(configurations, samples).map { row($0, mode: mode, samples: $1) }
    }

    private func row(_ configuration: ChannelConfiguration, mode: Mode, samples: Samples) -> Row {
        Row(architecture: configuration.architecture, mode: mode, batch: batch,
            macsPerImage: ComplexityCounter.totalMACs(configuration), samples: samples,
            peakMemoryBytes: Self.peakResidentBytes())
    }

    /// One step of `mode` on the network of `configuration`, with its inputs and state built.
    private func makeStep(_ configuration: ChannelConfiguration, mode: Mode) throws -> () throws -> Void {
        var rng = RandomGenerator(seed: 1)
        let input = configuration.input
        let x = Tensor.randomNormal([batch, input.channels, input.height, input.width], using: &rng)
        let labels = (0..<batch).map { _ in rng.int(below: configuration.classes) }
        let step: () throws -> Void
        switch mode {
        case .fwd:
            let network = try ModelBuilder.build(configuration, seed: 1)
            step = { _ = try network.forward(x, mode: .inference) }
        case .train:
            let network = try ModelBuilder.build(configuration, seed: 1)
            let loss = try SoftmaxCrossEntropy()
            let sgd = try SGD(network.parameters, learningRate: 0.01, momentum: 0.9, weightDecay: WeightDecay(1e-4))
            step = {
                sgd.zeroGradients()
                let logits = try network.forward(x, mode: .training)
                _ = try loss.forward(logits: logits, labels: labels)
                _ = try network.backward(try loss.backward())
                sgd.step()
            }
        case .gate:
            // GateSearch needs a dataset with a validation part; the step itself uses `x`.
            let pixels = (0..<(20 * input.channels * input.height * input.width)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let images = try ImageDataset(pixels: pixels, labels: (0..<20).map { $0 % configuration.classes },
                                          channels: input.channels, height: input.height, width: input.width,
                                          classNames: (0..<configuration.classes).map { "c\($0)" }, source: "benchmark")
            let data = PreparedData(train: images, validation: images, test: nil, normalization: .cifar10,
                                    description: "benchmark")
            let search = try GateSearch(configuration: configuration, settings: GateSearchSettings(),
                                        source: .randomInitialization(seed: 1), data: data)
            for gate in search.network.gates where closedGates > 0 {
                // A closed gate stays at 0: its CE gradient is 0 and the sparsity term pushes it down.
                var order = Array(0..<gate.channels)
                rng.shuffle(&order)
                let closed = Int((closedGates * Double(gate.channels)).rounded())
                gate.gate.value.withUnsafeMutableBufferPointer { v in for c in order.prefix(closed) { v[c] = 0 } }
            }
            step = {
                try search.objectiveAndGradient(images: x, labels: labels)
                search.optimizer.step()
            }
        }
        return step
    }

    /// VmHWM of /proc/self/status (Linux), in bytes.
    static func peakResidentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, let kb = Int(fields[1]) { return kb * 1024 }
        }
        return nil
    }
}

extension BenchmarkSuite {
    /// One model and mode, with the fraction of the SGEMM peak measured in the same run.
    /// `closedGates`: see ``ModelBenchmark/closedGates`` (gate mode).
    public static func model(_ configuration: ChannelConfiguration, mode: ModelBenchmark.Mode, batch: Int, minSeconds: Double,
                             closedGates: Double = 0,
                             progress: ProgressHandler = { _, _, _ in }) throws -> BenchmarkReport {
        let architecture = configuration.architecture
        progress(0, 2, "SGEMM peak")
        let peak = GEMMBenchmark(backend: Engine.gemm, threads: Engine.threads, minSeconds: 1).peak()
        progress(1, 2, "\(architecture.rawValue) \(mode.rawValue) batch \(batch)")
        let r = try ModelBenchmark(batch: batch, minSeconds: minSeconds, closedGates: closedGates)
            .run(configuration, mode: mode)
        progress(2, 2, "done")
        let memory = r.peakMemoryBytes.map { format(Double($0) / 1_048_576, 0) } ?? "-"
        let row = [architecture.rawValue, mode.rawValue, "\(batch)", format(r.imagesPerSecond),
                   format(Double(batch) / r.samples.max), format(Double(batch) / r.samples.min), format(r.gflops),
                   format(100 * r.gflops / peak) + "%", memory, "\(r.samples.seconds.count)"]
        var record = context().merging([
            "model": architecture.rawValue, "mode": mode.rawValue, "batch": batch, "macs_per_image": r.macsPerImage,
            "img_s_median": r.imagesPerSecond, "img_s_min": Double(batch) / r.samples.max,
            "img_s_max": Double(batch) / r.samples.min, "gflops": r.gflops, "sgemm_peak_gflops": peak,
            "steps": r.samples.seconds.count, "closed_gates": closedGates,
        ]) { a, _ in a }
        if let bytes = r.peakMemoryBytes { record["peak_rss_mb"] = Double(bytes) / 1_048_576 }
        return BenchmarkReport(
            title: "\(architecture.rawValue) \(mode.rawValue) step, batch \(batch), \(configuration.input), "
                + "\(configuration.classes) classes, \(setting)",
            notes: ["GFLOPS = 2 × forward MACs × (1 fwd, 3 train, 2 gate) per image; SGEMM peak \(format(peak)) GFLOPS; "
                    + "memory = peak resident set of the process"]
                + (closedGates > 0 ? ["\(format(100 * closedGates, 0)) % of every gated width's gates closed (at 0), "
                                      + "which gate learning skips: GFLOPS count the full network's MACs"] : []),
            header: ["model", "mode", "batch", "img/s median", "img/s min", "img/s max", "GFLOPS", "of peak", "peak MB",
                     "steps"],
            rows: [row], records: [record])
    }
}
