import PFSKernelsC

/// im2col / col2im for one image and one channel group, through a zero-padded copy of the
/// image so that the inner loops are plain (strided) copies without bounds checks.
///
/// The column block has `patchSize` rows (c, ki, kj) and `outPlane` columns (oh, ow), stored with
/// row stride `ld` (≥ outPlane, so several images' blocks can sit side by side):
/// col[(c·kH + ki)·kW + kj, oh·W_out + ow] = x[c, oh·sH − pH + ki, ow·sW − pW + kj] (0 outside).
enum Im2Col {
    /// Valid output columns `ow` for kernel column `kj`: those with 0 ≤ ow·s − p + kj < W.
    @inline(__always)
    static func validRange(kernelOffset kj: Int, pad: Int, stride: Int, inExtent: Int, outExtent: Int) -> Range<Int> {
        // ow·s ≥ p − kj  →  ow ≥ ceil((p − kj)/s);   ow·s ≤ W − 1 + p − kj  →  ow ≤ floor(...)
        let lowNum = pad - kj
        let lo = lowNum <= 0 ? 0 : (lowNum + stride - 1) / stride
        let highNum = inExtent - 1 + pad - kj
        let hi = highNum < 0 ? -1 : highNum / stride
        let l = min(max(lo, 0), outExtent), h = min(max(hi + 1, l), outExtent)
        return l..<h
    }

    /// Floats of scratch the padded copy of `channels` planes needs (0 without padding).
    static func scratchCount(_ g: Conv2dGeometry, channels: Int) -> Int {
        g.padH == 0 && g.padW == 0 ? 0 : channels * (g.height + 2 * g.padH) * (g.width + 2 * g.padW)
    }

    /// Copies `image` into `scratch` with a zero border of the padding width, so that the column
    /// loops below need no bounds checks. Returns the plane to read (the image itself if unpadded).
    @inline(__always)
    static func padded(_ image: UnsafePointer<Float>, channels: Int, _ g: Conv2dGeometry,
                       scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        let h = g.height, w = g.width, ph = g.padH, pw = g.padW
        if ph == 0 && pw == 0 { return image }
        let hp = h + 2 * ph, wp = w + 2 * pw
        for c in 0..<channels {
            let dst = scratch + c * hp * wp, src = image + c * h * w
            dst.update(repeating: 0, count: ph * wp)
            for y in 0..<h {
                let row = dst + (y + ph) * wp, from = src + y * w
                for x in 0..<pw { row[x] = 0 }
                VectorKernels.copy(from, into: row + pw, count: w)
                for x in (pw + w)..<wp { row[x] = 0 }
            }
            (dst + (ph + h) * wp).update(repeating: 0, count: ph * wp)
        }
        return UnsafePointer(scratch)
    }

    /// Fills `col` (patchSize × outPlane, row stride `ld`) from `image` (channels × H × W).
    /// `scratch` holds ``scratchCount(_:channels:)`` floats.
    static func im2col(_ image: UnsafePointer<Float>, channels: Int, _ g: Conv2dGeometry,
                       into col: UnsafeMutablePointer<Float>, ld: Int, scratch: UnsafeMutablePointer<Float>,
                       isa: InstructionSet = Engine.kernels.isa) {
        if let table = DirectConvolution.columnTable(for: g, isa: isa) {
            // 3×3 stride 1 pad 1 with AVX2/AVX-512 (VGG's 4×4 and 2×2 layers): one masked copy per row.
            let done = table.offsets.withUnsafeBufferPointer { offsets in
                isa == .avx512
                    ? table.masks.withUnsafeBufferPointer { masks in
                        pfs_conv3x3_im2col(image, g.inPlane, Int32(channels), g.outPlane, 9, offsets.baseAddress!,
                                           masks.baseAddress!, col, ld)
                    }
                    : table.laneMasks.withUnsafeBufferPointer { lanes in
                        pfs_conv3x3_im2col_avx2(image, g.inPlane, Int32(channels), g.outPlane, 9, offsets.baseAddress!,
                                                lanes.baseAddress!, col, ld)
                    }
            }
            precondition(done == 1, "Im2Col: the \(isa) kernel refused to run")
            return
        }
        let source = padded(image, channels: channels, g, scratch: scratch)
        let wp = g.width + 2 * g.padW, planeSize = (g.height + 2 * g.padH) * wp
        let oh = g.outHeight, ow = g.outWidth, sh = g.strideH, sw = g.strideW
        var row = col
        for c in 0..<channels {
            let plane = source + c * planeSize
            for ki in 0..<g.kernelH {
                for kj in 0..<g.kernelW {
                    for y in 0..<oh {
                        let src = plane + (y * sh + ki) * wp + kj, out = row + y * ow
                        if sw == 1 {
                            VectorKernels.copy(src, into: out, count: ow)
                        } else {
                            for x in 0..<ow { out[x] = src[x * sw] }
                        }
                    }
                    row += ld
                }
            }
        }
    }

    /// Adds the columns `col` (patchSize × outPlane, row stride `ld`) back into `image`
    /// (channels × H × W), accumulating in a zeroed padded `scratch` first when there is padding.
    static func col2im(_ col: UnsafePointer<Float>, ld: Int, channels: Int, _ g: Conv2dGeometry,
                       into image: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                       isa: InstructionSet = Engine.kernels.isa) {
        if let table = DirectConvolution.columnTable(for: g, isa: isa) {
            let done = table.offsets.withUnsafeBufferPointer { offsets in
                isa == .avx512
                    ? table.masks.withUnsafeBufferPointer { masks in
                        pfs_conv3x3_col2im(col, ld, Int32(channels), g.outPlane, 9, offsets.baseAddress!,
                                           masks.baseAddress!, image, g.inPlane)
                    }
                    : table.laneMasks.withUnsafeBufferPointer { lanes in
                        pfs_conv3x3_col2im_avx2(col, ld, Int32(channels), g.outPlane, 9, offsets.baseAddress!,
                                                lanes.baseAddress!, image, g.inPlane)
                    }
            }
            precondition(done == 1, "Im2Col: the \(isa) kernel refused to run")
            return
        }
        let h = g.height, w = g.width, ph = g.padH, pw = g.padW
        let isPadded = ph != 0 || pw != 0
        let wp = w + 2 * pw, planeSize = (h + 2 * ph) * wp
        let target = isPadded ? scratch : image
        if isPadded { scratch.update(repeating: 0, count: channels * planeSize) }
        let oh = g.outHeight, ow = g.outWidth, sh = g.strideH, sw = g.strideW
        var row = col
        for c in 0..<channels {
            let plane = target + c * planeSize
            for ki in 0..<g.kernelH {
                for kj in 0..<g.kernelW {
                    for y in 0..<oh {
                        let dst = plane + (y * sh + ki) * wp + kj, src = row + y * ow
                        if sw == 1 {
                            VectorKernels.add(dst, src, into: dst, count: ow)
                        } else {
                            for x in 0..<ow { dst[x * sw] += src[x] }
                        }
                    }
                    row += ld
                }
            }
        }
        guard isPadded else { return }
        for c in 0..<channels {
            let from = scratch + c * planeSize, to = image + c * h * w
            for y in 0..<h {
                VectorKernels.add(to + y * w, from + (y + ph) * wp + pw, into: to + y * w, count: w)
            }
        }
    }
}
