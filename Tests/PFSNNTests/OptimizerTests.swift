import Foundation
import PFSNN
import PFSTensor
import Testing

@Suite struct OptimizerTests {
    /// A parameter with a given value and gradient (the gradient is set through accumulation).
    static func parameter(_ value: [Float], grad: [Float], role: ParameterRole = .weight) throws -> Parameter {
        let p = Parameter(name: "p", role: role, value: try Tensor(shape: [value.count], values: value))
        p.accumulateGradient { g in for (i, v) in grad.enumerated() { g[i] = v } }
        return p
    }

    static func close(_ a: [Float], _ b: [Double], _ tol: Double = 1e-6) -> Bool {
        zip(a, b).allSatisfy { abs(Double($0) - $1) <= tol * max(1, abs($1)) }
    }

    @Test func sgdMomentumWithWeightDecayByHand() throws {
        let p = try Self.parameter([1.0, -2.0], grad: [0.5, 0.25])
        let opt = try SGD([p], learningRate: 0.1, momentum: 0.9, weightDecay: WeightDecay(0.01))
        opt.step()
        // g = ∇ + 0.01θ = [0.51, 0.23]; v = g; θ = θ − 0.1·v
        #expect(Self.close(p.value.scalars, [1 - 0.051, -2 - 0.023]))
        opt.step()   // same gradient: g = [0.5 + 0.01·0.949, 0.25 − 0.01·2.023]; v = 0.9v + g
        let g2 = [0.5 + 0.01 * 0.949, 0.25 + 0.01 * -2.023]
        let v2 = [0.9 * 0.51 + g2[0], 0.9 * 0.23 + g2[1]]
        #expect(Self.close(p.value.scalars, [0.949 - 0.1 * v2[0], -2.023 - 0.1 * v2[1]]))
    }

    @Test func sgdNesterovByHand() throws {
        let p = try Self.parameter([1.0], grad: [2.0])
        let opt = try SGD([p], learningRate: 0.5, momentum: 0.5, nesterov: true)
        opt.step()   // v = 2; θ = 1 − 0.5·(2 + 0.5·2) = −0.5
        #expect(Self.close(p.value.scalars, [-0.5]))
        opt.step()   // v = 0.5·2 + 2 = 3; θ = −0.5 − 0.5·(2 + 1.5) = −2.25
        #expect(Self.close(p.value.scalars, [-2.25]))
    }

    @Test func weightDecaySkipsExcludedRoles() throws {
        let w = try Self.parameter([1.0], grad: [0], role: .weight)
        let b = try Self.parameter([1.0], grad: [0], role: .batchNormScale)
        let opt = try SGD([w, b], learningRate: 1, weightDecay: WeightDecay(0.1, excluding: [.batchNormScale, .bias]))
        opt.step()
        #expect(Self.close(w.value.scalars, [0.9]))
        #expect(b.value.scalars == [1])
    }

    @Test func adamTwoStepsByHand() throws {
        let p = try Self.parameter([0.5, -1.0], grad: [0.2, -0.4])
        let opt = try Adam([p], learningRate: 0.01)
        opt.step()
        // Step 1: m̂ = g, v̂ = g², update = lr·g/(|g| + ε) ≈ lr·sign(g).
        var m = [0.1 * 0.2, 0.1 * -0.4], v = [0.001 * 0.04, 0.001 * 0.16]
        var theta = [0.5, -1.0]
        func apply(_ t: Double) {
            for i in 0..<2 {
                let mh = m[i] / (1 - pow(0.9, t)), vh = v[i] / (1 - pow(0.999, t))
                theta[i] -= 0.01 * mh / (vh.squareRoot() + 1e-8)
            }
        }
        apply(1)
        #expect(Self.close(p.value.scalars, theta, 1e-5))
        p.zeroGradient()
        p.accumulateGradient { g in g[0] = -0.1; g[1] = 0.3 }
        opt.step()
        m = [0.9 * m[0] + 0.1 * -0.1, 0.9 * m[1] + 0.1 * 0.3]
        v = [0.999 * v[0] + 0.001 * 0.01, 0.999 * v[1] + 0.001 * 0.09]
        apply(2)
        #expect(Self.close(p.value.scalars, theta, 1e-5))
    }

