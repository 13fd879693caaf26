/// Shapes of one 2-D convolution: input (N, C_in, H, W), weight (C_out, C_in/groups, kH, kW),
/// output (N, C_out, H_out, W_out) with H_out = (H + 2·padH − kH)/strideH + 1 (dilation 1).
public struct Conv2dGeometry: Equatable, Sendable {
    public var batch: Int
    public var inChannels: Int
    public var height: Int
    public var width: Int
    public var outChannels: Int
    public var kernelH: Int
    public var kernelW: Int
    public var strideH: Int
    public var strideW: Int
    public var padH: Int
    public var padW: Int
    public var groups: Int

    public init(batch: Int, inChannels: Int, height: Int, width: Int, outChannels: Int,
                kernel: (Int, Int), stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0), groups: Int = 1) {
        self.batch = batch; self.inChannels = inChannels; self.height = height; self.width = width
        self.outChannels = outChannels
        (kernelH, kernelW) = kernel
        (strideH, strideW) = stride
        (padH, padW) = padding
        self.groups = groups
    }

    public var outHeight: Int { (height + 2 * padH - kernelH) / strideH + 1 }
    public var outWidth: Int { (width + 2 * padW - kernelW) / strideW + 1 }
    public var inPerGroup: Int { inChannels / groups }
    public var outPerGroup: Int { outChannels / groups }
    /// Rows of the im2col matrix: C_in/groups · kH · kW (the GEMM's shared dimension).
    public var patchSize: Int { inPerGroup * kernelH * kernelW }
    /// Output pixels per image and channel: H_out · W_out.
    public var outPlane: Int { outHeight * outWidth }
    public var inPlane: Int { height * width }
    public var inputShape: [Int] { [batch, inChannels, height, width] }
    public var outputShape: [Int] { [batch, outChannels, outHeight, outWidth] }
    public var weightShape: [Int] { [outChannels, inPerGroup, kernelH, kernelW] }
    /// 1×1, stride 1, no padding: the input planes already are the im2col matrix.
    public var isPointwise: Bool {
        kernelH == 1 && kernelW == 1 && strideH == 1 && strideW == 1 && padH == 0 && padW == 0
    }

    /// Depthwise: groups > 1 with one input channel per group (any channel multiplier).
    public var isDepthwise: Bool { groups > 1 && inPerGroup == 1 }

    /// Multiply-accumulates of the forward pass for the whole batch (bias not counted).
    public var macs: Int { batch * outChannels * outPlane * patchSize }

    /// Checks every extent; `layer` names the caller in the error.
    public func validate(layer: String) throws(EngineError) {
        func bad(_ field: String, _ expected: String, _ got: Int) -> EngineError {
            .configuration(layer: layer, field: field, expected: expected, got: String(got))
        }
        if groups < 1 { throw bad("groups", "≥ 1", groups) }
        if inChannels < 1 || inChannels % groups != 0 {
            throw bad("input channels", "a positive multiple of groups (\(groups))", inChannels)
        }
        if outChannels < 1 || outChannels % groups != 0 {
            throw bad("output channels", "a positive multiple of groups (\(groups))", outChannels)
        }
        if kernelH < 1 || kernelW < 1 { throw bad("kernel size", "≥ 1", min(kernelH, kernelW)) }
        if strideH < 1 || strideW < 1 { throw bad("stride", "≥ 1", min(strideH, strideW)) }
        if padH < 0 || padW < 0 { throw bad("padding", "≥ 0", min(padH, padW)) }
        if batch < 1 || height < 1 || width < 1 {
            throw .shape(layer: layer, expected: "(N ≥ 1, \(inChannels), H ≥ 1, W ≥ 1)", got: inputShape)
        }
        if height + 2 * padH < kernelH || width + 2 * padW < kernelW {
            throw .shape(layer: layer,
                         expected: "spatial size with padding at least the kernel \(kernelH)×\(kernelW)",
                         got: inputShape)
        }
    }
}
