import Foundation
import PFSModels
import PFSNN
import PFSPruning
import PFSTensor
import PFSTraining

/// Per-layer inference latency of one architecture on this machine, as a function of each
/// layer's channel counts: what a latency budget (`pfs prune --max-latency-ms`) predicts from.
///
/// **What is measured.** Every convolution of the full network (every width at its largest) runs
/// with its BatchNorm and ReLU, alone, in inference mode at `batch` images of its own input size,
/// at a grid of channel counts for each prunable width it reads or writes (1 channel and ⅛ … 8⁄8 of
/// the full width): a 1-D grid for a layer with one prunable side (ResNet blocks), 2-D for two
/// (VGG), the diagonal for a depthwise layer; the classifier likewise. Each grid is made
/// non-decreasing in both channel counts (a running maximum), so predictions never fall when a
/// width grows — the budget search's bisection needs that.
///
/// **Prediction.** The sum over layers of the bilinear interpolation in (C_in, C_out), times one
/// calibration factor: the median ratio of the whole network's measured latency to that sum, at
/// the full network and at every prunable width × ¼ and × ½ (pooling, residual adds and framework
/// overhead are in the factor, not the table).
///
/// **Validity.** A table holds for the CPU, instruction set, SGEMM backend and thread count it
/// was measured with (``Machine``), one batch size and one full network; ``cacheFileName`` keys
/// all of them so a cached table is never used for another setting.
public struct LatencyTable: Codable, Sendable {
    public static let format = "pfs.latency-table/1"

    /// Where a table was measured.
    public struct Machine: Codable, Equatable, Sendable, CustomStringConvertible {
        public var cpu: String
        public var isa: String
        /// The SGEMM backend, with the OpenBLAS kernel family where there is one (`system (OpenBLAS Haswell)`).
        public var gemm: String
        public var threads: Int
        /// The engine's kernel families and their revision (``KernelSettings/revision``), e.g.
        /// `AVX-512, direct 3×3 conv, channel-vector kernels; kernels r2`. `nil` in tables written
        /// before it was recorded, which are therefore measured again.
        public var kernels: String? = nil

        /// This process's CPU, kernels, SGEMM backend (and BLAS kernels) and threads.
        public static var current: Machine {
            Machine(cpu: CPUInfo.current().model, isa: Engine.kernels.isa.description, gemm: Engine.gemm.detailed,
                    threads: Engine.threads, kernels: "\(Engine.kernels); kernels \(KernelSettings.revision)")
        }

        public var description: String {
            "\(cpu), \(kernels ?? "\(isa), kernels not recorded"), \(gemm) SGEMM, \(threads) thread(s)"
        }
    }

    /// One convolution (with its BatchNorm and ReLU) or the classifier.
    public struct Layer: Codable, Equatable, Sendable {
        public var name: String
        /// `conv`, `depthwise` or `linear`.
        public var kind: String
        public var kernel: Int
        public var stride: Int
        public var padding: Int
        /// Input height and width (1 × 1 for the classifier).
        public var height: Int
        public var width: Int
        /// Index (among the prunable widths) of the width that sets C_in / C_out; nil = fixed.
        public var inputWidth: Int?
        public var outputWidth: Int?
        /// Channel counts measured; one entry for a fixed side. A depthwise layer (C_in = C_out)
        /// has `inputGrid == outputGrid` and only the diagonal is measured: `milliseconds[0][j]`.
        public var inputGrid: [Int]
        public var outputGrid: [Int]
        /// `milliseconds[i][j]`: median latency at C_in = inputGrid[i], C_out = outputGrid[j],
        /// made non-decreasing along both axes.
        public var milliseconds: [[Double]]

        var isDepthwise: Bool { kind == "depthwise" }
    }

    /// The whole network measured against the table's sum, for the calibration factor.
    public struct CalibrationPoint: Codable, Equatable, Sendable {
        /// The prunable widths' scale (1 = the full network).
        public var scale: Double
        public var measuredMilliseconds: Double
        public var summedMilliseconds: Double
    }

    public var format = LatencyTable.format
    public var machine: Machine
    public var batch: Int
    /// The full network the table spans; predictions need the same fixed widths and prunable
    /// widths no larger than these.
    public var full: ChannelConfiguration
    public var layers: [Layer]
    public var calibration: Double
    public var calibrationPoints: [CalibrationPoint]
    public var measuredAt: String
    public var measuringSeconds: Double

