import PFSTensor

/// Batch normalisation over (N, H, W) for each channel of an (N, C, H, W) input.
///
/// Training mode normalises with the batch mean and biased variance and updates the running
/// averages as `running ← (1 − momentum)·running + momentum·batch` (unbiased variance for the
/// running estimate, as PyTorch does). Evaluation mode normalises with the running statistics.
/// The affine parameters γ (scale) and β (shift) can be frozen like any parameter.
public final class BatchNorm2d: Layer {
    public let name: String
    public let channels: Int
    public let epsilon: Float
    public let momentum: Float
    public let gamma: Parameter
    public let beta: Parameter
    public var runningMean: Tensor
    public var runningVariance: Tensor
    public var computesInputGradient = true

    // Cache: training keeps x̂ and 1/σ per channel; evaluation keeps the input (x̂ is recomputed).
    private var cachedNormalized: Tensor?
    private var cachedInput: Tensor?
    private var cachedInvStd: [Float] = []
    private var cachedMode: Mode = .training

    public init(name: String = "bn", channels: Int, epsilon: Float = 1e-5, momentum: Float = 0.1,
                initialScale: Float = 1) throws(EngineError) {
        guard channels >= 1 else {
            throw .configuration(layer: name, field: "channels", expected: "≥ 1", got: String(channels))
        }
        guard momentum >= 0 && momentum <= 1 else {
            throw .configuration(layer: name, field: "momentum", expected: "in [0, 1]", got: String(momentum))
        }
        self.name = name
        self.channels = channels
        self.epsilon = epsilon
        self.momentum = momentum
        gamma = Parameter(name: "\(name).weight", role: .batchNormScale, value: Tensor(shape: [channels], repeating: initialScale))
        beta = Parameter(name: "\(name).bias", role: .batchNormShift, value: Tensor(zeros: [channels]))
        runningMean = Tensor(zeros: [channels])
        runningVariance = Tensor(shape: [channels], repeating: 1)
    }

    public var parameters: [Parameter] { [gamma, beta] }

    public func forward(_ input: Tensor, mode: Mode) throws(EngineError) -> Tensor {
        try requireNCHW(input, layer: name, channels: channels)
        let n = input.shape[0], plane = input.shape[2] * input.shape[3], m = n * plane
        if mode == .training && m < 2 {
            throw .shape(layer: name, expected: "more than one value per channel in training mode (N·H·W ≥ 2)",
                         got: input.shape)
        }
        let c = channels, eps = epsilon, mom = momentum
        var output = Tensor(unsafeUninitializedShape: input.shape)
        var invStd = [Float](repeating: 0, count: c)
        var normalized: Tensor? = mode == .training ? Tensor(unsafeUninitializedShape: input.shape) : nil
        input.withUnsafeBufferPointer { xb in
            gamma.value.withUnsafeBufferPointer { gb in
            beta.value.withUnsafeBufferPointer { bb in
            output.withUnsafeMutableBufferPointer { yb in
            runningMean.withUnsafeMutableBufferPointer { rmb in
            runningVariance.withUnsafeMutableBufferPointer { rvb in
            invStd.withUnsafeMutableBufferPointer { isb in
            withOptionalPointer(&normalized) { xh in
                let x = xb.baseAddress!, y = yb.baseAddress!, gam = gb.baseAddress!, bet = bb.baseAddress!
                let rm = rmb.baseAddress!, rv = rvb.baseAddress!, inv = isb.baseAddress!
                Parallel.forChunks(c) { _, chans in
                    for ch in chans {
                        var mean: Float, istd: Float
                        if mode == .training {
                            // Per plane in 16-lane Float, across planes in Double (VectorKernels).
                            var s = 0.0
                            for i in 0..<n { s += Double(VectorKernels.sum(x + (i * c + ch) * plane, count: plane)) }
                            let mu = Float(s / Double(m))
                            var ss = 0.0
                            for i in 0..<n {
                                ss += Double(VectorKernels.sumOfSquaredDeviations(x + (i * c + ch) * plane,
                                                                                  count: plane, mean: mu))
                            }
                            let variance = ss / Double(m)
                            mean = mu
                            istd = Float(1 / (variance + Double(eps)).squareRoot())
                            rm[ch] = (1 - mom) * rm[ch] + mom * mean
                            rv[ch] = (1 - mom) * rv[ch] + mom * Float(ss / Double(m - 1))
                        } else {
                            mean = rm[ch]
                            istd = 1 / (rv[ch] + eps).squareRoot()
                        }
                        inv[ch] = istd
                        let gv = gam[ch], bv = bet[ch]
                        for i in 0..<n {
                            let off = (i * c + ch) * plane
                            if let xh {
                                // x̂ = (x − μ)/σ, then y = γ·x̂ + β.
                                VectorKernels.affine(x + off, into: xh + off, count: plane, scale: istd, shift: -mean * istd)
                                VectorKernels.affine(xh + off, into: y + off, count: plane, scale: gv, shift: bv)
                            } else {
                                // y = γ/σ·x + (β − γ·μ/σ).
                                VectorKernels.affine(x + off, into: y + off, count: plane, scale: gv * istd,
                                                     shift: bv - gv * mean * istd)
                            }
                        }
                    }
                }
            }}}}}}}
        }
        cachedMode = mode
        cachedInvStd = invStd
        cachedNormalized = normalized
        cachedInput = mode == .evaluation ? input : nil   // nil for training (x̂ is kept) and inference
        return output
    }

