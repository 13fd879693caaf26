import PFSKernelsC

/// What a convolution applies to its output before storing it, per output channel o:
///
///     y[n, o, :, :] = clamp(scale[o] · conv(x)[n, o, :, :] + shift[o] + addend[n, o, :, :])
///
/// An inference-mode BatchNorm (with its channel gate), a residual add and a ReLU folded into the
/// convolution before them: ``Convolution/forward(_:input:weight:bias:epilogue:output:workspace:threads:backend:kernels:)``
/// applies it inside the Winograd output transform, so the layer's output is written once instead
/// of being written, read and written again. The arithmetic is that of the separate pass
/// (``VectorKernels/affineClamp(_:adding:into:count:scale:shift:ceiling:isa:)``: a product, then
/// sums), so folding changes no bit of the result.
///
/// The pointers must stay valid for the call: `scale` and `shift` hold C_out floats, `addend`
/// (optional) the output's (N, C_out, H_out, W_out).
public struct ConvolutionEpilogue {
    public var scale: UnsafePointer<Float>
    public var shift: UnsafePointer<Float>
    public var addend: UnsafePointer<Float>?
    /// The clamp's ceiling (`.infinity` for ReLU, 6 for ReLU6); nil for no clamp.
    public var ceiling: Float?

    public init(scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, addend: UnsafePointer<Float>? = nil,
                ceiling: Float? = nil) {
        precondition(addend == nil || ceiling != nil, "ConvolutionEpilogue: an addend needs a clamp")
        self.scale = scale
        self.shift = shift
        self.addend = addend
        self.ceiling = ceiling
    }

    /// The C kernels' form, the addend advanced by `offset` floats (to the first image a call writes).
    func kernelArgument(offset: Int) -> pfs_epilogue {
        pfs_epilogue(scale: scale, shift: shift, addend: addend.map { $0 + offset }, clamp: ceiling == nil ? 0 : 1,
                     ceiling: ceiling ?? 0)
    }

    /// The epilogue as a pass of its own over an output already computed, (N, C_out, H_out, W_out).
    func apply(_ g: Conv2dGeometry, to output: UnsafeMutablePointer<Float>, threads: Int, isa: InstructionSet) {
        let plane = g.outPlane, channels = g.outChannels
        Parallel.forChunks(g.batch * channels, threads: Parallel.workers(for: g.batch * channels, threads: threads)) { _, planes in
            for k in planes {
                let o = k % channels, at = k * plane
                if let ceiling {
                    VectorKernels.affineClamp(output + at, adding: addend.map { $0 + at }, into: output + at, count: plane,
                                              scale: scale[o], shift: shift[o], ceiling: ceiling, isa: isa)
                } else {
                    VectorKernels.affine(output + at, into: output + at, count: plane, scale: scale[o], shift: shift[o],
                                         isa: isa)
                }
            }
        }
    }
}
