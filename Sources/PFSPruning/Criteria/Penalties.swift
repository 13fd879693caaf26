import PFSNN
import PFSTraining

/// The sparsity term of gate learning (SPEC §3), λ · (m − r)² with m the mean of all gates of the
/// network. Its gradient is the same for every gate: 2λ(m − r)/N, N the number of gates.
public final class GateSparsityPenalty: TrainingPenalty {
    public let name = "gate sparsity"
    public let gates: [ChannelGate]
    public let lambda: Float
    public let targetRatio: Float
    /// Number of gates N.
    public let count: Int

    public init(gates: [ChannelGate], lambda: Float, targetRatio: Float) {
        self.gates = gates
        self.lambda = lambda
        self.targetRatio = targetRatio
        count = gates.reduce(0) { $0 + $1.channels }
    }

    /// Mean of all gates m.
    public func meanGate() -> Double {
        gates.reduce(0.0) { $0 + $1.gate.value.sum() } / Double(max(count, 1))
    }

    public func value() -> Double {
        let deviation = meanGate() - Double(targetRatio)
        return Double(lambda) * deviation * deviation
    }

    public func accumulateGradient() -> Double {
        let deviation = meanGate() - Double(targetRatio)
        let gradient = Float(2 * Double(lambda) * deviation / Double(max(count, 1)))
        for g in gates {
            g.gate.accumulateGradient { grad in for c in 0..<g.channels { grad[c] += gradient } }
        }
        return Double(lambda) * deviation * deviation
    }
}

/// Network Slimming's sparsity term (Liu et al. 2017), s · Σ|γ| over the given BatchNorm scales.
/// Its subgradient is s · sign(γ), taken as 0 at γ = 0.
public final class BatchNormL1Penalty: TrainingPenalty {
    public let name = "BatchNorm L1"
    public let batchNorms: [BatchNorm2d]
    /// s.
    public let strength: Float

    public init(batchNorms: [BatchNorm2d], strength: Float) {
        self.batchNorms = batchNorms
        self.strength = strength
    }

    public func value() -> Double {
        var sum = 0.0
        for bn in batchNorms { for v in bn.gamma.value.scalars { sum += Double(abs(v)) } }
        return Double(strength) * sum
    }

    public func accumulateGradient() -> Double {
        let s = strength
        var sum = 0.0
        for bn in batchNorms {
            let gamma = bn.gamma.value.scalars
            for v in gamma { sum += Double(abs(v)) }
            bn.gamma.accumulateGradient { grad in
                for c in gamma.indices where gamma[c] != 0 { grad[c] += gamma[c] > 0 ? s : -s }
            }
        }
        return Double(strength) * sum
    }
}
