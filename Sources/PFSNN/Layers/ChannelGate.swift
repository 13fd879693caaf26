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
        cachedInput = input
        return scaledByGate(input)
    }

    public func backward(_ gradOutput: Tensor) throws(EngineError) -> Tensor? {
        guard let x = cachedInput else { throw .missingForwardCache(layer: name) }
        try checkGradient(gradOutput, against: x.shape)
        let n = x.shape[0], c = channels, plane = x.shape[2] * x.shape[3]
        gradOutput.withUnsafeBufferPointer { dy in
            x.withUnsafeBufferPointer { xb in
                gate.accumulateGradient { dg in
                    for ch in 0..<c {
                        var s = 0.0
                        for i in 0..<n {
                            let off = (i * c + ch) * plane
                            for j in 0..<plane { s += Double(dy[off + j]) * Double(xb[off + j]) }
                        }
                        dg[ch] += Float(s)
                    }
                }
            }
        }
        return computesInputGradient ? scaledByGate(gradOutput) : nil
    }

    /// t[n, c, :, :] · g[c] for an (N, C, H, W) tensor (forward for x, backward for dy).
    private func scaledByGate(_ t: Tensor) -> Tensor {
        let n = t.shape[0], c = channels, plane = t.shape[2] * t.shape[3]
        var out = t
        gate.value.withUnsafeBufferPointer { g in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<n { for ch in 0..<c {
                    let p = o.baseAddress! + (i * c + ch) * plane, v = g[ch]
                    for j in 0..<plane { p[j] *= v }
                } }
            }
        }
        return out
    }
}
