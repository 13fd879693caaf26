import Foundation
import PFSModels
import PFSTraining

/// A pruned architecture: the document `pfs prune` writes and `pfs train --config` reads (its
/// `configuration` member is the network to build). Every criterion — learned gates, Network
/// Slimming, L1-norm, random scores, uniform scaling — writes this same document; `scores` says
/// which one made it and from what.
public struct PrunedArchitecture: Codable, Sendable {
    public static let format = "pfs.pruned-architecture/2"
    public static let tieBreakRule = "score descending; ties by rank within the layer (score descending, then "
        + "channel index ascending), then by layer order; each layer keeps its best min-channels channels"

    /// Widths of one prunable layer.
    public struct Layer: Codable, Equatable, Sendable {
        public var name: String
        /// Width in the standard network, in the network that was scored, and after pruning.
        public var standard: Int
        public var searched: Int
        public var pruned: Int
    }

    /// MACs (per image) or parameters of the standard, searched and pruned networks.
    public struct Counts: Codable, Equatable, Sendable {
        public var standard: Int
        public var searched: Int
        public var pruned: Int
    }

    public struct BudgetRecord: Codable, Equatable, Sendable {
        public var requested: Budget
        public var targetMACs: Int
        public var achievedMACs: Int
        /// target − achieved (≥ 0), in MACs and as a fraction of the target.
        public var gapMACs: Int
        public var gapFraction: Double
    }

    public var format = PrunedArchitecture.format
    public var architecture: Architecture
    public var configuration: ChannelConfiguration
    public var layers: [Layer]
    public var macs: Counts
    public var params: Counts
    public var budget: BudgetRecord
    public var minChannels: Int
    /// Every pruned width a multiple of this (or the layer's full width); nil or 1: any width.
    public var roundTo: Int?
    /// Whose fixed widths the network keeps after a width-expanded search (nil in documents of
    /// earlier versions: ``FixedWidths/standard``).
    public var fixedWidths: FixedWidths?
    public var layersAtMinimum: [String]
    public var keptChannels: Int
    public var searchedChannels: Int
    /// Indices (ascending, within the scored layer) of the kept channels of every prunable layer:
    /// what fine-tuning a scored network into this one needs. Nil for uniform scaling, which
    /// changes every width and selects no channels.
    public var kept: [[Int]]?
    public var tieBreak = PrunedArchitecture.tieBreakRule
    /// The criterion and its inputs.
    public var scores: ScoreProvenance
    /// The networks the budget search counted (nil for uniform scaling, which searches a factor).
    public var probes: [BudgetProbe]?
    /// The score of the last channel kept beyond each layer's minimum: the global threshold.
    public var threshold: Float?
    /// The limit on another cost (a predicted latency) the structure was cut to, when it was not
    /// cut to a MAC budget (`budget` is then the full network's MACs: no MAC limit).
    public var costLimit: CostRecord?

    /// A non-MAC limit and where the result stands against it.
    public struct CostRecord: Codable, Equatable, Sendable {
        /// E.g. "predicted latency", "ms", and what the prediction is for ("batch 1, table FILE").
        public var name: String
        public var unit: String
        public var limit: Double
        public var predicted: Double
        public var detail: String
        /// Measured on this machine after pruning, when it was (same unit).
        public var measured: Double?

        public init(name: String, unit: String, limit: Double, predicted: Double, detail: String, measured: Double? = nil) {
            self.name = name
            self.unit = unit
            self.limit = limit
            self.predicted = predicted
            self.detail = detail
            self.measured = measured
        }
    }

    /// Prunes `scores` to `budget` (relative to the standard network of the scored architecture,
    /// input and classes): the fixed widths `fixedWidths` names (the standard network's by
    /// default), and per prunable layer the channels the exact budget search keeps.
    public static func make(from scores: ChannelScores, budget: Budget, minChannels: Int = 1,
                            roundTo: Int = 1, fixedWidths: FixedWidths = .standard) throws(PruningError) -> PrunedArchitecture {
        try make(from: scores, budget: budget, limit: nil, minChannels: minChannels, roundTo: roundTo, fixedWidths: fixedWidths)
    }

    /// Prunes `scores` to a limit on another cost — a predicted latency — instead of a MAC budget.
    /// `limit` predicts the cost of networks with the fixed widths `fixedWidths` names; `detail`
    /// says what the prediction is for (batch, table file).
    public static func make(from scores: ChannelScores, limit: CostLimit, detail: String, minChannels: Int = 1,
                            roundTo: Int = 1, fixedWidths: FixedWidths = .standard) throws(PruningError) -> PrunedArchitecture {
        // No MAC limit beyond the full network's own MACs.
        let full = try Self.target(searched: scores.configuration, fixedWidths: fixedWidths).target
        var pruned = try make(from: scores, budget: .maxMACs(ComplexityCounter.totalMACs(full)), limit: limit,
                              minChannels: minChannels, roundTo: roundTo, fixedWidths: fixedWidths)
        pruned.costLimit = CostRecord(name: limit.name, unit: limit.unit, limit: limit.limit,
                                      predicted: try limit.cost(pruned.configuration), detail: detail)
        return pruned
    }

