import Foundation
import PFSTensor

/// Mean softmax cross-entropy over a batch, with optional label smoothing.
///
/// For logits z (N, K) and labels y, with p = softmax(z) and target
/// q = (1 − ε)·onehot(y) + ε/K:   L = −(1/N) Σ_n Σ_k q_nk · log p_nk,   dL/dz = (p − q)/N.
public final class SoftmaxCrossEntropy {
    public let name = "softmax_cross_entropy"
    /// ε in [0, 1).
    public let labelSmoothing: Float
    private var cachedProbabilities: Tensor?
    private var cachedLabels: [Int] = []

    public init(labelSmoothing: Float = 0) throws(EngineError) {
        guard labelSmoothing >= 0 && labelSmoothing < 1 else {
            throw .configuration(layer: "softmax_cross_entropy", field: "label smoothing", expected: "in [0, 1)",
                                 got: String(labelSmoothing))
        }
        self.labelSmoothing = labelSmoothing
    }

    /// Mean loss of `logits` (N, K) against `labels` (N values in 0..<K).
    public func forward(logits: Tensor, labels: [Int]) throws(EngineError) -> Float {
        guard logits.rank == 2, logits.shape[0] >= 1, logits.shape[1] >= 1 else {
            throw .shape(layer: name, expected: "logits (N ≥ 1, K ≥ 1)", got: logits.shape)
        }
        let n = logits.shape[0], k = logits.shape[1]
        guard labels.count == n else {
            throw .shape(layer: name, expected: "\(labels.count) rows of logits, one per label", got: logits.shape)
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= k }) {
            throw .label(layer: name, index: bad, value: labels[bad], expected: "a class index in 0..<\(k)")
        }
        let eps = Double(labelSmoothing)
        var probabilities = Tensor(zeros: logits.shape)
        var total = 0.0
        logits.withUnsafeBufferPointer { zb in
            probabilities.withUnsafeMutableBufferPointer { pb in
                for i in 0..<n {
                    let z = zb.baseAddress! + i * k, p = pb.baseAddress! + i * k
                    var maxZ = -Float.infinity
                    for j in 0..<k { maxZ = max(maxZ, z[j]) }
                    var sumExp = 0.0
                    for j in 0..<k { let e = exp(Double(z[j] - maxZ)); p[j] = Float(e); sumExp += e }
                    let logSum = log(sumExp)
                    var rowLoss = 0.0, sumLogP = 0.0
                    for j in 0..<k {
                        let logP = Double(z[j] - maxZ) - logSum
                        sumLogP += logP
                        p[j] = Float(Double(p[j]) / sumExp)
                        if j == labels[i] { rowLoss -= (1 - eps) * logP }
                    }
                    rowLoss -= eps / Double(k) * sumLogP
                    total += rowLoss
                }
            }
        }
        cachedProbabilities = probabilities
        cachedLabels = labels
        return Float(total / Double(n))
    }

    /// dL/d(logits) for the last `forward`.
    public func backward() throws(EngineError) -> Tensor {
        guard var grad = cachedProbabilities else { throw .missingForwardCache(layer: name) }
        let n = grad.shape[0], k = grad.shape[1]
        let eps = labelSmoothing, invN = 1 / Float(n), offValue = eps / Float(k)
        grad.withUnsafeMutableBufferPointer { g in
            for i in 0..<n {
                let row = g.baseAddress! + i * k
                for j in 0..<k {
                    let q = (j == cachedLabels[i] ? 1 - eps : 0) + offValue
                    row[j] = (row[j] - q) * invN
                }
            }
        }
        return grad
    }

    /// Fraction of rows whose arg-max equals the label (ties go to the lowest index).
    public static func accuracy(logits: Tensor, labels: [Int]) -> Double {
        guard logits.rank == 2, logits.shape[0] == labels.count, !labels.isEmpty else { return 0 }
        let k = logits.shape[1]
        var correct = 0
        logits.withUnsafeBufferPointer { z in
            for (i, y) in labels.enumerated() {
                var best = 0
                for j in 1..<k where z[i * k + j] > z[i * k + best] { best = j }
                if best == y { correct += 1 }
            }
        }
        return Double(correct) / Double(labels.count)
    }
}
