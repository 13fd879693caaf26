import Foundation
import PFSModels
import PFSTraining

/// A named starting point for ``GateSearchSettings`` (SPEC §3); explicit settings override it.
public enum GateSearchPreset: String, Codable, CaseIterable, Sendable {
    /// λ 0.5, r 0.2, 10 epochs, validated after every epoch.
    case cifar
    /// λ 0.05, r 0.5, one pass over the data, validated every 1,000 steps and at the end of the pass.
    case imagenet

    public var settings: GateSearchSettings {
        switch self {
        case .cifar: return GateSearchSettings()
        case .imagenet: return .imageNet
        }
    }
}

/// Settings of gate learning (SPEC §3). Defaults are the CIFAR reference: λ 0.5, r 0.2, Adam lr
/// 0.01, 10 epochs, batch 128, a 90/10 seeded train/validation split, standard width, validated
/// after every epoch. ``imageNet`` is the ImageNet variant.
public struct GateSearchSettings: Codable, Equatable, Sendable {
    /// Weight λ of the sparsity term λ·(mean gate − r)².
    public var lambda: Float = 0.5
    /// Target mean gate r; also the sparsity bound of the selection rule.
    public var targetRatio: Float = 0.2
    public var learningRate: Float = 0.01
    public var epochs: Int = 10
    public var batchSize: Int = 128
    public var validationFraction: Double = 0.1
    /// Base-width expansion: gates are learned on the standard network × this factor.
    public var widthMultiplier: Double = 1
    /// Seeds the random weights, the split and the data order.
    public var seed: UInt64 = 1
    /// Random crop (4-pixel zero padding) and horizontal flip.
    public var augment: Bool = true
    /// Validate every this many optimiser steps (and at the end of every epoch) instead of after
    /// every epoch only; each validation is a candidate of the selection rule. nil: per epoch.
    public var validateEverySteps: Int?

    public init() {}

    /// The ImageNet variant (SPEC §3): λ 0.05, r 0.5, one pass over the data, validated every
    /// 1,000 steps (pfs's choice: SPEC §3 leaves K open) and at the end of the pass.
    public static var imageNet: GateSearchSettings {
        var s = GateSearchSettings()
        s.lambda = 0.05
        s.targetRatio = 0.5
        s.epochs = 1
        s.validateEverySteps = 1000
        return s
    }

    public func validate() throws(PruningError) {
        func check(_ ok: Bool, _ field: String, _ expected: String, _ got: String) throws(PruningError) {
            if !ok { throw .setting(field: field, expected: expected, got: got) }
        }
        try check(lambda.isFinite && lambda >= 0, "lambda", "a number ≥ 0", "\(lambda)")
        try check(targetRatio.isFinite && targetRatio >= 0 && targetRatio <= 1, "target ratio r", "a number in [0, 1]",
                  "\(targetRatio)")
        try check(learningRate.isFinite && learningRate > 0, "gate learning rate", "a positive number", "\(learningRate)")
        try check(epochs >= 1, "gate epochs", "at least 1", "\(epochs)")
        try check(batchSize >= 1, "batch size", "at least 1", "\(batchSize)")
        try check(validationFraction > 0 && validationFraction < 1, "validation fraction", "a number in (0, 1)",
                  "\(validationFraction)")
        try check(widthMultiplier.isFinite && widthMultiplier > 0, "width multiplier", "a positive number",
                  "\(widthMultiplier)")
        if let k = validateEverySteps { try check(k >= 1, "validation interval", "at least 1 step", "\(k)") }
    }
}

/// Where the frozen weights of gate learning come from.
public enum GateSource: Codable, Equatable, Sendable {
    /// Random initialisation from a seed (pruning from scratch).
    case randomInitialization(seed: UInt64)
    /// The weights of a trained checkpoint (pretrained-weight pruning, structure studies).
    case checkpoint(file: String)

