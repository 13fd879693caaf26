import PFSModels

/// A MAC budget for the pruned network, stated one way only.
public enum Budget: Equatable, Sendable, Codable {
    /// Keep this fraction, in (0, 1], of the *standard* network's MACs (0.5 = remove half).
    case keepFraction(Double)
    /// At most this many MACs per image.
    case maxMACs(Int)

    /// The budget in MACs for a standard network of `standardMACs`; throws for fractions outside
    /// (0, 1] and non-positive MAC counts.
    public func macs(standardMACs: Int) throws(PruningError) -> Int {
        switch self {
        case let .keepFraction(p):
            guard p.isFinite, p > 0, p <= 1 else {
                throw .setting(field: "keep-macs", expected: "a fraction in (0, 1] of the standard MACs", got: "\(p)")
            }
            return Int((p * Double(standardMACs)).rounded(.down))
        case let .maxMACs(m):
            guard m > 0 else { throw .setting(field: "max-macs", expected: "a positive number of MACs", got: "\(m)") }
            return m
        }
    }

    enum CodingKeys: String, CodingKey { case keepFraction, maxMACs }

    /// JSON: `{"keepFraction": 0.5}` or `{"maxMACs": 62873920}`.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let p = try container.decodeIfPresent(Double.self, forKey: .keepFraction) {
            self = .keepFraction(p)
        } else {
            self = .maxMACs(try container.decode(Int.self, forKey: .maxMACs))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case let .keepFraction(p): try container.encode(p, forKey: .keepFraction)
        case let .maxMACs(m): try container.encode(m, forKey: .maxMACs)
        }
    }

    public var description: String {
        switch self {
        case let .keepFraction(p): return "keep \(p * 100)% of the standard MACs"
        case let .maxMACs(m): return "at most \(m) MACs"
        }
    }
}

/// The outcome of fitting gates to a budget.
public struct BudgetFit: Equatable, Sendable {
    /// The pruned configuration (fixed widths of the target, prunable widths = kept channels).
    public var configuration: ChannelConfiguration
    /// Kept channels per prunable layer, in configuration order.
    public var counts: [Int]
    /// Indices (within the layer, ascending) of the kept channels of each prunable layer.
    public var kept: [[Int]]
    /// Total kept channels k.
    public var keptTotal: Int
    public var budgetMACs: Int
    public var achievedMACs: Int
    /// Names of prunable layers left at the minimum channel count.
    public var layersAtMinimum: [String]
    /// Every network the search counted, in order: the forced minimum first, then each bisection step.
    public var probes: [BudgetProbe]
    /// The score of the last channel kept beyond the forced minimum (the global threshold the
    /// search chose; nil when only the minimum fits).
    public var threshold: Float?
    /// The limited cost of the result (e.g. predicted milliseconds); nil for MAC budgets.
    public var achievedCost: Double? = nil
}

/// One network counted by the budget search: kept channels → MACs (and the limited cost, when
/// the limit is not MACs).
public struct BudgetProbe: Codable, Equatable, Sendable {
    public var keptChannels: Int
    public var macs: Int
    public var fits: Bool
    /// The cost a ``CostLimit`` limits (e.g. predicted milliseconds); nil for MAC budgets.
    public var cost: Double?
}

/// A limit on some cost of the pruned network other than MACs — a predicted latency, say — for
/// ``BudgetSearch/fit(scores:target:limit:minChannels:roundTo:)``. The cost must never decrease
/// when a prunable width grows (the bisection relies on it); latency models make their tables
/// non-decreasing for that reason.
public struct CostLimit: Sendable {
    /// What is limited and the flag that set it, e.g. "predicted latency", "max-latency-ms".
    public var name: String
    public var flag: String
    /// The unit of `limit` and of `cost`, e.g. "ms".
    public var unit: String
    /// The largest cost allowed.
    public var limit: Double
    public var cost: @Sendable (ChannelConfiguration) throws(PruningError) -> Double

    public init(name: String, flag: String, unit: String, limit: Double,
                cost: @escaping @Sendable (ChannelConfiguration) throws(PruningError) -> Double) {
        self.name = name
        self.flag = flag
        self.unit = unit
        self.limit = limit
        self.cost = cost
    }
}

