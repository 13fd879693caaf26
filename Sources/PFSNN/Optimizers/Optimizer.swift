import PFSTensor

/// Updates parameters from their gradients. Frozen parameters and parameters without a gradient
/// are skipped; parameters with ``Parameter/bounds`` are projected into them after each step.
public protocol Optimizer: AnyObject {
    var parameters: [Parameter] { get }
    /// The current learning rate (schedules set it before each step or epoch).
    var learningRate: Float { get set }
    /// Applies one update using the accumulated gradients.
    func step()
    /// The optimiser's internal state (momentum buffers, moments, step count), keyed by
    /// `"<parameter name>.<buffer>"`, for checkpoints. Buffers not yet created are absent.
    func stateTensors() -> [String: Tensor]
    /// Restores ``stateTensors()``; throws when a buffer's shape does not match its parameter
    /// or a key names no parameter.
    func loadState(_ state: [String: Tensor]) throws(EngineError)
}

extension Optimizer {
    /// Resets every parameter's gradient to zero.
    public func zeroGradients() { for p in parameters { p.zeroGradient() } }
}

/// L2 weight decay with per-role exclusions (for example no decay on batch-norm parameters,
/// biases and depthwise weights, the ImageNet reference recipe).
public struct WeightDecay: Sendable, Equatable {
    public var rate: Float
    public var excludedRoles: Set<ParameterRole>

    public init(_ rate: Float = 0, excluding excludedRoles: Set<ParameterRole> = []) {
        self.rate = rate
        self.excludedRoles = excludedRoles
    }

    public static let none = WeightDecay()

    /// The decay applied to `parameter` (0 when its role is excluded).
    public func rate(for parameter: Parameter) -> Float {
        excludedRoles.contains(parameter.role) ? 0 : rate
    }
}

/// Projects a parameter into its bounds, if it has any.
func project(_ p: Parameter) {
    guard let bounds = p.bounds else { return }
    p.value.withUnsafeMutableBufferPointer { v in
        for i in 0..<v.count { v[i] = min(max(v[i], bounds.lowerBound), bounds.upperBound) }
    }
}

/// Validates an optimiser hyper-parameter.
func requireOptimizer(_ ok: Bool, _ optimizer: String, _ field: String, _ expected: String, _ got: Float) throws(EngineError) {
    if !ok { throw .configuration(layer: optimizer, field: field, expected: expected, got: String(got)) }
}

/// Shared restore logic: one optional buffer per parameter under `"<name>.<suffix>"`.
func restoreBuffers(_ buffers: inout [Tensor?], suffix: String, parameters: [Parameter], from state: [String: Tensor],
                    optimizer: String) throws(EngineError) {
    for (index, p) in parameters.enumerated() {
        guard let t = state["\(p.name).\(suffix)"] else { buffers[index] = nil; continue }
        guard t.shape == p.value.shape else {
            throw .configuration(layer: optimizer, field: "state \(p.name).\(suffix)",
                                 expected: "shape \(Shape.describe(p.value.shape))", got: Shape.describe(t.shape))
        }
        buffers[index] = t
    }
}

/// Throws when `state` has keys that belong to no parameter buffer of this optimiser.
func rejectUnknownKeys(_ state: [String: Tensor], known: Set<String>, optimizer: String) throws(EngineError) {
    if let stray = state.keys.sorted().first(where: { !known.contains($0) }) {
        throw .configuration(layer: optimizer, field: "state", expected: "buffers of this optimiser's parameters",
                             got: "unknown entry \(stray)")
    }
}
