import PFSTensor

/// Elementwise clamp activation y = min(max(x, 0), ceiling): ReLU (no ceiling) or ReLU6.
/// Caches its output; the gradient passes where 0 < y < ceiling.
public final class ReLU: Layer {
    public let name: String
    /// Upper clamp (`.infinity` for plain ReLU, 6 for ReLU6).
    public let ceiling: Float
    public var computesInputGradient = true
    private var cachedOutput: Tensor?

    /// Plain ReLU by default; pass `ceiling: 6` (or use ``relu6(name:)``) for ReLU6.
    public init(name: String = "relu", ceiling: Float = .infinity) {
        self.name = name
        self.ceiling = ceiling
    }

    /// y = min(max(x, 0), 6), the MobileNetV2 activation.
    public static func relu6(name: String = "relu6") -> ReLU { ReLU(name: name, ceiling: 6) }

    public func forward(_ input: Tensor, mode: Mode) throws(EngineError) -> Tensor {
        guard input.count > 0 else { throw .shape(layer: name, expected: "a non-empty tensor", got: input.shape) }
        var y = Tensor(unsafeUninitializedShape: input.shape)   // fully written below
        let top = ceiling
        input.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                let x = xb.baseAddress!, out = yb.baseAddress!
                Parallel.forBlocks(yb.count) { r in
                    VectorKernels.clamp(x + r.lowerBound, into: out + r.lowerBound, count: r.count, ceiling: top)
                }
            }
        }
        cachedOutput = mode.keepsBackwardCaches ? y : nil
        return y
    }

    /// Forgets the forward cache (``FusedNormActivation`` ran this clamp inside BatchNorm).
    func dropCache() { cachedOutput = nil }

    public func backward(_ gradOutput: Tensor) throws(EngineError) -> Tensor? {
        guard let y = cachedOutput else { throw .missingForwardCache(layer: name) }
        try checkGradient(gradOutput, against: y.shape)
        guard computesInputGradient else { return nil }
        return Self.gradient(output: y, gradOutput: gradOutput, ceiling: ceiling)
    }

    /// dL/dx of the clamp from its output y: dy where 0 < y < ceiling, else 0 (also used by a
    /// ``Residual`` that ran the clamp fused).
    static func gradient(output y: Tensor, gradOutput: Tensor, ceiling top: Float) -> Tensor {
        var dx = Tensor(unsafeUninitializedShape: y.shape)   // fully written below
        y.withUnsafeBufferPointer { yb in
            gradOutput.withUnsafeBufferPointer { db in
                dx.withUnsafeMutableBufferPointer { d in
                    let yp = yb.baseAddress!, dy = db.baseAddress!, dp = d.baseAddress!
                    Parallel.forBlocks(d.count) { r in
                        VectorKernels.clampBackward(output: yp + r.lowerBound, gradient: dy + r.lowerBound,
                                                    into: dp + r.lowerBound, count: r.count, ceiling: top)
                    }
                }
            }
        }
        return dx
    }
}
