import Foundation
import PFSTensor

/// Adam (Kingma & Ba) with bias correction and optional L2 weight decay added to the gradient:
///
///     g ← ∇ + wd·θ;   m ← β₁m + (1−β₁)g;   v ← β₂v + (1−β₂)g²;
///     θ ← θ − lr · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)
///
/// The default optimiser for learning gates (lr 0.01, default betas, no decay).
public final class Adam: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float
    public let weightDecay: WeightDecay
    /// Steps taken so far (t in the bias corrections).
    public private(set) var stepCount = 0
    private var firstMoment: [Tensor?]
    private var secondMoment: [Tensor?]

    public init(_ parameters: [Parameter], learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: WeightDecay = .none) throws(EngineError) {
        try requireOptimizer(learningRate >= 0, "Adam", "learning rate", "≥ 0", learningRate)
        try requireOptimizer(beta1 >= 0 && beta1 < 1, "Adam", "beta1", "in [0, 1)", beta1)
        try requireOptimizer(beta2 >= 0 && beta2 < 1, "Adam", "beta2", "in [0, 1)", beta2)
        try requireOptimizer(epsilon > 0, "Adam", "epsilon", "> 0", epsilon)
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
        self.weightDecay = weightDecay
        firstMoment = Array(repeating: nil, count: parameters.count)
        secondMoment = Array(repeating: nil, count: parameters.count)
    }

    public func step() {
        stepCount += 1
        let t = Double(stepCount)
        let c1 = Float(1 - pow(Double(beta1), t)), c2 = Float(1 - pow(Double(beta2), t))
        let lr = learningRate, b1 = beta1, b2 = beta2, eps = epsilon
        for (index, p) in parameters.enumerated() {
            guard !p.isFrozen, let grad = p.grad else { continue }
            let wd = weightDecay.rate(for: p)
            if firstMoment[index] == nil {
                firstMoment[index] = Tensor(zeros: p.value.shape)
                secondMoment[index] = Tensor(zeros: p.value.shape)
            }
            grad.withUnsafeBufferPointer { gb in
                p.value.withUnsafeMutableBufferPointer { theta in
                    firstMoment[index]!.withUnsafeMutableBufferPointer { m in
                        secondMoment[index]!.withUnsafeMutableBufferPointer { v in
                            for i in 0..<theta.count {
                                let g = gb[i] + wd * theta[i]
                                m[i] = b1 * m[i] + (1 - b1) * g
                                v[i] = b2 * v[i] + (1 - b2) * g * g
                                theta[i] -= lr * (m[i] / c1) / ((v[i] / c2).squareRoot() + eps)
                            }
                        }
                    }
                }
            }
            project(p)
        }
    }

    public func stateTensors() -> [String: Tensor] {
        var state: [String: Tensor] = ["adam.step": Tensor(shape: [1], repeating: Float(stepCount))]
        for (index, p) in parameters.enumerated() {
            if let m = firstMoment[index] { state["\(p.name).exp_avg"] = m }
            if let v = secondMoment[index] { state["\(p.name).exp_avg_sq"] = v }
        }
        return state
    }

    public func loadState(_ state: [String: Tensor]) throws(EngineError) {
        let known = Set(parameters.flatMap { ["\($0.name).exp_avg", "\($0.name).exp_avg_sq"] } + ["adam.step"])
        try rejectUnknownKeys(state, known: known, optimizer: "Adam")
        try restoreBuffers(&firstMoment, suffix: "exp_avg", parameters: parameters, from: state, optimizer: "Adam")
        try restoreBuffers(&secondMoment, suffix: "exp_avg_sq", parameters: parameters, from: state, optimizer: "Adam")
        stepCount = state["adam.step"].map { Int($0[flat: 0]) } ?? 0
    }
}
