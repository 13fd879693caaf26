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

    // Cache: the input, and the mean and 1/σ used per channel (batch statistics in training,
    // running ones in evaluation); x̂ = (x − μ)/σ is recomputed on the fly by backward, so the
    // forward pass writes only its output.
    private var cachedInput: Tensor?
    private var cachedMean: [Float] = []
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
        var means = [Float](repeating: 0, count: c), invStd = [Float](repeating: 0, count: c)
        input.withUnsafeBufferPointer { xb in
            gamma.value.withUnsafeBufferPointer { gb in
            beta.value.withUnsafeBufferPointer { bb in
            output.withUnsafeMutableBufferPointer { yb in
            runningMean.withUnsafeMutableBufferPointer { rmb in
            runningVariance.withUnsafeMutableBufferPointer { rvb in
            means.withUnsafeMutableBufferPointer { mb in
            invStd.withUnsafeMutableBufferPointer { isb in
                let x = xb.baseAddress!, y = yb.baseAddress!, gam = gb.baseAddress!, bet = bb.baseAddress!
                let rm = rmb.baseAddress!, rv = rvb.baseAddress!, mu = mb.baseAddress!, inv = isb.baseAddress!
                Parallel.forChunks(c) { _, chans in
                    for ch in chans {
                        var mean: Float, istd: Float
                        if mode == .training {
                            // One pass over memory: each plane's sum and squared deviations from its
                            // own mean (the plane is still in L1 for the second loop), merged across
                            // planes in Double: M2 = Σ ssd_i + P·Σ mean_i² − m·μ².
                            var total = 0.0, deviations = 0.0, squaredMeans = 0.0
                            for i in 0..<n {
                                let p = x + (i * c + ch) * plane
                                let s = VectorKernels.sum(p, count: plane)
                                let planeMean = s / Float(plane)
                                total += Double(s)
                                deviations += Double(VectorKernels.sumOfSquaredDeviations(p, count: plane,
                                                                                          mean: planeMean))
                                squaredMeans += Double(planeMean) * Double(planeMean)
                            }
                            let mu = total / Double(m)
                            let m2 = max(0, deviations + Double(plane) * squaredMeans - Double(m) * mu * mu)
                            mean = Float(mu)
                            istd = Float(1 / (m2 / Double(m) + Double(eps)).squareRoot())
                            rm[ch] = (1 - mom) * rm[ch] + mom * mean
                            rv[ch] = (1 - mom) * rv[ch] + mom * Float(m2 / Double(m - 1))
                        } else {
                            mean = rm[ch]
                            istd = 1 / (rv[ch] + eps).squareRoot()
                        }
                        mu[ch] = mean
                        inv[ch] = istd
                        // y = γ·(x − μ)/σ + β = γ/σ·x + (β − γ·μ/σ).
                        let scale = gam[ch] * istd, shift = bet[ch] - gam[ch] * mean * istd
                        for i in 0..<n {
                            let off = (i * c + ch) * plane
                            VectorKernels.affine(x + off, into: y + off, count: plane, scale: scale, shift: shift)
                        }
                    }
                }
            }}}}}}}
        }
        cachedMode = mode
        cachedMean = means
        cachedInvStd = invStd
        cachedInput = mode.keepsBackwardCaches ? input : nil
        return output
    }

    public func backward(_ gradOutput: Tensor) throws(EngineError) -> Tensor? {
        guard let x = cachedInput else { throw .missingForwardCache(layer: name) }
        let shape = x.shape
        try checkGradient(gradOutput, against: shape)
        let n = shape[0], c = channels, plane = shape[2] * shape[3], m = Float(n * plane)
        let training = cachedMode == .training, inputGradient = computesInputGradient
        var sumDy = [Float](repeating: 0, count: c), sumDyXhat = [Float](repeating: 0, count: c)
        var gradInput: Tensor? = inputGradient ? Tensor(unsafeUninitializedShape: shape) : nil
        let means = cachedMean, invStd = cachedInvStd
        gradOutput.withUnsafeBufferPointer { dyb in
        x.withUnsafeBufferPointer { xb in
        gamma.value.withUnsafeBufferPointer { gb in
        sumDy.withUnsafeMutableBufferPointer { sd in
        sumDyXhat.withUnsafeMutableBufferPointer { sdx in
        withOptionalPointer(&gradInput) { dxBase in
            let dyBase = dyb.baseAddress!, xBase = xb.baseAddress!
            Parallel.forChunks(c) { _, channels in
                for ch in channels {
                    // Σ dy and Σ dy·x̂ = (1/σ)·Σ dy·(x − μ), per plane in Float, across planes in Double.
                    let mean = means[ch], istd = invStd[ch]
                    var s = 0.0, sx = 0.0
                    for i in 0..<n {
                        let off = (i * c + ch) * plane
                        let sums = VectorKernels.sumAndCenteredDot(dyBase + off, xBase + off, count: plane, mean: mean)
                        s += Double(sums.sum)
                        sx += Double(sums.dot)
                    }
                    sd[ch] = Float(s)
                    sdx[ch] = Float(sx) * istd
                    guard let dxBase else { continue }
                    // The channel's planes are still in L2 for this second pass.
                    let scale = gb[ch] * istd
                    let meanDy = sd[ch] / m, meanDyXhat = sdx[ch] / m
                    for i in 0..<n {
                        let off = (i * c + ch) * plane
                        let dy = dyBase + off, dx = dxBase + off
                        if training {
                            // dx = γ/σ · (dy − mean(dy) − x̂ · mean(dy · x̂)), with x̂ = (x − μ)/σ.
                            VectorKernels.combine(dy, xBase + off, into: dx, count: plane, a: scale,
                                                  b: -scale * istd * meanDyXhat,
                                                  c: -scale * meanDy + scale * istd * mean * meanDyXhat)
                        } else {
                            VectorKernels.affine(dy, into: dx, count: plane, scale: scale, shift: 0)
                        }
                    }
                }
            }
        }}}}}}
        gamma.accumulateGradient { g in for ch in 0..<c { g[ch] += sumDyXhat[ch] } }
        beta.accumulateGradient { g in for ch in 0..<c { g[ch] += sumDy[ch] } }
        return gradInput
    }
}
