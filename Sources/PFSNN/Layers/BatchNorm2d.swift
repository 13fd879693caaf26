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

    /// y = g·(γ·(x − μ)/σ + β) = scale·x + shift with scale = g·γ/σ, shift = g·(β − γ·μ/σ).
    @inline(__always)
    static func affine(gamma: Float, beta: Float, mean: Float, invStd: Float, gate: Float) -> (scale: Float, shift: Float) {
        (gate * gamma * invStd, gate * (beta - gamma * mean * invStd))
    }

    @inline(__always)
    static func invStd(variance: Float, epsilon: Float) -> Float { 1 / (variance + epsilon).squareRoot() }

    /// Evaluation mode as y = scale·x + shift per channel (the running statistics), with each
    /// channel's `gate` folded in: what a convolution before it applies in its output pass
    /// (``Conv2d/forward(_:folding:gate:addend:clampCeiling:)``). The same values as the forward pass's.
    func inferenceAffine(gate: Tensor?) -> (scale: [Float], shift: [Float]) {
        let gam = gamma.value.scalars, bet = beta.value.scalars, gates = gate?.scalars
        let means = runningMean.scalars, variances = runningVariance.scalars
        var scale = [Float](repeating: 0, count: channels), shift = scale
        for ch in 0..<channels {
            (scale[ch], shift[ch]) = Self.affine(gamma: gam[ch], beta: bet[ch], mean: means[ch],
                                                 invStd: Self.invStd(variance: variances[ch], epsilon: epsilon),
                                                 gate: gates?[ch] ?? 1)
        }
        return (scale, shift)
    }

    /// Forgets the last forward pass (its output was computed elsewhere), so that a backward throws.
    func dropCache() { cachedInput = nil }

    public func forward(_ input: Tensor, mode: Mode) throws(EngineError) -> Tensor {
        try forward(input, mode: mode, gate: nil, clampCeiling: nil)
    }

    public func backward(_ gradOutput: Tensor) throws(EngineError) -> Tensor? {
        try backward(gradOutput, gate: nil, clampOutput: nil, clampCeiling: .infinity)
    }

    /// The forward pass, optionally followed in the same pass over memory by a per-channel gate
    /// (y ← g·y) and a clamp (y ← min(max(y, 0), ceiling)): see ``FusedNormActivation``.
    ///
    /// With `addend` (a residual's shortcut, same shape as the input), y ← clamp(BN(x) + addend):
    /// the residual add and the clamp that follows it, in the same pass (requires `clampCeiling`).
    func forward(_ input: Tensor, mode: Mode, gate: Tensor?, clampCeiling: Float?,
                 addend: Tensor? = nil) throws(EngineError) -> Tensor {
        try requireNCHW(input, layer: name, channels: channels)
        precondition(addend == nil || (clampCeiling != nil && addend!.shape == input.shape),
                     "\(name): an addend needs a clamp and the input's shape")
        let n = input.shape[0], plane = input.shape[2] * input.shape[3], m = n * plane
        if mode == .training && m < 2 {
            throw .shape(layer: name, expected: "more than one value per channel in training mode (N·H·W ≥ 2)",
                         got: input.shape)
        }
        let c = channels, eps = epsilon, mom = momentum
        var output = Tensor(unsafeUninitializedShape: input.shape)
        var means = [Float](repeating: 0, count: c), invStd = [Float](repeating: 0, count: c)
        input.withUnsafeBufferPointer { xb in
            withOptionalBuffer(addend) { add in
            gamma.value.withUnsafeBufferPointer { gb in
            beta.value.withUnsafeBufferPointer { bb in
            withOptionalBuffer(gate) { gv in
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
                                let (s, ssd) = VectorKernels.sumAndDeviations(p, count: plane)
                                let planeMean = s / Float(plane)
                                total += Double(s)
                                deviations += Double(ssd)
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
                            istd = Self.invStd(variance: rv[ch], epsilon: eps)
                        }
                        mu[ch] = mean
                        inv[ch] = istd
                        // The channel's planes are still in L2 from the statistics pass.
                        let (scale, shift) = Self.affine(gamma: gam[ch], beta: bet[ch], mean: mean, invStd: istd,
                                                         gate: gv?[ch] ?? 1)
                        for i in 0..<n {
                            let off = (i * c + ch) * plane
                            if let clampCeiling {
                                VectorKernels.affineClamp(x + off, adding: add.map { $0 + off }, into: y + off,
                                                          count: plane, scale: scale, shift: shift, ceiling: clampCeiling)
                            } else {
                                VectorKernels.affine(x + off, into: y + off, count: plane, scale: scale, shift: shift)
                            }
                        }
                    }
                }
            }}}}}}}}
            }
        }
        cachedMode = mode
        cachedMean = means
        cachedInvStd = invStd
        cachedInput = mode.keepsBackwardCaches ? input : nil
        return output
    }

    /// The backward pass, optionally through a gate and a clamp that followed this layer (fused
    /// forward): `gradOutput` is then the gradient of the clamp's output `clampOutput`, the clamp's
    /// gradient is applied on the fly, and the gate's gradient dL/dg[c] = Σ dy·(BN output) is
    /// accumulated from the same two sums BatchNorm needs.
    func backward(_ gradOutput: Tensor, gate: ChannelGate?, clampOutput: Tensor?,
                  clampCeiling: Float) throws(EngineError) -> Tensor? {
        guard let x = cachedInput else { throw .missingForwardCache(layer: name) }
        let shape = x.shape
        try checkGradient(gradOutput, against: shape)
        let n = shape[0], c = channels, plane = shape[2] * shape[3], m = Float(n * plane)
        let training = cachedMode == .training, inputGradient = computesInputGradient
        // Per channel: Σ g and Σ g·(x − μ), g = dy masked by the clamp (dy itself without one).
        var sumG = [Float](repeating: 0, count: c), sumGCentered = [Float](repeating: 0, count: c)
        var gradInput: Tensor? = inputGradient ? Tensor(unsafeUninitializedShape: shape) : nil
        let means = cachedMean, invStd = cachedInvStd
        let gateValues = gate?.gate.value
        gradOutput.withUnsafeBufferPointer { dyb in
        withOptionalBuffer(clampOutput) { yBase in
        x.withUnsafeBufferPointer { xb in
        gamma.value.withUnsafeBufferPointer { gb in
        withOptionalBuffer(gateValues) { gv in
        sumG.withUnsafeMutableBufferPointer { sgb in
        sumGCentered.withUnsafeMutableBufferPointer { scb in
        withOptionalPointer(&gradInput) { dxBase in
            let dyBase = dyb.baseAddress!, xBase = xb.baseAddress!
            Parallel.forChunks(c) { _, channels in
                for ch in channels {
                    if yBase != nil && gv?[ch] == 0 {
                        // A closed gate before a clamp: y = clamp(0·BN(x)) = 0 (the gated, fused
                        // path has no residual addend) masks all of dy, so both sums and dx are 0
                        // (what the passes below would compute, without them).
                        sgb[ch] = 0
                        scb[ch] = 0
                        if let dxBase { for i in 0..<n { (dxBase + (i * c + ch) * plane).update(repeating: 0, count: plane) } }
                        continue
                    }
                    // Per plane in Float, across planes in Double.
                    let mean = means[ch], istd = invStd[ch]
                    var s = 0.0, sx = 0.0
                    for i in 0..<n {
                        let off = (i * c + ch) * plane
                        let sums = VectorKernels.sumAndCenteredDot(dyBase + off, xBase + off, count: plane, mean: mean,
                                                                   clampOutput: yBase.map { $0 + off },
                                                                   ceiling: clampCeiling)
                        s += Double(sums.sum)
                        sx += Double(sums.dot)
                    }
                    sgb[ch] = Float(s)
                    scb[ch] = Float(sx)
                    guard let dxBase else { continue }
                    // BatchNorm sees dz = g_c·(masked dy): Σ dz = g_c·Σ g, Σ dz·x̂ = g_c/σ·Σ g·(x − μ).
                    let gk = gv?[ch] ?? 1, scale = gb[ch] * istd
                    let meanDy = gk * Float(s) / m, meanDyXhat = gk * Float(sx) * istd / m
                    // dx = γ/σ · (dz − mean(dz) − x̂ · mean(dz · x̂)), with x̂ = (x − μ)/σ; the
                    // channel's planes are still in L2 for this second pass.
                    let a = scale * gk
                    let b = training ? -scale * istd * meanDyXhat : 0
                    let c0 = training ? -scale * meanDy + scale * istd * mean * meanDyXhat : 0
                    for i in 0..<n {
                        let off = (i * c + ch) * plane
                        if let yBase {
                            VectorKernels.maskedCombine(dyBase + off, output: yBase + off, ceiling: clampCeiling,
                                                        xBase + off, into: dxBase + off, count: plane, a: a, b: b, c: c0)
                        } else if training {
                            VectorKernels.combine(dyBase + off, xBase + off, into: dxBase + off, count: plane,
                                                  a: a, b: b, c: c0)
                        } else {
                            VectorKernels.affine(dyBase + off, into: dxBase + off, count: plane, scale: a, shift: 0)
                        }
                    }
                }
            }
        }}}}}}}}
        // dγ = Σ dz·x̂, dβ = Σ dz; the gate's dg = Σ g·z with z = γ/σ·(x − μ) + β.
        withOptionalBuffer(gateValues) { gv in
            gamma.accumulateGradient { dg in for ch in 0..<c { dg[ch] += (gv?[ch] ?? 1) * sumGCentered[ch] * invStd[ch] } }
            beta.accumulateGradient { db in for ch in 0..<c { db[ch] += (gv?[ch] ?? 1) * sumG[ch] } }
        }
        if let gate {
            gamma.value.withUnsafeBufferPointer { gam in
                beta.value.withUnsafeBufferPointer { bet in
                    gate.gate.accumulateGradient { dg in
                        for ch in 0..<c { dg[ch] += gam[ch] * invStd[ch] * sumGCentered[ch] + bet[ch] * sumG[ch] }
                    }
                }
            }
        }
        return gradInput
    }
}
