import ArgumentParser
import Foundation
import PFSPruning
import PFSTraining

/// Settings of gate learning (SPEC §3): a preset (`--gate-preset`), then any flag given overrides its field.
struct GateOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Starting point of gate learning: cifar or imagenet (SPEC §3); the flags below override it.",
                               discussion: "imagenet: λ 0.05, r 0.5, one pass over the data, validated every 1000 steps "
                                + "and at the end of the pass."))
    var gatePreset: GateSearchPreset = .cifar
    @Option(help: "Weight λ of the sparsity term λ·(mean gate − r)² (cifar 0.5, imagenet 0.05).") var lambda: Float?
    @Option(name: .customLong("target-ratio"),
            help: "Target mean gate r, also the selection rule's sparsity bound (cifar 0.2, imagenet 0.5).")
    var targetRatio: Float?
    @Option(help: "Adam learning rate of the gates.") var gateLr: Float = 0.01
    @Option(help: "Gate-learning epochs (cifar 10, 4 on the bundled sample; imagenet 1).") var gateEpochs: Int?
    @Option(help: "Images per gate-learning batch.") var gateBatchSize: Int = 128
    @Option(help: ArgumentHelp("Validate the gates every K optimiser steps and at each epoch's end, instead of per epoch "
                               + "(imagenet: 1000).",
                               discussion: "Each validation is a candidate of the selection rule and a checkpoint, so "
                                + "a long pass resumes mid-pass."))
    var validateEvery: Int?
    @Option(help: "Fraction of the training data held out to validate the gates (seeded split).")
    var validationFraction: Double = 0.1

    func validate() throws {
        do { try settings(seed: 1, widthMultiplier: 1, bundled: false).validate() } catch {
            throw ValidationError(flagWording(error, Self.flags))
        }
    }

    /// The flag behind each gate-learning setting.
    static let flags = ["lambda": "--lambda", "target ratio r": "--target-ratio", "gate learning rate": "--gate-lr",
                        "gate epochs": "--gate-epochs", "batch size": "--gate-batch-size",
                        "validation fraction": "--validation-fraction", "validation interval": "--validate-every"]

    func settings(seed: UInt64, widthMultiplier: Double, bundled: Bool) -> GateSearchSettings {
        var s = gatePreset.settings
        if let lambda { s.lambda = lambda }
        if let targetRatio { s.targetRatio = targetRatio }
        s.learningRate = gateLr
        if let gateEpochs { s.epochs = gateEpochs } else if bundled && gatePreset == .cifar { s.epochs = 4 }
        s.batchSize = gateBatchSize
        if let validateEvery { s.validateEverySteps = validateEvery }
        s.validationFraction = validationFraction
        s.widthMultiplier = widthMultiplier
        s.seed = seed
        return s
    }
}

/// The MAC budget, given one way only.
struct BudgetOptions: ParsableArguments {
    @Option(help: "Keep this fraction (0, 1] of the standard network's MACs (default 0.5 = remove half).")
    var keepMacs: Double?

    @Option(help: "Keep at most this many MACs per image (instead of --keep-macs).")
    var maxMacs: Int?

    func validate() throws {
        if keepMacs != nil && maxMacs != nil { throw ValidationError("give --keep-macs or --max-macs, not both") }
        if let keepMacs, !(keepMacs > 0 && keepMacs <= 1) {
            throw ValidationError("--keep-macs must be a fraction in (0, 1] of the standard MACs, got \(keepMacs)")
        }
        if let maxMacs, maxMacs <= 0 { throw ValidationError("--max-macs must be a positive number of MACs, got \(maxMacs)") }
    }

    var budget: Budget { maxMacs.map { .maxMACs($0) } ?? .keepFraction(keepMacs ?? 0.5) }
}

