import Foundation
import PFSModels
import PFSTraining

/// Settings of gate learning (SPEC §3). Defaults are the CIFAR reference: λ 0.5, r 0.2, Adam lr
/// 0.01, 10 epochs, batch 128, a 90/10 seeded train/validation split, standard width.
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

    public init() {}

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

/// One epoch of gate learning.
public struct GateEpoch: Codable, Equatable, Sendable {
    public var epoch: Int
    /// Mean cross-entropy and mean full objective over the epoch's batches.
    public var trainLoss: Double
    public var objective: Double
    public var trainAccuracy: Double
    public var validationLoss: Double
    public var validationAccuracy: Double
    /// Mean of all gates after the epoch.
    public var meanGate: Double
    /// Fraction of gates > 0 after the epoch.
    public var nonZeroFraction: Double
    public var seconds: Double
    public var imagesPerSecond: Double
    /// All gates after the epoch, one array per prunable layer.
    public var gates: [[Float]]

    public init(epoch: Int, trainLoss: Double, objective: Double, trainAccuracy: Double, validationLoss: Double,
                validationAccuracy: Double, meanGate: Double, nonZeroFraction: Double, seconds: Double,
                imagesPerSecond: Double, gates: [[Float]]) {
        self.epoch = epoch
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
    /// The best validation accuracy among epochs whose non-zero fraction is ≤ r (ties: the later epoch).
    case bestValidationAmongSparseEpochs
    /// No epoch had a non-zero fraction ≤ r: the last epoch's gates.
    case lastEpochNoneSparse
}

/// The chosen epoch and why.
public struct GateSelection: Codable, Equatable, Sendable {
    public var epoch: Int
    public var rule: SelectionRule

    public init(epoch: Int, rule: SelectionRule) {
        self.epoch = epoch
        self.rule = rule
    }

    /// Applies the selection rule to a history.
    public static func choose(from history: [GateEpoch], targetRatio: Float) -> GateSelection? {
        guard let last = history.last else { return nil }
        let sparse = history.filter { $0.nonZeroFraction <= Double(targetRatio) }
        guard var best = sparse.first else { return GateSelection(epoch: last.epoch, rule: .lastEpochNoneSparse) }
        for e in sparse.dropFirst() where e.validationAccuracy >= best.validationAccuracy { best = e }
        return GateSelection(epoch: best.epoch, rule: .bestValidationAmongSparseEpochs)
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
        return history.first { $0.epoch == selection.epoch }?.gates
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
        if let selection = result.selection, !result.history.contains(where: { $0.epoch == selection.epoch }) {
            throw .mismatch(file: file, field: "selection.epoch", expected: "an epoch of the history", got: "\(selection.epoch)")
        }
        return result
    }
}