    /// The network whose fixed widths `fixedWidths` keeps for scores of `searched`, and the standard network.
    public static func target(searched: ChannelConfiguration,
                              fixedWidths: FixedWidths) throws(PruningError) -> (target: ChannelConfiguration, standard: ChannelConfiguration) {
        let standard = try attempt {
            try ChannelConfiguration.standard(searched.architecture, input: searched.input, classes: searched.classes)
        }
        return (fixedWidths.target(standard: standard, searched: searched), standard)
    }

    static func make(from scores: ChannelScores, budget: Budget, limit: CostLimit?, minChannels: Int, roundTo: Int,
                     fixedWidths: FixedWidths) throws(PruningError) -> PrunedArchitecture {
        let searched = scores.configuration
        try scores.validate(file: scores.provenance.gatesFile ?? "scores")
        let (target, standard) = try Self.target(searched: searched, fixedWidths: fixedWidths)
        let standardMACs = ComplexityCounter.totalMACs(standard)
        let budgetMACs = try budget.macs(standardMACs: standardMACs)
        let fit: BudgetFit
        if let limit {
            fit = try BudgetSearch.fit(scores: scores.scores, target: target, limit: limit, minChannels: minChannels,
                                       roundTo: roundTo)
        } else {
            fit = try BudgetSearch.fit(scores: scores.scores, target: target, budgetMACs: budgetMACs, minChannels: minChannels,
                                       roundTo: roundTo)
        }
        var pruned = assemble(standard: standard, searched: searched, pruned: fit.configuration, budget: budget,
                              budgetMACs: budgetMACs, minChannels: minChannels, layersAtMinimum: fit.layersAtMinimum,
                              keptChannels: fit.keptTotal, kept: fit.kept, provenance: scores.provenance)
        pruned.probes = fit.probes
        pruned.threshold = fit.threshold
        pruned.roundTo = roundTo > 1 ? roundTo : nil
        pruned.fixedWidths = fixedWidths
        return pruned
    }

    /// Prunes the selected gates of `search` to `budget`.
    public static func make(from search: GateSearchResult, gatesFile: String?, budget: Budget,
                            minChannels: Int = 1, roundTo: Int = 1,
                            fixedWidths: FixedWidths = .standard) throws(PruningError) -> PrunedArchitecture {
        try make(from: try ChannelScores(search: search, gatesFile: gatesFile), budget: budget, minChannels: minChannels,
                 roundTo: roundTo, fixedWidths: fixedWidths)
    }

    /// The uniformly narrowed network of `budget` (``UniformScaling``) as a pruned architecture.
    public static func uniform(_ standard: ChannelConfiguration, budget: Budget) throws(PruningError) -> PrunedArchitecture {
        let budgetMACs = try budget.macs(standardMACs: ComplexityCounter.totalMACs(standard))
        let fit = try UniformScaling.fit(standard, budgetMACs: budgetMACs)
        let pruned = fit.configuration
        return assemble(standard: standard, searched: standard, pruned: pruned, budget: budget, budgetMACs: budgetMACs,
                        minChannels: 1, layersAtMinimum: [], keptChannels: pruned.prunableWidths.reduce(0, +), kept: nil,
                        provenance: ScoreProvenance(criterion: .uniform, uniformFactor: fit.factor))
    }

    static func assemble(standard: ChannelConfiguration, searched: ChannelConfiguration, pruned: ChannelConfiguration,
                         budget: Budget, budgetMACs: Int, minChannels: Int, layersAtMinimum: [String], keptChannels: Int,
                         kept: [[Int]]?, provenance: ScoreProvenance) -> PrunedArchitecture {
        let names = standard.prunableNames
        let layers = names.indices.map {
            Layer(name: names[$0], standard: standard.prunableWidths[$0], searched: searched.prunableWidths[$0],
                  pruned: pruned.prunableWidths[$0])
        }
        let achieved = ComplexityCounter.totalMACs(pruned)
        return PrunedArchitecture(
            architecture: standard.architecture, configuration: pruned, layers: layers,
            macs: Counts(standard: ComplexityCounter.totalMACs(standard), searched: ComplexityCounter.totalMACs(searched),
                         pruned: achieved),
            params: Counts(standard: ComplexityCounter.totalParams(standard), searched: ComplexityCounter.totalParams(searched),
                           pruned: ComplexityCounter.totalParams(pruned)),
            budget: BudgetRecord(requested: budget, targetMACs: budgetMACs, achievedMACs: achieved,
                                 gapMACs: budgetMACs - achieved, gapFraction: Double(budgetMACs - achieved) / Double(budgetMACs)),
            minChannels: minChannels, layersAtMinimum: layersAtMinimum, keptChannels: keptChannels,
            searchedChannels: searched.prunableWidths.reduce(0, +), kept: kept, scores: provenance)
    }