    // MARK: Prediction

    /// Predicted inference latency of `configuration` (ms per batch of ``batch`` images).
    public func predictMilliseconds(_ configuration: ChannelConfiguration) throws(PruningError) -> Double {
        calibration * (try summedMilliseconds(configuration))
    }

    /// The table's uncalibrated sum for `configuration`.
    public func summedMilliseconds(_ configuration: ChannelConfiguration) throws(PruningError) -> Double {
        let costs = ComplexityCounter.count(configuration).layers
        guard configuration.architecture == full.architecture, configuration.input == full.input,
              configuration.classes == full.classes, costs.count == layers.count else {
            throw .mismatch(file: "latency table", field: "network", expected: "a \(full.architecture.rawValue) for "
                            + "\(full.input) inputs and \(full.classes) classes (the table's)",
                            got: "\(configuration.architecture.rawValue), \(configuration.input), \(configuration.classes) classes")
        }
        for (a, b) in zip(configuration.widths, full.widths) where !a.prunable && a.channels != b.channels {
            throw .mismatch(file: "latency table", field: "fixed width \(a.name)",
                            expected: "\(b.channels) channels (the table's full network)", got: "\(a.channels)")
        }
        var total = 0.0
        for (layer, cost) in zip(layers, costs) {
            let cin = cost.inputShape[0], cout = cost.outputShape[0]
            guard cin <= layer.inputGrid.last!, cout <= layer.outputGrid.last! else {
                throw .mismatch(file: "latency table", field: "layer \(layer.name)",
                                expected: "at most \(layer.inputGrid.last!) → \(layer.outputGrid.last!) channels (the table's)",
                                got: "\(cin) → \(cout)")
            }
            total += layer.interpolate(cin: cin, cout: cout)
        }
        return total
    }

    /// The predicted latency as a budget-search limit of `milliseconds`.
    public func limit(milliseconds: Double) -> CostLimit {
        let table = self
        return CostLimit(name: "predicted latency", flag: "max-latency-ms", unit: "ms", limit: milliseconds) { c throws(PruningError) in
            try table.predictMilliseconds(c)
        }
    }

    // MARK: Measuring

    /// The channel counts measured for a width of `full` channels: 1 and ⅛ … 8⁄8 of it.
    public static func grid(_ full: Int) -> [Int] {
        Array(Set([1] + (1...8).map { max(1, Int((Double(full) * Double($0) / 8).rounded())) })).sorted()
    }

