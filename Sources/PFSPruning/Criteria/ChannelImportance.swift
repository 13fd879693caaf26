import Foundation
import PFSModels
import PFSNN
import PFSTensor

/// A channel-importance criterion: one score per channel of every prunable width of a network
/// (the gate positions of SPEC §2), higher meaning "keep first".
///
/// Every criterion feeds the same exact budget search (``BudgetSearch``), which ranks all
/// scores of the network globally. A criterion reads weights through ``Network/prunableUnits``
/// (producer convolution, BatchNorm, gate, consumers) and never re-derives the topology. Adding
/// one is a small type:
///
/// ```swift
/// struct BatchNormShift: ChannelImportance {
///     func scores(for network: Network) -> [[Float]] {
///         network.prunableUnits.map { $0.batchNorm.beta.value.scalars.map(abs) }
///     }
/// }
/// ```
public protocol ChannelImportance {
    /// One array per prunable unit of `network`, in configuration order, with one finite score
    /// per channel of that unit.
    func scores(for network: Network) throws(PruningError) -> [[Float]]
}

/// The learned gate values (pruning from scratch, or gates learned on pretrained weights).
/// The network must have been built with gates.
public struct GateValues: ChannelImportance {
    public init() {}

    public func scores(for network: Network) throws(PruningError) -> [[Float]] {
        try network.prunableUnits.map { (unit) throws(PruningError) -> [Float] in
            guard let gate = unit.gate else {
                throw .setting(field: "criterion", expected: "a network built with gates", got: "none at \(unit.name)")
            }
            return gate.gate.value.scalars
        }
    }
}

/// Network Slimming (Liu et al. 2017): |γ| of the BatchNorm that normalises each channel, after
/// training with the L1 penalty s·Σ|γ| (``BatchNormL1Penalty``). The penalty acts on all scales
/// with one strength, so raw magnitudes are comparable across layers and no normalisation is applied.
public struct BatchNormScaleMagnitude: ChannelImportance {
    public init() {}

    public func scores(for network: Network) -> [[Float]] {
        network.prunableUnits.map { $0.batchNorm.gamma.value.scalars.map(abs) }
    }
}

/// L1-norm filter pruning (Li et al. 2017): the L1 norm Σ|w| of each output filter of the
/// convolution that produces the channel (weight (C_out, C_in/groups, kH, kW)), divided by the
/// mean L1 norm of that layer's filters.
///
/// **Why normalise by the layer mean.** Raw filter norms grow with the fan-in C_in·kH·kW and with
/// each layer's weight scale (initialisation, weight decay, BatchNorm after the convolution makes
/// the scale free), so a global ranking of raw norms would prune whole layers by their shape
/// rather than their filters. Li et al. rank within a layer; dividing by the layer's mean keeps
/// exactly that within-layer order and makes a global threshold t mean "keep filters stronger
/// than t × their layer's typical filter". The mean rather than the maximum: one outlier filter
/// would otherwise set the scale of its whole layer.
public struct FilterL1Norm: ChannelImportance {
    public init() {}

    public func scores(for network: Network) -> [[Float]] {
        network.prunableUnits.map { unit in
            let norms = Self.filterNorms(unit.producer.weight.value)
            let mean = norms.reduce(0, +) / Float(max(norms.count, 1))
            return mean > 0 ? norms.map { $0 / mean } : norms
        }
    }

    /// Σ|w| of each filter of a weight (C_out, …).
    public static func filterNorms(_ weight: Tensor) -> [Float] {
        let filters = weight.shape[0]
        let size = weight.count / max(filters, 1)
        let values = weight.scalars
        return (0..<filters).map { f in
            var sum: Float = 0
            for i in (f * size)..<((f + 1) * size) { sum += abs(values[i]) }
            return sum
        }
    }
}

/// The random-structure baseline (seeded). Plain i.i.d. scores would make every layer keep about
/// the same fraction — uniform scaling with noise — so the randomness is put in the per-layer
/// ratios instead: layer j draws an offset ρ_j ~ U(0, 1) and a random order π of its C_j
/// channels, and channel c scores ρ_j − (π(c) + ½)/C_j. A global threshold t of the budget search
/// then keeps about (ρ_j − t)·C_j channels of layer j: random per-layer widths, random channels.
public struct RandomStructureScores: ChannelImportance {
    public var seed: UInt64

    public init(seed: UInt64) { self.seed = seed }

    public func scores(for network: Network) -> [[Float]] { Self.scores(widths: network.prunableUnits.map(\.channels), seed: seed) }

    /// The scores for prunable widths of `widths` channels.
    public static func scores(widths: [Int], seed: UInt64) -> [[Float]] {
        var rng = RandomGenerator(seed: seed)
        return widths.map { count in
            let offset = rng.uniform(0, 1)
            var order = Array(0..<count)
            rng.shuffle(&order)
            return order.map { offset - (Float($0) + 0.5) / Float(count) }
        }
    }
}