    public func backward(_ gradOutput: Tensor) throws(EngineError) -> Tensor? {
        guard let shape = cachedNormalized?.shape ?? cachedInput?.shape else { throw .missingForwardCache(layer: name) }
        try checkGradient(gradOutput, against: shape)
        let n = shape[0], c = channels, plane = shape[2] * shape[3], m = Float(n * plane)
        let training = cachedMode == .training
        var xhat: Tensor
        if let cached = cachedNormalized { xhat = cached } else {
            // Evaluation: x̂ = (x − running mean)/σ_running, recomputed from the cached input.
            xhat = cachedInput!
            let inv = cachedInvStd
            runningMean.withUnsafeBufferPointer { rm in
                xhat.withUnsafeMutableBufferPointer { h in
                    for i in 0..<n { for ch in 0..<c {
                        let p = h.baseAddress! + (i * c + ch) * plane
                        for j in 0..<plane { p[j] = (p[j] - rm[ch]) * inv[ch] }
                    } }
                }
            }
        }
        var sumDy = [Float](repeating: 0, count: c), sumDyXhat = [Float](repeating: 0, count: c)
        gradOutput.withUnsafeBufferPointer { dyb in
        xhat.withUnsafeBufferPointer { hb in
        sumDy.withUnsafeMutableBufferPointer { sd in
        sumDyXhat.withUnsafeMutableBufferPointer { sdx in
            Parallel.forChunks(c) { _, channels in
                for ch in channels {
                    var s = 0.0, sx = 0.0
                    for i in 0..<n {
                        let off = (i * c + ch) * plane
                        let dy = dyb.baseAddress! + off, h = hb.baseAddress! + off
                        s += Double(VectorKernels.sum(dy, count: plane))
                        sx += Double(VectorKernels.dot(dy, h, count: plane))
                    }
                    sd[ch] = Float(s); sdx[ch] = Float(sx)
                }
            }
        }}}}
        gamma.accumulateGradient { g in for ch in 0..<c { g[ch] += sumDyXhat[ch] } }
        beta.accumulateGradient { g in for ch in 0..<c { g[ch] += sumDy[ch] } }
        guard computesInputGradient else { return nil }

        var gradInput = Tensor(unsafeUninitializedShape: shape)
        let inv = cachedInvStd
        gradOutput.withUnsafeBufferPointer { dyb in
        xhat.withUnsafeBufferPointer { hb in
        gamma.value.withUnsafeBufferPointer { gb in
        gradInput.withUnsafeMutableBufferPointer { dxb in
            Parallel.forChunks(c) { _, channels in
                for ch in channels {
                    let scale = gb[ch] * inv[ch]
                    let meanDy = sumDy[ch] / m, meanDyXhat = sumDyXhat[ch] / m
                    for i in 0..<n {
                        let off = (i * c + ch) * plane
                        let dy = dyb.baseAddress! + off, h = hb.baseAddress! + off, dx = dxb.baseAddress! + off
                        if training {
                            // dx = γ/σ · (dy − mean(dy) − x̂ · mean(dy · x̂))
                            VectorKernels.combine(dy, h, into: dx, count: plane, a: scale, b: -scale * meanDyXhat,
                                                  c: -scale * meanDy)
                        } else {
                            VectorKernels.affine(dy, into: dx, count: plane, scale: scale, shift: 0)
                        }
                    }
                }
            }
        }}}}
        return gradInput
    }
}
