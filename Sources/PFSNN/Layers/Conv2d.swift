import PFSTensor

/// 2-D convolution (dilation 1) with any kernel, stride, padding and groups (depthwise when
/// groups = C_in = C_out), optional bias.
///
/// Input (N, C_in, H, W) → output (N, C_out, H_out, W_out). Weight (C_out, C_in/groups, kH, kW).
/// Forward cost: ``Conv2dGeometry/macs`` multiply-accumulates.
public final class Conv2d: Layer {
    public let name: String
    public let inChannels: Int, outChannels: Int
    public let kernelSize: (Int, Int), stride: (Int, Int), padding: (Int, Int)
    public let groups: Int
    public let weight: Parameter
    public let bias: Parameter?
    public var computesInputGradient = true
    /// Input channels that may be non-zero (sorted); nil = all. The caller promises that every
    /// other input channel is exactly 0 in the forward pass and that nothing reads its input
    /// gradient (which is then 0): the forward pass and the input gradient skip them. Gate learning
    /// sets it from the gates at exactly 0 before each step (``Network/skipsClosedGates``).
    /// Ignored by grouped convolutions and, in the backward pass, when the weight takes a gradient.
    public var liveInputChannels: [Int]?
    /// Output channels whose gradient may be non-zero (sorted); nil = all. The caller promises
    /// that dY is exactly 0 in every other channel: the input gradient leaves them out of its sum.
    /// Ignored when the weight takes a gradient.
    public var liveGradientChannels: [Int]?
    /// Work the convolution kernels reported doing in all backward passes so far: a frozen weight
    /// adds nothing to `weightGradientMACs`, a layer without input gradient nothing to `inputGradientMACs`.
    public private(set) var backwardWork = GradientWork()
    /// Multiply-accumulates per image of the last forward pass, k_h·k_w·(C_in/groups)·C_out·H_out·W_out
    /// (bias adds not counted); 0 before any forward.
    public private(set) var lastForwardMACsPerImage = 0

    private var cachedInput: Tensor?
    private var cachedGeometry: Conv2dGeometry?

    /// A square kernel with equal stride and padding on both axes; see the rectangular initialiser.
    public convenience init(name: String = "conv", inChannels: Int, outChannels: Int, kernelSize: Int,
                            stride: Int = 1, padding: Int = 0, groups: Int = 1, bias: Bool = false,
                            rng: inout RandomGenerator) throws(EngineError) {
        try self.init(name: name, inChannels: inChannels, outChannels: outChannels, kernel: (kernelSize, kernelSize),
                      stride: (stride, stride), padding: (padding, padding), groups: groups, bias: bias, rng: &rng)
    }

