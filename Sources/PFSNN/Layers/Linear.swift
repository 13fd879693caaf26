import PFSTensor

/// Fully connected layer: y = x·Wᵀ + b. Input (N, in) → output (N, out); weight (out, in).
/// Forward cost: N·in·out multiply-accumulates.
public final class Linear: Layer {
    public let name: String
    public let inFeatures: Int, outFeatures: Int
    public let weight: Parameter
    public let bias: Parameter?
    public var computesInputGradient = true
    /// Multiply-accumulates of the gradient products run in all backward passes so far.
    public private(set) var backwardWork = GradientWork()
    /// Multiply-accumulates per sample of the last forward pass, in·out (bias adds not counted);
    /// 0 before any forward.
    public private(set) var lastForwardMACsPerImage = 0
    private var cachedInput: Tensor?

    /// Weights from N(0, std²) (0.01 by default, the reference CIFAR classifier init), zero bias.
    public init(name: String = "fc", inFeatures: Int, outFeatures: Int, bias: Bool = true,
                std: Float = 0.01, rng: inout RandomGenerator) throws(EngineError) {
        guard inFeatures >= 1 else {
            throw .configuration(layer: name, field: "input features", expected: "≥ 1", got: String(inFeatures))
        }
        guard outFeatures >= 1 else {
            throw .configuration(layer: name, field: "output features", expected: "≥ 1", got: String(outFeatures))
        }
        self.name = name
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        weight = Parameter(name: "\(name).weight", role: .weight,
                           value: .randomNormal([outFeatures, inFeatures], std: std, using: &rng))
        self.bias = bias ? Parameter(name: "\(name).bias", role: .bias, value: Tensor(zeros: [outFeatures])) : nil
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    public func forward(_ input: Tensor, mode: Mode) throws(EngineError) -> Tensor {
        guard input.rank == 2, input.shape[0] >= 1, input.shape[1] == inFeatures else {
            throw .shape(layer: name, expected: "(N ≥ 1, \(inFeatures))", got: input.shape)
        }
        let n = input.shape[0], fin = inFeatures, fout = outFeatures
        var out = Tensor(unsafeUninitializedShape: [n, fout])   // bias rows copied in, or GEMM with beta 0
        input.withUnsafeBufferPointer { x in
            weight.value.withUnsafeBufferPointer { w in
                out.withUnsafeMutableBufferPointer { y in
                    let yp = y.baseAddress!
                    if let bias {
                        bias.value.withUnsafeBufferPointer { b in
                            for i in 0..<n { (yp + i * fout).update(from: b.baseAddress!, count: fout) }
                        }
                    }
                    // y (N×out) = x (N×in) · Wᵀ (in×out) + y
                    GEMM.sgemm(.none, .transposed, m: n, n: fout, k: fin, alpha: 1, a: x.baseAddress!, lda: fin,
                               b: w.baseAddress!, ldb: fin, beta: bias == nil ? 0 : 1, c: yp, ldc: fout,
                               threads: Engine.threads)
                }
            }
        }
        cachedInput = mode.keepsBackwardCaches ? input : nil
        lastForwardMACsPerImage = fin * fout
        return out
    }

    public func backward(_ gradOutput: Tensor) throws(EngineError) -> Tensor? {
        guard let input = cachedInput else { throw .missingForwardCache(layer: name) }
        let n = input.shape[0], fin = inFeatures, fout = outFeatures
        try checkGradient(gradOutput, against: [n, fout])
        var dx: Tensor? = computesInputGradient ? Tensor(unsafeUninitializedShape: input.shape) : nil   // beta 0: overwritten
        gradOutput.withUnsafeBufferPointer { dyb in
            let dy = dyb.baseAddress!
            input.withUnsafeBufferPointer { x in
                weight.accumulateGradient { dw in
                    // dW (out×in) += dyᵀ (out×N) · x (N×in)
                    GEMM.sgemm(.transposed, .none, m: fout, n: fin, k: n, alpha: 1, a: dy, lda: fout,
                               b: x.baseAddress!, ldb: fin, beta: 1, c: dw, ldc: fin, threads: Engine.threads)
                    backwardWork.weightGradientMACs += fout * fin * n
                }
            }
            bias?.accumulateGradient { db in
                for i in 0..<n { for j in 0..<fout { db[j] += dy[i * fout + j] } }
            }
            if dx != nil {
                weight.value.withUnsafeBufferPointer { w in
                    dx!.withUnsafeMutableBufferPointer { d in
                        // dx (N×in) = dy (N×out) · W (out×in)
                        GEMM.sgemm(.none, .none, m: n, n: fin, k: fout, alpha: 1, a: dy, lda: fout,
                                   b: w.baseAddress!, ldb: fin, beta: 0, c: d.baseAddress!, ldc: fin,
                                   threads: Engine.threads)
                        backwardWork.inputGradientMACs += n * fin * fout
                    }
                }
            }
        }
        return dx
    }
}