    /// Kept / standard channels of every prunable layer, in order: the structure's vector for the
    /// similarity study (SPEC §7).
    public var keptRatios: [Double] { layers.map { Double($0.pruned) / Double($0.standard) } }

    /// True when every prunable width lies within one channel of a single fraction q of its
    /// standard width (|pruned − q · standard| < 1 for one q and every layer): uniform scaling,
    /// or any structure indistinguishable from it once widths are whole channels. The kept ratios
    /// of such a structure differ only by rounding, so a correlation with them measures rounding,
    /// not a preference between layers.
    public var isUniformUpToRounding: Bool {
        guard !layers.isEmpty else { return true }
        let lowest = layers.map { Double($0.pruned - 1) / Double($0.standard) }.max()!
        let highest = layers.map { Double($0.pruned + 1) / Double($0.standard) }.min()!
        return lowest < highest
    }

    public func save(to file: String) throws(PruningError) {
        try attempt { try AtomicFile.write(prettyJSON(self), to: file) }
    }

    /// Reads a pruned architecture written by `pfs prune` (this version).
    public static func load(_ file: String) throws(PruningError) -> PrunedArchitecture {
        let data = try attempt { try AtomicFile.read(file) }
        let format = documentFormat(data)
        guard format == Self.format else {
            throw .mismatch(file: file, field: "format", expected: "\(Self.format) (written by pfs prune)",
                            got: format.map { "\"\($0)\"" } ?? "no format field")
        }
        do { return try JSONDecoder().decode(PrunedArchitecture.self, from: data) } catch {
            throw .mismatch(file: file, field: "document", expected: "a pruned architecture", got: JSONText.describe(error, in: data))
        }
    }

    /// Per-layer widths and the totals, as an aligned table.
    public func table() -> String {
        let nameWidth = max(5, layers.map(\.name.count).max() ?? 0)
        func row(_ cells: [String]) -> String {
            cells[0].padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                + cells.dropFirst().map { String(repeating: " ", count: max(0, 10 - $0.count)) + $0 }.joined()
        }
        var lines = [row(["layer", "standard", "searched", "pruned", "kept"])]
        for l in layers {
            lines.append(row([l.name, "\(l.standard)", "\(l.searched)", "\(l.pruned)",
                              String(format: "%.0f%%", 100 * Double(l.pruned) / Double(l.standard))]))
        }
        lines.append(String(repeating: "-", count: nameWidth + 40))
        lines.append("MACs    standard \(Complexity.grouped(macs.standard)), searched \(Complexity.grouped(macs.searched)), "
                     + "pruned \(Complexity.grouped(macs.pruned)) (\(String(format: "%.2f%%", 100 * Double(macs.pruned) / Double(macs.standard))) of standard)")
        lines.append("params  standard \(Complexity.grouped(params.standard)), pruned \(Complexity.grouped(params.pruned))")
        if let costLimit {
            lines.append("budget  \(costLimit.name) ≤ \(String(format: "%.3f", costLimit.limit)) \(costLimit.unit): predicted "
                         + String(format: "%.3f", costLimit.predicted) + " \(costLimit.unit) (\(costLimit.detail))"
                         + (costLimit.measured.map { ", measured " + String(format: "%.3f", $0) + " \(costLimit.unit)" } ?? ""))
        } else {
            lines.append("budget  target \(Complexity.grouped(budget.targetMACs)) MACs, achieved \(Complexity.grouped(budget.achievedMACs)), "
                         + "gap \(Complexity.grouped(budget.gapMACs)) (\(String(format: "%.4f%%", budget.gapFraction * 100)))")
        }
        if fixedWidths == .expanded, macs.searched != macs.standard {
            lines.append("fixed   the searched (expanded) network's fixed widths: --fixed-widths expanded")
        }
        if let roundTo { lines.append("widths  multiples of \(roundTo) (or the full width): --round-to \(roundTo)") }
        if !layersAtMinimum.isEmpty {
            // With --round-to N the smallest width is the minimum rounded up to a multiple of N.
            let smallest = BudgetSearch.roundedUp(minChannels, to: max(roundTo ?? 1, 1))
            lines.append("at the minimum of \(smallest) channel(s): \(layersAtMinimum.joined(separator: ", "))")
        }
        lines.append("scores  \(scores.description)")
        return lines.joined(separator: "\n")
    }
}