    @Test func boundsAreProjectedAfterTheStep() throws {
        let gate = Parameter(name: "g", role: .gate, value: try Tensor(shape: [3], values: [0.05, 0.5, 0.99]),
                             bounds: 0...1)
        gate.accumulateGradient { g in g[0] = 1; g[1] = 0; g[2] = -1 }
        let opt = try SGD([gate], learningRate: 0.1)
        opt.step()
        #expect(gate.value.scalars == [0, 0.5, 1])
    }

    @Test func frozenParametersAreNotUpdated() throws {
        let p = try Self.parameter([1.0], grad: [1.0])
        p.isFrozen = true
        #expect(p.grad == nil)
        let opt = try Adam([p], learningRate: 0.1)
        opt.step()
        #expect(p.value.scalars == [1])
    }

    @Test func badHyperParametersAreRejected() throws {
        let p = try Self.parameter([1.0], grad: [1.0])
        #expect(throws: EngineError.self) { try SGD([p], learningRate: -1) }
        #expect(throws: EngineError.self) { try SGD([p], learningRate: 0.1, nesterov: true) }
        #expect(throws: EngineError.self) { try Adam([p], beta1: 1) }
    }

    @Test func schedules() {
        let multi = LearningRateSchedule.multiStep(milestones: [80, 120], gamma: 0.1)
        #expect(multi.learningRate(base: 0.1, at: 79) == 0.1)
        #expect(abs(multi.learningRate(base: 0.1, at: 80) - 0.01) < 1e-9)
        #expect(abs(multi.learningRate(base: 0.1, at: 159) - 0.001) < 1e-9)
        let cosine = LearningRateSchedule.cosine(total: 100)
        #expect(cosine.factor(at: 0) == 1)
        #expect(abs(cosine.factor(at: 50) - 0.5) < 1e-6)
        #expect(cosine.factor(at: 100) == 0)
        let warm = LearningRateSchedule.warmup(steps: 5, then: .cosine(total: 10, floor: 0.1))
        #expect(abs(warm.factor(at: 0) - 0.2) < 1e-7)
        #expect(warm.factor(at: 4) == 1)
        #expect(warm.factor(at: 5) == 1)
        #expect(abs(warm.factor(at: 15) - 0.1) < 1e-7)
    }

    /// Runs `total` steps with a fixed gradient, saving and restoring the optimiser state into a
    /// fresh optimiser after `split` steps; returns the final value.
    static func runWithRestart(_ make: ([Parameter]) throws -> Optimizer, total: Int, split: Int?,
                               restore: Bool = true) throws -> [Float] {
        let p = try parameter([0.3, -0.7, 1.1], grad: [0.2, -0.1, 0.4])
        var opt = try make([p])
        for i in 0..<total {
            if i == split {
                let saved = opt.stateTensors()
                opt = try make([p])
                if restore { try opt.loadState(saved) }
            }
            opt.step()
        }
        return p.value.scalars
    }

    @Test func stateRoundTripContinuesBitIdentically() throws {
        let makers: [([Parameter]) throws -> Optimizer] = [
            { try SGD($0, learningRate: 0.1, momentum: 0.9, weightDecay: WeightDecay(1e-3)) },
            { try Adam($0, learningRate: 0.01, weightDecay: WeightDecay(0.5)) },   // decay makes the gradient vary
        ]
        for make in makers {
            let straight = try Self.runWithRestart(make, total: 5, split: nil)
            let restarted = try Self.runWithRestart(make, total: 5, split: 3)
            #expect(straight == restarted)
            // Without the state, the restarted run differs: the test can tell.
            #expect(straight != (try Self.runWithRestart(make, total: 5, split: 3, restore: false)))
        }
        // Bad state is refused with the entry named.
        let p = try Self.parameter([1, 2], grad: [0, 0])
        let sgd = try SGD([p], learningRate: 0.1, momentum: 0.9)
        #expect(throws: EngineError.self) { try sgd.loadState(["p.momentum": Tensor(zeros: [3])]) }
        #expect(throws: EngineError.self) { try sgd.loadState(["q.momentum": Tensor(zeros: [2])]) }
    }
}