    public var description: String {
        switch self {
        case let .randomInitialization(seed): return "random initialisation, seed \(seed)"
        case let .checkpoint(file): return "checkpoint \(file)"
        }
    }
}

/// One validated point of gate learning: the end of an epoch or, with
/// ``GateSearchSettings/validateEverySteps``, a step inside one.
public struct GateEpoch: Codable, Equatable, Sendable {
    /// The epoch (1-based) the point ends or lies in.
    public var epoch: Int
    /// The optimiser steps done since the search began, at a point of a search validated every K
    /// steps; nil in a search validated per epoch.
    public var step: Int?
    /// Mean cross-entropy and mean full objective over the epoch's batches (so far, at a step).
    public var trainLoss: Double
    public var objective: Double
    public var trainAccuracy: Double
    public var validationLoss: Double
    public var validationAccuracy: Double
    /// Mean of all gates after the epoch.
    public var meanGate: Double
    /// Fraction of gates > 0 after the epoch.
    public var nonZeroFraction: Double
    /// Wall time since the previous point (training and this point's validation).
    public var seconds: Double
    /// The part of ``seconds`` spent validating (recorded at points of a search validated every K steps).
    public var validationSeconds: Double?
    public var imagesPerSecond: Double
    /// All gates after the epoch, one array per prunable layer.
    public var gates: [[Float]]

    public init(epoch: Int, step: Int? = nil, trainLoss: Double, objective: Double, trainAccuracy: Double,
                validationLoss: Double, validationAccuracy: Double, meanGate: Double, nonZeroFraction: Double,
                seconds: Double, validationSeconds: Double? = nil, imagesPerSecond: Double, gates: [[Float]]) {
        self.epoch = epoch
        self.step = step
        self.validationSeconds = validationSeconds
        self.trainLoss = trainLoss
        self.objective = objective
        self.trainAccuracy = trainAccuracy
        self.validationLoss = validationLoss
        self.validationAccuracy = validationAccuracy
        self.meanGate = meanGate
        self.nonZeroFraction = nonZeroFraction
        self.seconds = seconds
        self.imagesPerSecond = imagesPerSecond
        self.gates = gates
    }
}

/// Which rule chose the gates (SPEC §3).
public enum SelectionRule: String, Codable, Sendable {
    /// The best validation accuracy among points whose non-zero fraction is ≤ r (ties: the later point).
    case bestValidationAmongSparseEpochs
    /// No point had a non-zero fraction ≤ r: the last point's gates.
    case lastEpochNoneSparse
}

/// The chosen point (epoch, and step when validated every K steps) and why.
public struct GateSelection: Codable, Equatable, Sendable {
    public var epoch: Int
    /// The point's step in a search validated every K steps (``GateEpoch/step``).
    public var step: Int?
    public var rule: SelectionRule

    public init(epoch: Int, step: Int? = nil, rule: SelectionRule) {
        self.epoch = epoch
        self.step = step
        self.rule = rule
    }

    /// Whether `point` is the chosen one.
    public func matches(_ point: GateEpoch) -> Bool { point.epoch == epoch && point.step == step }

    /// "epoch 3" or "epoch 1, step 2000".
    public var position: String { "epoch \(epoch)" + (step.map { ", step \($0)" } ?? "") }

    /// Applies the selection rule to a history.
    public static func choose(from history: [GateEpoch], targetRatio: Float) -> GateSelection? {
        guard let last = history.last else { return nil }
        let sparse = history.filter { $0.nonZeroFraction <= Double(targetRatio) }
        guard var best = sparse.first else { return GateSelection(epoch: last.epoch, step: last.step, rule: .lastEpochNoneSparse) }
        for e in sparse.dropFirst() where e.validationAccuracy >= best.validationAccuracy { best = e }
        return GateSelection(epoch: best.epoch, step: best.step, rule: .bestValidationAmongSparseEpochs)
    }
}