/// A latency budget instead of a MAC budget (`pfs prune`).
struct LatencyBudgetOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Keep the predicted inference latency at most this many milliseconds per batch of --latency-batch images.",
        discussion: "Predicted from a per-layer latency table measured on this machine (`pfs bench --op latency`), "
            + "cached per CPU, instruction set, threads and batch; measured now when none is cached."))
    var maxLatencyMs: Double?

    @Option(help: "Images per batch the latency budget is stated for.") var latencyBatch: Int = 1

    @Option(help: "Latency table file to predict from (default: the cached one for this machine).") var latencyTable: String?

    func validate() throws {
        if let maxLatencyMs, !(maxLatencyMs.isFinite && maxLatencyMs > 0) {
            throw ValidationError("--max-latency-ms must be a positive number of milliseconds, got \(maxLatencyMs)")
        }
        guard (1...4096).contains(latencyBatch) else {
            throw ValidationError("--latency-batch must be between 1 and 4096, got \(latencyBatch)")
        }
        if maxLatencyMs == nil && latencyTable != nil { throw ValidationError("--latency-table applies with --max-latency-ms") }
    }
}

/// How channels are kept: the minimum width of every pruned layer, the multiple widths are
/// rounded to (channel selection by scores only), and whose fixed widths a network searched with
/// width expansion keeps.
struct ChannelSelectionOptions: ParsableArguments {
    @Option(help: "Minimum channels kept in every prunable layer.")
    var minChannels: Int = 1

    @Option(help: ArgumentHelp(
        "Keep every pruned width a multiple of N (or the full width), e.g. 8 for vector-friendly layers.",
        discussion: "Still exact and never over the budget: each layer's count is rounded up within the search."))
    var roundTo: Int = 1

    @Option(help: ArgumentHelp(
        "After a width-expanded search: keep the standard network's fixed widths (standard) or the searched ones (expanded).",
        discussion: "expanded is the authors' variant (SPEC §3): a wide stem and residual stream, only gated interiors cut."))
    var fixedWidths: FixedWidths = .standard

    func validate() throws {
        guard minChannels >= 1 else { throw ValidationError("--min-channels must be at least 1, got \(minChannels)") }
        guard (1...1024).contains(roundTo) else { throw ValidationError("--round-to must be between 1 and 1024, got \(roundTo)") }
    }
}

/// Shows gate learning: a live line, then one row per epoch.
final class SearchDisplay {
    private let bar = ProgressLine()
    private let epochs: Int
    private var printedHeader = false
    private let start = Date()

    init(epochs: Int) { self.epochs = epochs }

    func handle(_ event: GateSearchEvent) {
        switch event {
        case let .step(epoch, step, steps, objective, meanGate, rate):
            let done = Double((epoch - 1) * steps + step), total = Double(epochs * steps)
            let eta = Date().timeIntervalSince(start) / done * (total - done)
            bar.show(fraction: done / total, text: "gates epoch \(epoch)/\(epochs) step \(step)/\(steps)  objective "
                     + String(format: "%.3f", objective) + "  mean gate " + String(format: "%.3f", meanGate)
                     + "  \(Int(rate)) img/s  ETA \(clock(eta))")
        case let .epoch(e):
            bar.finish()
            // A search validated every K steps shows the step of each point beside its epoch.
            let position = "\(e.epoch)/\(epochs)" + (e.step.map { " @\($0)" } ?? "")
            let width = e.step == nil ? 5 : 14
            if !printedHeader {
                print("epoch" + String(repeating: " ", count: width - 5) + "   objective   CE loss  train acc    val acc  mean gate  non-zero   img/s    time")
                printedHeader = true
            }
            print(pad(position, width) + pad(String(format: "%.4f", e.objective), 12)
                  + pad(String(format: "%.4f", e.trainLoss), 10) + pad(percent(e.trainAccuracy), 11)
                  + pad(percent(e.validationAccuracy), 11) + pad(String(format: "%.4f", e.meanGate), 11)
                  + pad(percent(e.nonZeroFraction), 10) + pad("\(Int(e.imagesPerSecond))", 8) + pad(clock(e.seconds), 8))
            fflush(stdout)
        }
    }

    func finish() { bar.finish() }
}

func describe(_ selection: GateSelection?, r: Float) -> String {
    guard let selection else { return "no epoch finished" }
    let points = selection.step == nil ? "epochs" : "validated points"
    switch selection.rule {
    case .bestValidationAmongSparseEpochs:
        return "\(selection.position): best validation accuracy among \(points) with ≤ \(percent(Double(r))) non-zero gates"
    case .lastEpochNoneSparse:
        let point = selection.step == nil ? "epoch" : "validated point"
        return "\(selection.position): no \(point) reached ≤ \(percent(Double(r))) non-zero gates, so the last \(point)"
    }
}
