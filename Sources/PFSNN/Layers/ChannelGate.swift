import PFSTensor

/// One learnable scalar per channel: y[n, c, h, w] = g[c] · x[n, c, h, w].
///
/// The gate of "Pruning from Scratch": it sits after a BatchNorm and before the non-linearity,
/// starts at 1 and is projected to [0, 1] after every optimiser step (``Parameter/bounds``).
/// Backward gives dL/dg[c] = Σ_{n,h,w} dy·x and dL/dx = g[c]·dy.
public final class ChannelGate: Layer {
    public let name: String
    public let channels: Int
    public let gate: Parameter
    public var computesInputGradient = true
    private var cachedInput: Tensor?

    public init(name: String = "gate", channels: Int) throws(EngineError) {
        guard channels >= 1 else {
            throw .configuration(layer: name, field: "channels", expected: "≥ 1", got: String(channels))
        }
        self.name = name
        self.channels = channels
        gate = Parameter(name: "\(name).gate", role: .gate, value: Tensor(shape: [channels], repeating: 1),
                         bounds: 0...1)
    }

    public var parameters: [Parameter] { [gate] }

    public func forward(_ input: Tensor, mode: Mode) throws(EngineError) -> Tensor {
        try requireNCHW(input, layer: name, channels: channels)
        cachedInput = mode.keepsBackwardCaches ? input : nil
        return scaledByGate(input)
    }

    public func backward(_ gradOutput: Tensor) throws(EngineError) -> Tensor? {
        guard let x = cachedInput else { throw .missingForwardCache(layer: name) }
        try checkGradient(gradOutput, against: x.shape)
        let n = x.shape[0], c = channels, plane = x.shape[2] * x.shape[3]
        // dg[c] = Σ_{n,h,w} dy·x: one channel per task, a 16-lane Float dot product per plane, Double across planes.
        gradOutput.withUnsafeBufferPointer { dy in
            x.withUnsafeBufferPointer { xb in
                gate.accumulateGradient { dg in
                    let dyBase = dy.baseAddress!, xBase = xb.baseAddress!
                    Parallel.forChunks(c) { _, chans in
                        for ch in chans {
                            var s = 0.0
                            for i in 0..<n {
                                let off = (i * c + ch) * plane
                                s += Double(VectorKernels.dot(dyBase + off, xBase + off, count: plane))
                            }
                            dg[ch] += Float(s)
                        }
                    }
                }
            }
        }
        return computesInputGradient ? scaledByGate(gradOutput) : nil
    }

    /// Forgets the forward cache (``FusedNormActivation`` ran this gate inside BatchNorm).
    func dropCache() { cachedInput = nil }

    /// t[n, c, :, :] · g[c] for an (N, C, H, W) tensor (forward for x, backward for dy).
    private func scaledByGate(_ t: Tensor) -> Tensor {
        let n = t.shape[0], c = channels, plane = t.shape[2] * t.shape[3]
        var out = Tensor(unsafeUninitializedShape: t.shape)   // fully written below
        t.withUnsafeBufferPointer { src in
            gate.value.withUnsafeBufferPointer { g in
                out.withUnsafeMutableBufferPointer { o in
                    let from = src.baseAddress!, to = o.baseAddress!
                    Parallel.forChunks(n * c, threads: n * c * plane >= 1 << 16 ? Engine.threads : 1) { _, planes in
                        for k in planes {
                            VectorKernels.affine(from + k * plane, into: to + k * plane, count: plane,
                                                 scale: g[k % c], shift: 0)
                        }
                    }
                }
            }
        }
        return out
    }
}