    /// Creates the layer with weights drawn from N(0, 2/(kH·kW·C_out)) (He, fan-out) and zero bias.
    /// `kernel`, `stride` and `padding` are (height, width).
    public init(name: String = "conv", inChannels: Int, outChannels: Int, kernel: (Int, Int),
                stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0), groups: Int = 1, bias: Bool = false,
                rng: inout RandomGenerator) throws(EngineError) {
        self.name = name
        self.inChannels = inChannels; self.outChannels = outChannels
        self.kernelSize = kernel; self.stride = stride; self.padding = padding
        self.groups = groups
        // Validate the configuration once with a nominal input large enough for the kernel.
        let probe = Conv2dGeometry(batch: 1, inChannels: inChannels, height: kernel.0, width: kernel.1,
                                   outChannels: outChannels, kernel: kernel, stride: stride, padding: padding,
                                   groups: groups)
        try probe.validate(layer: name)
        let std = (2.0 / Float(kernel.0 * kernel.1 * outChannels)).squareRoot()
        let isDepthwise = groups > 1 && groups == inChannels
        weight = Parameter(name: "\(name).weight", role: isDepthwise ? .depthwiseWeight : .weight,
                           value: .randomNormal(probe.weightShape, std: std, using: &rng))
        self.bias = bias ? Parameter(name: "\(name).bias", role: .bias, value: Tensor(zeros: [outChannels])) : nil
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    /// The geometry for an input shape, validated.
    public func geometry(for shape: [Int]) throws(EngineError) -> Conv2dGeometry {
        guard shape.count == 4, shape[1] == inChannels else {
            throw .shape(layer: name, expected: "(N, \(inChannels), H, W)", got: shape)
        }
        let g = Conv2dGeometry(batch: shape[0], inChannels: inChannels, height: shape[2], width: shape[3],
                               outChannels: outChannels, kernel: kernelSize, stride: stride, padding: padding,
                               groups: groups)
        try g.validate(layer: name)
        return g
    }

    public func forward(_ input: Tensor, mode: Mode) throws(EngineError) -> Tensor {
        try forward(input, mode: mode, folded: nil)
    }

    /// Inference mode with the BatchNorm after this layer, its channel `gate`, a residual
    /// `addend` (the output's shape; needs a clamp) and a clamp folded into the convolution's output
    /// pass (``ConvolutionEpilogue``): clamp(norm(g·conv(x)) + addend) with one write of the output.
    /// The values are those of the layers run one by one.
    func forward(_ input: Tensor, folding norm: BatchNorm2d, gate: Tensor?, addend: Tensor?,
                 clampCeiling: Float?) throws(EngineError) -> Tensor {
        precondition(norm.channels == outChannels && (gate?.count ?? outChannels) == outChannels,
                     "\(name): folding \(norm.name) needs its \(outChannels) channels")
        let (scale, shift) = norm.inferenceAffine(gate: gate)
        return try forward(input, mode: .inference,
                           folded: Folded(scale: scale, shift: shift, addend: addend, ceiling: clampCeiling))
    }

    /// An evaluation-mode BatchNorm (+ gate, residual add, clamp) to apply in the output pass.
    private struct Folded {
        var scale: [Float], shift: [Float]
        var addend: Tensor?
        var ceiling: Float?
    }

    private func forward(_ input: Tensor, mode: Mode, folded: Folded?) throws(EngineError) -> Tensor {
        let g = try geometry(for: input.shape)
        if let addend = folded?.addend, addend.shape != g.outputShape {
            throw .shape(layer: "\(name) (residual add)", expected: Shape.describe(g.outputShape), got: addend.shape)
        }
        let output: Tensor
        if let live = liveSubset(liveInputChannels, of: inChannels), !live.isEmpty {
            // The other input channels are exactly zero: they would add nothing. (With none live
            // the full convolution below runs on the zeros, which keeps the bias path simple.)
            let sub = subsetGeometry(g, inputs: live.count, outputs: outChannels)
            output = convolve(sub, input: ChannelSubset.gather(input, channels: live),
                              weight: ChannelSubset.weight(weight.value, outputs: Array(0..<outChannels), inputs: live),
                              bias: bias?.value, folded: folded)
            lastForwardMACsPerImage = sub.macs / g.batch
        } else {
            output = convolve(g, input: input, weight: weight.value, bias: bias?.value, folded: folded)
            lastForwardMACsPerImage = g.macs / g.batch
        }
        cachedInput = mode.keepsBackwardCaches ? input : nil
        cachedGeometry = g
        return output
    }

    /// Y = conv(X, W) (+ b), through `folded` if given, for a validated geometry.
    private func convolve(_ g: Conv2dGeometry, input: Tensor, weight: Tensor, bias: Tensor?, folded: Folded?) -> Tensor {
        var output = Tensor(unsafeUninitializedShape: g.outputShape)   // fully written by the kernel
        input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                withOptionalBuffer(bias) { b in
                    withOptionalBuffer(folded?.addend) { addend in
                        (folded?.scale ?? []).withUnsafeBufferPointer { scale in
                            (folded?.shift ?? []).withUnsafeBufferPointer { shift in
                                let epilogue = folded.map {
                                    ConvolutionEpilogue(scale: scale.baseAddress!, shift: shift.baseAddress!,
                                                        addend: addend, ceiling: $0.ceiling)
                                }
                                output.withUnsafeMutableBufferPointer { y in
                                    WorkspacePool.shared.withWorkspace { workspace in
                                        Convolution.forward(g, input: x.baseAddress!, weight: w.baseAddress!, bias: b,
                                                            epilogue: epilogue, output: y.baseAddress!,
                                                            workspace: workspace)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    /// `live` when it names fewer than `count` channels of a layer that can skip channels (not
    /// grouped); nil when all channels take part.
    private func liveSubset(_ live: [Int]?, of count: Int) -> [Int]? {
        guard let live, live.count < count, groups == 1 else { return nil }
        return live
    }

    /// `g` with `inputs` input and `outputs` output channels.
    private func subsetGeometry(_ g: Conv2dGeometry, inputs: Int, outputs: Int) -> Conv2dGeometry {
        Conv2dGeometry(batch: g.batch, inChannels: inputs, height: g.height, width: g.width, outChannels: outputs,
                       kernel: kernelSize, stride: stride, padding: padding, groups: 1)
    }

    public func backward(_ gradOutput: Tensor) throws(EngineError) -> Tensor? {
        guard let input = cachedInput, let g = cachedGeometry else { throw .missingForwardCache(layer: name) }
        try checkGradient(gradOutput, against: g.outputShape)
        let frozen = weight.isFrozen && (bias?.isFrozen ?? true)
        // Frozen weight and bias, and no input gradient wanted: nothing to do at all.
        if frozen && !computesInputGradient { return nil }
        let liveInputs = liveSubset(liveInputChannels, of: inChannels)
        let liveOutputs = liveSubset(liveGradientChannels, of: outChannels)
        if frozen && (liveInputs != nil || liveOutputs != nil) {
            return subsetInputGradient(g, gradOutput: gradOutput, inputs: liveInputs ?? Array(0..<inChannels),
                                       outputs: liveOutputs ?? Array(0..<outChannels))
        }
        var gradInput: Tensor? = computesInputGradient ? Tensor(unsafeUninitializedShape: g.inputShape) : nil

        let work = input.withUnsafeBufferPointer { x in
            weight.value.withUnsafeBufferPointer { w in
                gradOutput.withUnsafeBufferPointer { dy in
                    withOptionalPointer(&gradInput) { dx in
                        weight.withGradient { dw in
                            withGradient(of: bias) { db in
                                WorkspacePool.shared.withWorkspace { workspace in
                                    Convolution.backward(g, input: x.baseAddress!, weight: w.baseAddress!,
                                                         gradOutput: dy.baseAddress!, gradInput: dx, gradWeight: dw,
                                                         gradBias: db, workspace: workspace)
                                }
                            }
                        }
                    }
                }
            }
        }
        backwardWork.weightGradientMACs += work.weightGradientMACs
        backwardWork.inputGradientMACs += work.inputGradientMACs
        return gradInput
    }

    /// dX when the weights are frozen and some channels are known not to matter: input channels
    /// outside `inputs` get 0 (nothing reads their gradient), output channels outside `outputs`
    /// have dY = 0 and are left out of the sum.
    private func subsetInputGradient(_ g: Conv2dGeometry, gradOutput: Tensor, inputs: [Int], outputs: [Int]) -> Tensor {
        guard !inputs.isEmpty && !outputs.isEmpty else { return Tensor(zeros: g.inputShape) }
        let sub = subsetGeometry(g, inputs: inputs.count, outputs: outputs.count)
        let dy = outputs.count < outChannels ? ChannelSubset.gather(gradOutput, channels: outputs) : gradOutput
        let w = ChannelSubset.weight(weight.value, outputs: outputs, inputs: inputs)
        var dx = Tensor(unsafeUninitializedShape: sub.inputShape)
        let work = w.withUnsafeBufferPointer { wb in
            dy.withUnsafeBufferPointer { dyb in
                dx.withUnsafeMutableBufferPointer { dxb in
                    WorkspacePool.shared.withWorkspace { workspace in
                        // X is read only for a weight gradient, which is not asked for; dX has its shape.
                        Convolution.backward(sub, input: UnsafePointer(dxb.baseAddress!), weight: wb.baseAddress!,
                                             gradOutput: dyb.baseAddress!, gradInput: dxb.baseAddress!,
                                             gradWeight: nil, gradBias: nil, workspace: workspace)
                    }
                }
            }
        }
        backwardWork.inputGradientMACs += work.inputGradientMACs
        return inputs.count < inChannels ? ChannelSubset.scatter(dx, channels: inputs, total: inChannels) : dx
    }
}
