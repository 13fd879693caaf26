import PFSTensor

/// Whether a forward pass trains or evaluates, and whether it keeps what a backward pass needs.
public enum Mode: Sendable {
    /// Batch statistics in BatchNorm; every layer caches what its backward needs.
    case training
    /// Running statistics in BatchNorm; layers still cache for a backward pass (used to
    /// differentiate an evaluated network, e.g. in gradient checks).
    case evaluation
    /// Running statistics, and no caches at all: the lowest-memory forward pass (evaluation,
    /// benchmarks). A `backward` after it throws ``EngineError/missingForwardCache(layer:)``.
    case inference

    /// `false` for ``inference``: layers then drop (and do not keep) their backward caches.
    @inlinable public var keepsBackwardCaches: Bool { self != .inference }
}

/// A differentiable building block with an explicit forward/backward pair.
///
/// `forward` caches exactly what `backward` needs (usually a reference to its input, which costs
/// no copy); `backward` takes dL/d(output), accumulates dL/d(parameter) into every non-frozen
/// parameter and returns dL/d(input), or `nil` when ``computesInputGradient`` is `false`.
public protocol Layer: AnyObject {
    /// Name used in error messages (e.g. `"conv1"`).
    var name: String { get }
    /// Parameters of this layer and its children, in a stable order.
    var parameters: [Parameter] { get }
    /// When `false`, `backward` skips dL/d(input) and returns `nil` (set on a network's first layer).
    var computesInputGradient: Bool { get set }

    func forward(_ input: Tensor, mode: Mode) throws(EngineError) -> Tensor
    func backward(_ gradOutput: Tensor) throws(EngineError) -> Tensor?
}

extension Layer {
    public var parameters: [Parameter] { [] }

    /// Sets every parameter's gradient to zero.
    public func zeroGradients() { for p in parameters { p.zeroGradient() } }

    /// Freezes (or unfreezes) all parameters whose role is in `roles` (all roles by default).
    public func freeze(_ frozen: Bool = true, roles: Set<ParameterRole> = Set(ParameterRole.allCases)) {
        for p in parameters where roles.contains(p.role) { p.isFrozen = frozen }
    }

    /// Number of scalar parameters.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Throws unless `gradOutput` has the shape of the cached output.
    func checkGradient(_ gradOutput: Tensor, against shape: [Int]) throws(EngineError) {
        guard gradOutput.shape == shape else {
            throw .shape(layer: "\(name).backward", expected: Shape.describe(shape), got: gradOutput.shape)
        }
    }
}

/// Validates a 4-D NCHW input, optionally with a fixed channel count.
func requireNCHW(_ x: Tensor, layer: String, channels: Int? = nil) throws(EngineError) {
    let c = channels.map(String.init) ?? "C"
    guard x.rank == 4, x.shape.allSatisfy({ $0 > 0 }), channels == nil || x.shape[1] == channels! else {
        throw .shape(layer: layer, expected: "(N, \(c), H, W) with every extent ≥ 1", got: x.shape)
    }
}