    /// Measures the table of `full` at `batch` images; each layer point is timed for at least
    /// `minSeconds` (after one warm-up), each calibration network for `5 × minSeconds`.
    public static func measure(_ full: ChannelConfiguration, batch: Int, minSeconds: Double = 0.05,
                               progress: (_ done: Int, _ total: Int, _ what: String) -> Void = { _, _, _ in })
        throws -> LatencyTable {
        guard batch >= 1 && batch <= 4096 else {
            throw PruningError.setting(field: "latency batch", expected: "1 … 4096 images", got: "\(batch)")
        }
        let start = Date()
        let costs = ComplexityCounter.count(full).layers
        let nodes = Dictionary(LayerGraph.convolutions(full).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        // Which prunable width sets each layer's C_in and C_out: change one width, see who moves.
        var inputWidth = [Int?](repeating: nil, count: costs.count), outputWidth = inputWidth
        let prunable = full.prunableWidths
        for j in prunable.indices where prunable[j] >= 2 {
            var smaller = prunable
            smaller[j] -= 1
            let changed = ComplexityCounter.count(try full.withPrunableWidths(smaller)).layers
            for l in costs.indices {
                if changed[l].inputShape[0] != costs[l].inputShape[0] { inputWidth[l] = j }
                if changed[l].outputShape[0] != costs[l].outputShape[0] { outputWidth[l] = j }
            }
        }
        var layers: [Layer] = []
        let total = costs.count + 3
        for (l, cost) in costs.enumerated() {
            progress(l, total, cost.name)
            let node = nodes[cost.name]
            let spatial = cost.inputShape.count == 3 ? (cost.inputShape[1], cost.inputShape[2]) : (1, 1)
            var layer = Layer(name: cost.name, kind: cost.kind, kernel: node?.kernel ?? 1, stride: node?.stride ?? 1,
                              padding: node?.padding ?? 0, height: spatial.0, width: spatial.1,
                              inputWidth: inputWidth[l], outputWidth: outputWidth[l],
                              inputGrid: inputWidth[l] == nil ? [cost.inputShape[0]] : grid(cost.inputShape[0]),
                              outputGrid: outputWidth[l] == nil ? [cost.outputShape[0]] : grid(cost.outputShape[0]),
                              milliseconds: [])
            if layer.isDepthwise {
                layer.inputGrid = layer.outputGrid
                layer.milliseconds = [try layer.outputGrid.map { c in try time(layer, cin: c, cout: c, batch: batch, minSeconds: minSeconds) }]
            } else {
                layer.milliseconds = try layer.inputGrid.map { cin in
                    try layer.outputGrid.map { cout in try time(layer, cin: cin, cout: cout, batch: batch, minSeconds: minSeconds) }
                }
            }
            layer.makeNonDecreasing()
            layers.append(layer)
        }
        var table = LatencyTable(machine: .current, batch: batch, full: full, layers: layers, calibration: 1,
                                 calibrationPoints: [], measuredAt: ISO8601DateFormatter().string(from: Date()),
                                 measuringSeconds: 0)
        for (k, scale) in [1.0, 0.5, 0.25].enumerated() {
            progress(costs.count + k, total, "whole network × \(scale)")
            let configuration = try full.withPrunableWidths(prunable.map { max(1, Int((Double($0) * scale).rounded())) })
            let measured = try measureNetwork(configuration, batch: batch, minSeconds: 5 * minSeconds)
            table.calibrationPoints.append(CalibrationPoint(scale: scale, measuredMilliseconds: measured,
                                                            summedMilliseconds: try table.summedMilliseconds(configuration)))
        }
        let ratios = table.calibrationPoints.map { $0.measuredMilliseconds / $0.summedMilliseconds }.sorted()
        table.calibration = ratios[ratios.count / 2]
        table.measuringSeconds = Date().timeIntervalSince(start)
        progress(total, total, "done")
        return table
    }

    /// Median inference latency (ms) of the whole network of `configuration` at `batch` images.
    public static func measureNetwork(_ configuration: ChannelConfiguration, batch: Int, minSeconds: Double) throws -> Double {
        let network = try ModelBuilder.build(configuration, seed: 1)
        var rng = RandomGenerator(seed: 1)
        let input = configuration.input
        let x = Tensor.randomNormal([batch, input.channels, input.height, input.width], using: &rng)
        var failure: Error?
        let samples = Samples.measure(warmup: 5, minRuns: 5, minSeconds: minSeconds) {
            do { _ = try network.forward(x, mode: .inference) } catch { failure = error }
        }
        if let failure { throw failure }
        return samples.median * 1000
    }

    /// Median latency (ms) of one layer alone at (cin, cout): convolution + BatchNorm + ReLU, run
    /// as a network runs them (one ``Sequential``: the BatchNorm and ReLU folded into the
    /// convolution's output pass, or fused into one pass after it), or the classifier.
    static func time(_ layer: Layer, cin: Int, cout: Int, batch: Int, minSeconds: Double) throws -> Double {
        var rng = RandomGenerator(seed: 7)
        let step: () throws -> Void
        if layer.kind == "linear" {
            let fc = try Linear(inFeatures: cin, outFeatures: cout, rng: &rng)
            let x = Tensor.randomNormal([batch, cin], using: &rng)
            step = { _ = try fc.forward(x, mode: .inference) }
        } else {
            let conv = try Conv2d(inChannels: cin, outChannels: cout, kernelSize: layer.kernel, stride: layer.stride,
                                  padding: layer.padding, groups: layer.isDepthwise ? cin : 1, rng: &rng)
            let unit = Sequential([conv, try BatchNorm2d(channels: cout), ReLU()])
            let x = Tensor.randomNormal([batch, cin, layer.height, layer.width], using: &rng)
            step = { _ = try unit.forward(x, mode: .inference) }
        }
        var failure: Error?
        let samples = Samples.measure(warmup: 1, minRuns: 5, minSeconds: minSeconds) {
            do { try step() } catch { failure = error }
        }
        if let failure { throw failure }
        return samples.median * 1000
    }

    // MARK: Files

    /// `latency-resnet20-b1-t2-avx512-<hash>.json`: architecture, batch, threads and ISA in clear,
    /// and a hash of everything else the table depends on (CPU, SGEMM backend, the full network).
    public static func cacheFileName(for full: ChannelConfiguration, batch: Int, machine: Machine = .current) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325     // FNV-1a 64
        for byte in Array(machine.cpu.utf8) + Array(machine.gemm.utf8) + Array((machine.kernels ?? "").utf8)
            + Array(full.jsonData()) {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return "latency-\(full.architecture.rawValue)-b\(batch)-t\(machine.threads)-\(machine.isa)-"
            + String(hash, radix: 16) + ".json"
    }

    public func save(to file: String) throws {
        let directory = (file as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: file)
    }

    /// Reads a table; refuses another format, or a table measured for another machine setting.
    public static func load(_ file: String, expecting machine: Machine? = nil) throws(PruningError) -> LatencyTable {
        let data: Data
        do { data = try AtomicFile.read(file) } catch { throw PruningError(wrapping: error) }
        let table: LatencyTable
        do { table = try JSONDecoder().decode(LatencyTable.self, from: data) } catch {
            throw .mismatch(file: file, field: "(document)", expected: "a latency table written by pfs bench (\(format))",
                            got: JSONText.describe(error, in: data))
        }
        guard table.format == format else {
            throw .mismatch(file: file, field: "format", expected: format, got: "\"\(table.format)\"")
        }
        if let machine, table.machine != machine {
            throw .mismatch(file: file, field: "machine", expected: "a table measured here (\(machine))",
                            got: "\(table.machine)")
        }
        try table.validate(file: file)
        return table
    }

    /// Checks the grids and values a prediction relies on.
    func validate(file: String) throws(PruningError) {
        let costs = ComplexityCounter.count(full).layers
        guard costs.count == layers.count else {
            throw .mismatch(file: file, field: "layers", expected: "\(costs.count) layers of \(full.architecture.rawValue)",
                            got: "\(layers.count)")
        }
        guard calibration.isFinite && calibration > 0 else {
            throw .mismatch(file: file, field: "calibration", expected: "a positive factor", got: "\(calibration)")
        }
        for (i, layer) in layers.enumerated() {
            let rows = layer.isDepthwise ? 1 : layer.inputGrid.count
            let sorted = { (g: [Int]) in !g.isEmpty && g.first! >= 1 && zip(g, g.dropFirst()).allSatisfy { $0 < $1 } }
            guard sorted(layer.inputGrid), sorted(layer.outputGrid), layer.milliseconds.count == rows,
                  layer.milliseconds.allSatisfy({ $0.count == layer.outputGrid.count && $0.allSatisfy { $0.isFinite && $0 >= 0 } })
            else {
                throw .mismatch(file: file, field: "layers[\(i)] (\(layer.name))",
                                expected: "ascending channel grids and one finite latency per grid point", got: "another shape")
            }
        }
    }
}

extension LatencyTable.Layer {
    /// Bilinear interpolation of the (non-decreasing) grid at (cin, cout), clamped to the grid.
    public func interpolate(cin: Int, cout: Int) -> Double {
        func bracket(_ grid: [Int], _ value: Int) -> (Int, Int, Double) {
            guard grid.count > 1, value > grid[0] else { return (0, 0, 0) }
            guard let upper = grid.firstIndex(where: { $0 >= value }) else { return (grid.count - 1, grid.count - 1, 0) }
            let lower = upper - 1
            return (lower, upper, Double(value - grid[lower]) / Double(grid[upper] - grid[lower]))
        }
        let (j0, j1, v) = bracket(outputGrid, cout)
        if isDepthwise {
            let row = milliseconds[0]
            return row[j0] + v * (row[j1] - row[j0])
        }
        let (i0, i1, u) = bracket(inputGrid, cin)
        let top = milliseconds[i0][j0] + v * (milliseconds[i0][j1] - milliseconds[i0][j0])
        let bottom = milliseconds[i1][j0] + v * (milliseconds[i1][j1] - milliseconds[i1][j0])
        return top + u * (bottom - top)
    }

    /// Running maximum along both axes, so that more channels never predict less time.
    public mutating func makeNonDecreasing() {
        for i in milliseconds.indices {
            for j in milliseconds[i].indices {
                if i > 0 { milliseconds[i][j] = max(milliseconds[i][j], milliseconds[i - 1][j]) }
                if j > 0 { milliseconds[i][j] = max(milliseconds[i][j], milliseconds[i][j - 1]) }
            }
        }
    }
}
