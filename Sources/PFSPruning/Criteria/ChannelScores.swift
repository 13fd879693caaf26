import Foundation
import PFSModels
import PFSTraining

/// The channel-importance criteria pfs knows, as they are named in files and on the command line.
public enum ImportanceCriterion: String, Codable, CaseIterable, Sendable {
    /// Gates learned on frozen random weights: pruning from scratch.
    case randomInitGates = "random-init-gates"
    /// The same gate objective learned on the weights of a pretraining checkpoint.
    case checkpointGates = "checkpoint-gates"
    /// |γ| after training with an L1 penalty on the BatchNorm scales.
    case networkSlimming = "network-slimming"
    /// L1 norm of each output filter of a trained network, normalised per layer.
    case l1Norm = "l1-norm"
    /// The seeded random-structure baseline.
    case random
    /// Uniform width scaling: a selection rule, not a score.
    case uniform

    /// Whether the criterion learns gates (and so has a search history and a selection rule).
    public var learnsGates: Bool { self == .randomInitGates || self == .checkpointGates }
}

/// How a set of channel scores was obtained: the criterion and its inputs. Written into every
/// scores file and pruned architecture, so a structure can be traced to what made it.
public struct ScoreProvenance: Codable, Equatable, Sendable {
    public var criterion: ImportanceCriterion
    /// Seed of the random weights (random-init gates) or of the random scores.
    public var seed: UInt64?
    /// The checkpoint whose weights were scored or gated.
    public var checkpoint: String?
    /// Epochs of training behind that checkpoint, when known (0 = its initial weights).
    public var checkpointEpoch: Int?
    /// The gates file of a gate-learning criterion, its selected epoch (and step, when the search
    /// validated every K steps) and the rule that chose it.
    public var gatesFile: String?
    public var selectedEpoch: Int?
    public var selectedStep: Int?
    public var rule: SelectionRule?
    /// Width multiplier of the network the gates were learned on.
    public var widthMultiplier: Double?
    /// Network Slimming's penalty strength s.
    public var sparsity: Float?
    /// Uniform scaling's width factor.
    public var uniformFactor: Double?
    /// The data the scores were learned or trained on.
    public var data: String?

    public init(criterion: ImportanceCriterion, seed: UInt64? = nil, checkpoint: String? = nil,
                checkpointEpoch: Int? = nil, gatesFile: String? = nil, selectedEpoch: Int? = nil,
                rule: SelectionRule? = nil, widthMultiplier: Double? = nil, sparsity: Float? = nil,
                uniformFactor: Double? = nil, data: String? = nil) {
        self.criterion = criterion
        self.seed = seed
        self.checkpoint = checkpoint
        self.checkpointEpoch = checkpointEpoch
        self.gatesFile = gatesFile
        self.selectedEpoch = selectedEpoch
        self.rule = rule
        self.widthMultiplier = widthMultiplier
        self.sparsity = sparsity
        self.uniformFactor = uniformFactor
        self.data = data
    }

    /// One line, e.g. `network-slimming of runs/slim (s = 1e-05)`.
    public var description: String {
        var parts = [criterion.rawValue]
        if let seed { parts.append("seed \(seed)") }
        if let checkpoint { parts.append("of \(checkpoint)" + (checkpointEpoch.map { " (epoch \($0))" } ?? "")) }
        if let sparsity { parts.append("s = \(sparsity)") }
        if let selectedEpoch { parts.append("gates of epoch \(selectedEpoch)" + (selectedStep.map { ", step \($0)" } ?? "")) }
        if let uniformFactor { parts.append(String(format: "× %.4f", uniformFactor)) }
        return parts.joined(separator: ", ")
    }
}

/// Channel scores with their provenance and cost: the file `pfs score` writes (`scores.json`) and
/// `pfs prune` reads, like a gates file.
public struct ChannelScores: Codable, Sendable {
    public static let format = "pfs.channel-scores/1"
    public var format = ChannelScores.format
    /// The network the scores belong to (the searched network for gates, which may be wider).
    public var configuration: ChannelConfiguration
    /// One array per prunable width of `configuration`, one score per channel; higher = keep first.
    public var scores: [[Float]]
    public var provenance: ScoreProvenance
    /// Wall time spent obtaining the scores (gate learning, or 0 for scoring a finished network),
    /// in seconds, and the training images processed for it (forward and backward passes).
    public var seconds: Double
    public var images: Int

