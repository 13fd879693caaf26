import Foundation

/// A learning-rate schedule as a factor of the base rate, as a function of a step counter whose
/// unit (epoch or iteration) the caller chooses and keeps consistent.
public indirect enum LearningRateSchedule: Sendable, Equatable {
    /// Always 1.
    case constant
    /// Multiplied by `gamma` at each milestone reached (e.g. ×0.1 at 50% and 75% of training).
    case multiStep(milestones: [Int], gamma: Float)
    /// Half-cosine from 1 at step 0 down to `floor` at step `total` (and after).
    case cosine(total: Int, floor: Float = 0)
    /// Linear warm-up: factor (s + 1)/`steps` for s < `steps`, then `then` counted from the end
    /// of the warm-up.
    case warmup(steps: Int, then: LearningRateSchedule)

    /// Factor to multiply the base learning rate by at `step` (0-based).
    public func factor(at step: Int) -> Float {
        switch self {
        case .constant:
            return 1
        case let .multiStep(milestones, gamma):
            let passed = milestones.filter { step >= $0 }.count
            return Float(pow(Double(gamma), Double(passed)))
        case let .cosine(total, floor):
            guard total > 0 else { return floor }
            let t = min(Double(max(step, 0)), Double(total)) / Double(total)
            return floor + (1 - floor) * Float(0.5 * (1 + cos(Double.pi * t)))
        case let .warmup(steps, then):
            if step < steps { return Float(step + 1) / Float(steps) }
            return then.factor(at: step - steps)
        }
    }

    /// The learning rate at `step` for base rate `base`.
    public func learningRate(base: Float, at step: Int) -> Float { base * factor(at: step) }
}
