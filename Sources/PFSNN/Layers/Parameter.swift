import PFSTensor

/// What a parameter is, so optimisers can treat kinds differently (for example no weight decay
/// on batch-norm affine parameters, biases or depthwise weights).
public enum ParameterRole: String, Sendable, CaseIterable {
    case weight, bias, batchNormScale, batchNormShift, depthwiseWeight, gate
}

/// A trainable tensor with its gradient.
///
/// A frozen parameter gets no gradient: ``grad`` stays `nil` and layers skip the work that would
/// produce it (for a convolution or linear layer, the whole weight-gradient GEMM).
public final class Parameter {
    public let name: String
    public let role: ParameterRole
    public var value: Tensor
    /// Accumulated gradient since the last ``zeroGradient()``; `nil` while frozen or before any backward.
    public private(set) var grad: Tensor?
    /// A frozen parameter receives no gradient and is not updated by optimisers.
    public var isFrozen: Bool { didSet { if isFrozen { grad = nil } } }
    /// When set, optimisers project the value into this interval after every step (gates use 0...1).
    public var bounds: ClosedRange<Float>?

    public init(name: String, role: ParameterRole, value: Tensor, isFrozen: Bool = false,
                bounds: ClosedRange<Float>? = nil) {
        self.name = name
        self.role = role
        self.value = value
        self.isFrozen = isFrozen
        self.bounds = bounds
    }

    /// Runs `body` with the gradient buffer to accumulate into (allocated as zeros on first use),
    /// or with `nil` when the parameter is frozen.
    public func withGradient<R>(_ body: (UnsafeMutablePointer<Float>?) throws -> R) rethrows -> R {
        guard !isFrozen else { return try body(nil) }
        if grad == nil || grad!.shape != value.shape { grad = Tensor(zeros: value.shape) }
        return try grad!.withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
    }

    /// Runs `body` with the gradient buffer to accumulate into; does nothing and returns `nil`
    /// when the parameter is frozen.
    @discardableResult
    public func accumulateGradient<R>(_ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R? {
        try withGradient { pointer in try pointer.map(body) }
    }

    /// Resets the gradient to zeros (keeps the buffer).
    public func zeroGradient() {
        guard grad != nil else { return }
        grad!.fill(0)
    }
}

/// ``Parameter/withGradient(_:)`` for an optional parameter (e.g. an absent bias): `nil` when the
/// parameter is absent or frozen.
@inline(__always)
func withGradient<R>(of parameter: Parameter?, _ body: (UnsafeMutablePointer<Float>?) throws -> R) rethrows -> R {
    guard let parameter else { return try body(nil) }
    return try parameter.withGradient(body)
}

/// Calls `body` with the elements of `tensor`, or with `nil` when there is no tensor.
@inline(__always)
func withOptionalBuffer<R>(_ tensor: Tensor?, _ body: (UnsafePointer<Float>?) throws -> R) rethrows -> R {
    guard let tensor else { return try body(nil) }
    return try tensor.withUnsafeBufferPointer { try body($0.baseAddress!) }
}

/// Calls `body` with a mutable pointer into `tensor`, or with `nil` when there is no tensor.
@inline(__always)
func withOptionalPointer<R>(_ tensor: inout Tensor?, _ body: (UnsafeMutablePointer<Float>?) throws -> R) rethrows -> R {
    if tensor == nil { return try body(nil) }
    return try tensor!.withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
}
