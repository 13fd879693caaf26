import PFSTensor

/// Stochastic gradient descent with momentum, optional Nesterov momentum and L2 weight decay
/// (PyTorch semantics, dampening 0):
///
///     g ← ∇ + wd·θ;   v ← μ·v + g (v = g on the first step);
///     θ ← θ − lr·(g + μ·v)  (Nesterov)   or   θ ← θ − lr·v
public final class SGD: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Float
    public let momentum: Float
    public let nesterov: Bool
    public let weightDecay: WeightDecay
    private var velocity: [Tensor?]

    public init(_ parameters: [Parameter], learningRate: Float, momentum: Float = 0, nesterov: Bool = false,
                weightDecay: WeightDecay = .none) throws(EngineError) {
        try requireOptimizer(learningRate >= 0, "SGD", "learning rate", "≥ 0", learningRate)
        try requireOptimizer(momentum >= 0 && momentum < 1, "SGD", "momentum", "in [0, 1)", momentum)
        try requireOptimizer(!nesterov || momentum > 0, "SGD", "momentum", "> 0 with Nesterov", momentum)
        try requireOptimizer(weightDecay.rate >= 0, "SGD", "weight decay", "≥ 0", weightDecay.rate)
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        velocity = Array(repeating: nil, count: parameters.count)
    }

    public func step() {
        let lr = learningRate, mu = momentum, nest = nesterov
        for (index, p) in parameters.enumerated() {
            guard !p.isFrozen, let grad = p.grad else { continue }
            let wd = weightDecay.rate(for: p)
            let first = velocity[index] == nil
            if mu != 0 && first { velocity[index] = Tensor(zeros: p.value.shape) }
            // Elementwise, so split over threads in blocks; the branches are hoisted out of the
            // loops so that they vectorise. Every element gets the same arithmetic as one loop.
            grad.withUnsafeBufferPointer { gb in
                p.value.withUnsafeMutableBufferPointer { tb in
                    let grads = gb.baseAddress!, theta = tb.baseAddress!
                    if mu == 0 {
                        Parallel.forBlocks(tb.count) { r in
                            for i in r { theta[i] -= lr * (grads[i] + wd * theta[i]) }
                        }
                        return
                    }
                    velocity[index]!.withUnsafeMutableBufferPointer { vb in
                        let v = vb.baseAddress!
                        Parallel.forBlocks(tb.count) { r in
                            switch (first, nest) {
                            case (true, false):
                                for i in r { let g = grads[i] + wd * theta[i]; v[i] = g; theta[i] -= lr * g }
                            case (false, false):
                                for i in r {
                                    let g = grads[i] + wd * theta[i]
                                    v[i] = mu * v[i] + g
                                    theta[i] -= lr * v[i]
                                }
                            case (_, true):
                                for i in r {
                                    let g = grads[i] + wd * theta[i]
                                    v[i] = first ? g : mu * v[i] + g
                                    theta[i] -= lr * (g + mu * v[i])
                                }
                            }
                        }
                    }
                }
            }
            project(p)
        }
    }

    public func stateTensors() -> [String: Tensor] {
        var state: [String: Tensor] = [:]
        for (p, v) in zip(parameters, velocity) { if let v { state["\(p.name).momentum"] = v } }
        return state
    }

    public func loadState(_ state: [String: Tensor]) throws(EngineError) {
        try rejectUnknownKeys(state, known: Set(parameters.map { "\($0.name).momentum" }), optimizer: "SGD")
        try restoreBuffers(&velocity, suffix: "momentum", parameters: parameters, from: state, optimizer: "SGD")
    }
}