/// Exact search for the largest number of kept channels whose network fits a MAC budget (SPEC §4).
///
/// **Ranking and ties.** Scores come from any ``ChannelImportance`` criterion (gate values,
/// |γ|, normalised filter norms, random scores); higher means keep first. Within each layer,
/// channels are ordered by score (descending), ties by channel index (ascending). Globally,
/// channels are ordered by score (descending); equal values by their position in their layer's
/// order (ascending), then by layer order (ascending). So among equal scores — typically the many
/// gates at exactly 0 — layers take turns: every layer's best tied channel comes before any
/// layer's second. The rule is total, so the result is unique.
///
/// **Minimum channels.** Each layer keeps its first `min(minChannels, C_j)` channels whatever
/// their gates; keeping `k` channels means these plus the best `k − forced` others in global order.
///
/// **Hardware-friendly widths.** With `roundTo` N > 1 every layer's count is rounded up to a
/// multiple of N (or its full width), the extra channels being the next ones in that layer's
/// order: counts(k) stays non-decreasing in k, so the same bisection still finds the largest
/// fitting k, and vector kernels see whole 8- or 16-channel blocks.
///
/// **Search.** MACs of G(counts(k)) never decrease with k, so an integer bisection over
/// k ∈ [forced, total] finds the largest k with MACs ≤ budget exactly, in ⌈log2(total)⌉ + 1
/// MAC counts. The achieved MACs never exceed the budget.
public enum BudgetSearch {
    /// Fits `scores` (one array per prunable width of `target`, finite values) to `budgetMACs`.
    ///
    /// `target` gives the architecture and the fixed (non-prunable) widths of the result —
    /// normally the standard network, also when the gates were learned on a wider one; the
    /// prunable widths of the result are the kept counts (which may exceed the standard ones
    /// after width expansion).
    public static func fit(scores gates: [[Float]], target: ChannelConfiguration, budgetMACs: Int,
                           minChannels: Int = 1, roundTo: Int = 1) throws(PruningError) -> BudgetFit {
        guard budgetMACs > 0 else { throw .setting(field: "budget", expected: "a positive number of MACs", got: "\(budgetMACs)") }
        return try fit(scores: gates, target: target, minChannels: minChannels, roundTo: roundTo, limit: nil,
                       budgetMACs: budgetMACs)
    }

    /// Fits `scores` to a limit on another cost (e.g. predicted latency): the largest k whose
    /// network's cost is ≤ `limit.limit`, by the same ordering, rounding and bisection as a MAC
    /// budget. The result's `budgetMACs` is the MACs of `target` (no MAC limit).
    public static func fit(scores gates: [[Float]], target: ChannelConfiguration, limit: CostLimit,
                           minChannels: Int = 1, roundTo: Int = 1) throws(PruningError) -> BudgetFit {
        guard limit.limit.isFinite && limit.limit > 0 else {
            throw .setting(field: limit.flag, expected: "a positive number of \(limit.unit)", got: "\(limit.limit)")
        }
        return try fit(scores: gates, target: target, minChannels: minChannels, roundTo: roundTo, limit: limit,
                       budgetMACs: ComplexityCounter.totalMACs(target))
    }

