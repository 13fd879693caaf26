import Foundation
import PFSModels
import PFSTraining

/// A pruned architecture: the document `pfs prune` writes and `pfs train --config` reads (its
/// `configuration` member is the network to build).
public struct PrunedArchitecture: Codable, Sendable {
    public static let format = "pfs.pruned-architecture/1"
    public static let tieBreakRule = "gate value descending; ties by rank within the layer (value descending, then "
        + "channel index ascending), then by layer order; each layer keeps its best min-channels channels"

    /// Widths of one prunable layer.
    public struct Layer: Codable, Equatable, Sendable {
        public var name: String
        /// Width in the standard network, in the network the gates were learned on, and after pruning.
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

    /// Where the gates came from.
    public struct Provenance: Codable, Equatable, Sendable {
        public var gatesFile: String?
        public var source: GateSource
        public var seed: UInt64
        public var widthMultiplier: Double
        public var selectedEpoch: Int
        public var rule: SelectionRule
        public var data: String
    }

    public var format = PrunedArchitecture.format
    public var architecture: Architecture
    public var configuration: ChannelConfiguration
    public var layers: [Layer]
    public var macs: Counts
    public var params: Counts
    public var budget: BudgetRecord
    public var minChannels: Int
    public var layersAtMinimum: [String]
    public var keptChannels: Int
    public var searchedChannels: Int
    public var tieBreak = PrunedArchitecture.tieBreakRule
    public var gates: Provenance

    /// Prunes the selected gates of `search` to `budget` (relative to the standard network of the
    /// searched architecture, input and classes).
    public static func make(from search: GateSearchResult, gatesFile: String?, budget: Budget,
                            minChannels: Int = 1) throws(PruningError) -> PrunedArchitecture {
        guard let gates = search.gates, let selection = search.selection else {
            throw .mismatch(file: gatesFile ?? "gates", field: "history", expected: "at least one finished epoch",
                            got: "none")
        }
        let searched = search.configuration
        let standard = try attempt {
            try ChannelConfiguration.standard(searched.architecture, input: searched.input, classes: searched.classes)
        }
        let standardMACs = ComplexityCounter.totalMACs(standard)
        let budgetMACs = try budget.macs(standardMACs: standardMACs)
        let fit = try BudgetSearch.fit(gates: gates, target: standard, budgetMACs: budgetMACs, minChannels: minChannels)
        let names = standard.prunableNames
        let layers = names.indices.map {
            Layer(name: names[$0], standard: standard.prunableWidths[$0], searched: searched.prunableWidths[$0],
                  pruned: fit.counts[$0])
        }
        let seed: UInt64
        if case let .randomInitialization(s) = search.source { seed = s } else { seed = search.settings.seed }
        return PrunedArchitecture(
            architecture: searched.architecture, configuration: fit.configuration, layers: layers,
            macs: Counts(standard: standardMACs, searched: ComplexityCounter.totalMACs(searched), pruned: fit.achievedMACs),
            params: Counts(standard: ComplexityCounter.totalParams(standard), searched: ComplexityCounter.totalParams(searched),
                           pruned: ComplexityCounter.totalParams(fit.configuration)),
            budget: BudgetRecord(requested: budget, targetMACs: budgetMACs, achievedMACs: fit.achievedMACs,
                                 gapMACs: budgetMACs - fit.achievedMACs,
                                 gapFraction: Double(budgetMACs - fit.achievedMACs) / Double(budgetMACs)),
            minChannels: minChannels, layersAtMinimum: fit.layersAtMinimum, keptChannels: fit.keptTotal,
            searchedChannels: gates.reduce(0) { $0 + $1.count },
            gates: Provenance(gatesFile: gatesFile, source: search.source, seed: seed,
                              widthMultiplier: search.settings.widthMultiplier, selectedEpoch: selection.epoch,
                              rule: selection.rule, data: search.data))
    }

    public func save(to file: String) throws(PruningError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try attempt { try encoder.encode(self) }
        try attempt { try AtomicFile.write(data, to: file) }
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
        lines.append("budget  target \(Complexity.grouped(budget.targetMACs)) MACs, achieved \(Complexity.grouped(budget.achievedMACs)), "
                     + "gap \(Complexity.grouped(budget.gapMACs)) (\(String(format: "%.4f%%", budget.gapFraction * 100)))")
        if !layersAtMinimum.isEmpty {
            lines.append("at the minimum of \(minChannels) channel(s): \(layersAtMinimum.joined(separator: ", "))")
        }
        return lines.joined(separator: "\n")
    }
}