    public init(configuration: ChannelConfiguration, scores: [[Float]], provenance: ScoreProvenance,
                seconds: Double = 0, images: Int = 0) {
        self.configuration = configuration
        self.scores = scores
        self.provenance = provenance
        self.seconds = seconds
        self.images = images
    }

    /// Scores `network` with `criterion`.
    public static func measure(_ network: Network, with criterion: ChannelImportance,
                               provenance: ScoreProvenance) throws(PruningError) -> ChannelScores {
        let started = Date()
        let scores = try criterion.scores(for: network)
        let result = ChannelScores(configuration: network.configuration, scores: scores, provenance: provenance,
                                   seconds: Date().timeIntervalSince(started))
        try result.validate(file: "scores")
        return result
    }

    /// The selected gates of a finished search, as scores.
    public init(search: GateSearchResult, gatesFile: String?, checkpointEpoch: Int? = nil) throws(PruningError) {
        guard let gates = search.gates, let selection = search.selection else {
            throw .mismatch(file: gatesFile ?? "gates", field: "history", expected: "at least one finished epoch",
                            got: "none")
        }
        var provenance: ScoreProvenance
        switch search.source {
        case let .randomInitialization(seed):
            provenance = ScoreProvenance(criterion: .randomInitGates, seed: seed)
        case let .checkpoint(file):
            provenance = ScoreProvenance(criterion: .checkpointGates, checkpoint: file, checkpointEpoch: checkpointEpoch)
        }
        provenance.gatesFile = gatesFile
        provenance.selectedEpoch = selection.epoch
        provenance.selectedStep = selection.step
        provenance.rule = selection.rule
        provenance.widthMultiplier = search.settings.widthMultiplier
        provenance.data = search.data
        let images = search.imagesProcessed
        self.init(configuration: search.configuration, scores: gates, provenance: provenance, seconds: search.seconds,
                  images: images)
    }

    /// Training images per epoch of a search (0 when a file of an earlier version does not say).
    static func trainingImages(_ search: GateSearchResult) -> Int { search.trainingImagesPerEpoch ?? 0 }

    /// Checks one finite score per channel of every prunable width of `configuration`.
    public func validate(file: String) throws(PruningError) {
        let widths = configuration.prunableWidths, names = configuration.prunableNames
        guard scores.count == widths.count else {
            throw .mismatch(file: file, field: "scores", expected: "\(widths.count) layers (the prunable widths of "
                            + "\(configuration.architecture.rawValue))", got: "\(scores.count)")
        }
        for (j, layer) in scores.enumerated() {
            guard layer.count == widths[j] else {
                throw .mismatch(file: file, field: "scores[\(j)] (\(names[j]))", expected: "\(widths[j]) scores",
                                got: "\(layer.count)")
            }
            if let bad = layer.firstIndex(where: { !$0.isFinite }) {
                throw .mismatch(file: file, field: "scores[\(j)][\(bad)] (\(names[j]))", expected: "a finite score",
                                got: "\(layer[bad])")
            }
        }
    }

    public func save(to file: String) throws(PruningError) {
        try attempt { try AtomicFile.write(prettyJSON(self), to: file) }
    }

    /// Reads a scores file, or a gates file (its selected gates become the scores).
    public static func load(_ file: String) throws(PruningError) -> ChannelScores {
        let data = try attempt { try AtomicFile.read(file) }
        let format = documentFormat(data)
        if format == GateSearchResult.format {
            return try ChannelScores(search: try GateSearchResult.load(file), gatesFile: file)
        }
        guard format == Self.format else {
            throw .mismatch(file: file, field: "format", expected: "\(Self.format) (pfs score) or "
                            + "\(GateSearchResult.format) (pfs search)", got: format.map { "\"\($0)\"" } ?? "no format field")
        }
        let scores: ChannelScores
        do { scores = try JSONDecoder().decode(ChannelScores.self, from: data) } catch {
            throw .mismatch(file: file, field: "document", expected: "a scores file written by pfs score", got: JSONText.describe(error, in: data))
        }
        do { try scores.configuration.validate() } catch {
            throw .mismatch(file: file, field: "configuration", expected: "a valid configuration", got: error.description)
        }
        try scores.validate(file: file)
        return scores
    }
}