/// Learned gates with their history: the file `pfs search` writes (`gates.json`).
public struct GateSearchResult: Codable, Sendable {
    public static let format = "pfs.gates/1"
    public var format = GateSearchResult.format
    /// The network the gates were learned on (wider than standard after width expansion).
    public var configuration: ChannelConfiguration
    public var settings: GateSearchSettings
    public var source: GateSource
    public var data: String
    public var history: [GateEpoch]
    /// Nil until the first epoch finished.
    public var selection: GateSelection?
    /// Whether every epoch ran (false in a file written after an interruption).
    public var complete: Bool
    /// Wall time of gate learning in seconds.
    public var seconds: Double
    /// Training images per epoch (nil in files of earlier versions).
    public var trainingImagesPerEpoch: Int?

    public init(configuration: ChannelConfiguration, settings: GateSearchSettings, source: GateSource, data: String,
                history: [GateEpoch], selection: GateSelection?, complete: Bool, seconds: Double,
                trainingImagesPerEpoch: Int? = nil) {
        self.configuration = configuration
        self.settings = settings
        self.source = source
        self.data = data
        self.history = history
        self.selection = selection
        self.complete = complete
        self.seconds = seconds
        self.trainingImagesPerEpoch = trainingImagesPerEpoch
    }

    /// The selected gates.
    public var gates: [[Float]]? {
        guard let selection else { return nil }
        return history.first(where: selection.matches)?.gates
    }

    /// Training images the search has processed: whole epochs, plus the steps of a partial one at
    /// a point validated inside an epoch. 0 when a file of an earlier version does not say.
    public var imagesProcessed: Int {
        guard let n = trainingImagesPerEpoch, let last = history.last else { return 0 }
        guard let step = last.step else { return history.count * n }
        let stepsPerEpoch = (n + settings.batchSize - 1) / settings.batchSize
        let stepsInEpoch = step - (last.epoch - 1) * stepsPerEpoch
        return (last.epoch - 1) * n + min(stepsInEpoch * settings.batchSize, n)
    }

    public func save(to file: String) throws(PruningError) {
        try attempt { try AtomicFile.write(jsonData(), to: file) }
    }

    /// Pretty-printed JSON with sorted keys.
    public func jsonData() -> Data { prettyJSON(self) }

    public static func load(_ file: String) throws(PruningError) -> GateSearchResult {
        let data = try attempt { try AtomicFile.read(file) }
        let result: GateSearchResult
        do { result = try JSONDecoder().decode(GateSearchResult.self, from: data) } catch {
            throw .mismatch(file: file, field: "document", expected: "a gates file written by pfs search (\(format))",
                            got: JSONText.describe(error, in: data))
        }
        guard result.format == format else {
            throw .mismatch(file: file, field: "format", expected: format, got: result.format)
        }
        do { try result.configuration.validate() } catch {
            throw .mismatch(file: file, field: "configuration", expected: "a valid configuration", got: error.description)
        }
        let widths = result.configuration.prunableWidths, names = result.configuration.prunableNames
        for (k, e) in result.history.enumerated() {
            guard e.gates.map(\.count) == widths else {
                throw .mismatch(file: file, field: "history[\(k)].gates (epoch \(e.epoch))",
                                expected: "one gate per channel of \(widths)", got: "\(e.gates.map(\.count))")
            }
            for (j, layer) in e.gates.enumerated() {
                if let c = layer.firstIndex(where: { !($0 >= 0 && $0 <= 1) }) {
                    throw .mismatch(file: file, field: "history[\(k)].gates[\(j)][\(c)] (epoch \(e.epoch), \(names[j]))",
                                    expected: "a gate value in [0, 1]", got: "\(layer[c])")
                }
            }
        }
        if let selection = result.selection, !result.history.contains(where: selection.matches) {
            throw .mismatch(file: file, field: "selection", expected: "a point of the history", got: selection.position)
        }
        return result
    }
}