    static func fit(scores gates: [[Float]], target: ChannelConfiguration, minChannels: Int, roundTo: Int,
                    limit: CostLimit?, budgetMACs: Int) throws(PruningError) -> BudgetFit {
        let names = target.prunableNames
        guard gates.count == names.count else {
            throw .mismatch(file: "scores", field: "layers", expected: "\(names.count) prunable layers of "
                            + target.architecture.rawValue, got: "\(gates.count)")
        }
        guard minChannels >= 1 else {
            throw .setting(field: "min-channels", expected: "at least 1", got: "\(minChannels)")
        }
        guard roundTo >= 1 else { throw .setting(field: "round-to", expected: "at least 1", got: "\(roundTo)") }
        for (j, layer) in gates.enumerated() {
            guard !layer.isEmpty else {
                throw .mismatch(file: "scores", field: "layer \(names[j])", expected: "at least one score", got: "none")
            }
            if let bad = layer.first(where: { !$0.isFinite }) {
                throw .mismatch(file: "scores", field: "layer \(names[j])", expected: "finite scores", got: "\(bad)")
            }
        }
        // Per-layer order and the global order of the channels beyond the forced minimum.
        var forced = [Int](repeating: 0, count: gates.count)
        var candidates: [(value: Float, rank: Int, layer: Int, channel: Int)] = []
        var layerOrder: [[Int]] = []
        for (j, layer) in gates.enumerated() {
            let order = layer.indices.sorted { layer[$0] != layer[$1] ? layer[$0] > layer[$1] : $0 < $1 }
            layerOrder.append(order)
            forced[j] = min(minChannels, layer.count)
            for rank in forced[j]..<order.count {
                candidates.append((layer[order[rank]], rank, j, order[rank]))
            }
        }
        candidates.sort { a, b in
            if a.value != b.value { return a.value > b.value }
            if a.rank != b.rank { return a.rank < b.rank }
            return a.layer < b.layer
        }
        func rounded(_ c: [Int]) -> [Int] {
            roundTo == 1 ? c : c.indices.map { min(gates[$0].count, roundedUp(c[$0], to: roundTo)) }
        }
        func counts(_ extra: Int) -> [Int] {
            var c = forced
            for i in 0..<extra { c[candidates[i].layer] += 1 }
            return rounded(c)
        }
        /// MACs of the network with counts `c`, and whether it fits (MACs, or the other limit).
        func probe(_ c: [Int]) throws(PruningError) -> BudgetProbe {
            let configuration = try attempt { try target.withPrunableWidths(c) }
            let macs = ComplexityCounter.totalMACs(configuration)
            guard let limit else { return BudgetProbe(keptChannels: c.reduce(0, +), macs: macs, fits: macs <= budgetMACs) }
            let cost = try limit.cost(configuration)
            return BudgetProbe(keptChannels: c.reduce(0, +), macs: macs, fits: cost <= limit.limit, cost: cost)
        }

        let smallest = rounded(forced)
        let first = try probe(smallest)
        guard first.fits else {
            if let limit {
                throw .setting(field: limit.flag, expected: "at least \(String(format: "%.4g", first.cost ?? 0)) \(limit.unit), the "
                               + "\(limit.name) of the smallest network (min-channels \(minChannels)"
                               + (roundTo > 1 ? ", round-to \(roundTo))" : ")"), got: "\(limit.limit)")
            }
            if roundTo > 1 {
                throw .setting(field: "round-to", expected: "widths whose smallest network fits the budget of "
                               + "\(budgetMACs) MACs", got: "\(roundTo), whose smallest network needs \(first.macs) MACs")
            }
            throw .infeasibleBudget(budgetMACs: budgetMACs, minimumMACs: first.macs, minChannels: minChannels)
        }
        var probes = [first]
        // Invariant: network(lo) fits; network(hi + 1) does not, or hi = all.
        var lo = 0, hi = candidates.count
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            let p = try probe(counts(mid))
            probes.append(p)
            if p.fits { lo = mid } else { hi = mid - 1 }
        }
        let final = counts(lo)
        // A layer's candidates enter the global order in its own order, so its kept channels are
        // the first `final[j]` of that order (rounding takes the next ones of the same order).
        let kept = layerOrder.enumerated().map { Array($0.element.prefix(final[$0.offset])).sorted() }
        let configuration = try attempt { try target.withPrunableWidths(final) }
        return BudgetFit(configuration: configuration, counts: final, kept: kept,
                         keptTotal: final.reduce(0, +), budgetMACs: budgetMACs,
                         achievedMACs: ComplexityCounter.totalMACs(configuration),
                         layersAtMinimum: names.indices.filter { final[$0] == smallest[$0] && smallest[$0] < gates[$0].count }
                             .map { names[$0] },
                         probes: probes, threshold: lo > 0 ? candidates[lo - 1].value : nil,
                         achievedCost: try limit?.cost(configuration))
    }
}

extension BudgetSearch {
    /// The smallest multiple of `multiple` (≥ 1) that is at least `count`: a width under `--round-to`.
    public static func roundedUp(_ count: Int, to multiple: Int) -> Int {
        (count + multiple - 1) / multiple * multiple
    }

    /// MACs of `target` with every prunable width at `min(minChannels, its width)`: the smallest
    /// network any criterion can reach, and so the lowest feasible budget.
    public static func minimumMACs(target: ChannelConfiguration, minChannels: Int) throws(PruningError) -> Int {
        let widths = target.prunableWidths.map { min(max(minChannels, 1), $0) }
        return ComplexityCounter.totalMACs(try attempt { try target.withPrunableWidths(widths) })
    }
}

/// The uniformly narrowed network of the same budget: the honest baseline (SPEC §8).
public enum UniformScaling {
    /// The largest factor s (to 1e-4) such that every width of `standard` × s, rounded, gives a
    /// network of at most `budgetMACs`; returns the configuration and the factor.
    public static func fit(_ standard: ChannelConfiguration, budgetMACs: Int) throws(PruningError)
        -> (configuration: ChannelConfiguration, factor: Double) {
        func macs(_ s: Double) -> Int { ComplexityCounter.totalMACs(standard.scaled(by: s)) }
        guard macs(1e-6) <= budgetMACs else {
            throw .infeasibleBudget(budgetMACs: budgetMACs, minimumMACs: macs(1e-6), minChannels: 1)
        }
        if macs(1) <= budgetMACs { return (standard, 1) }
        var lo = 1e-6, hi = 1.0
        while hi - lo > 1e-4 {
            let mid = (lo + hi) / 2
            if macs(mid) <= budgetMACs { lo = mid } else { hi = mid }
        }
        return (standard.scaled(by: lo), lo)
    }
}
