/// im2col / col2im for one image and one channel group.
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

    /// Fills `col` (patchSize × outPlane, row stride `ld`) from `image` (channels × H × W).
    static func im2col(_ image: UnsafePointer<Float>, channels: Int, _ g: Conv2dGeometry,
                       into col: UnsafeMutablePointer<Float>, ld: Int) {
        let h = g.height, w = g.width, oh = g.outHeight, ow = g.outWidth
        let sh = g.strideH, sw = g.strideW, ph = g.padH, pw = g.padW, kh = g.kernelH, kw = g.kernelW
        var row = col
        for c in 0..<channels {
            let plane = image + c * h * w
            for ki in 0..<kh {
                let rows = validRange(kernelOffset: ki, pad: ph, stride: sh, inExtent: h, outExtent: oh)
                for kj in 0..<kw {
                    let cols = validRange(kernelOffset: kj, pad: pw, stride: sw, inExtent: w, outExtent: ow)
                    for y in 0..<oh {
                        let out = row + y * ow
                        guard rows.contains(y), !cols.isEmpty else { out.update(repeating: 0, count: ow); continue }
                        let src = plane + (y * sh - ph + ki) * w - pw + kj
                        for x in 0..<cols.lowerBound { out[x] = 0 }
                        if sw == 1 {
                            for x in cols { out[x] = src[x] }
                        } else {
                            for x in cols { out[x] = src[x * sw] }
                        }
                        for x in cols.upperBound..<ow { out[x] = 0 }
                    }
                    row += ld
                }
            }
        }
    }

    /// Adds the columns `col` (patchSize × outPlane, row stride `ld`) back into `image` (channels × H × W).
    static func col2im(_ col: UnsafePointer<Float>, ld: Int, channels: Int, _ g: Conv2dGeometry,
                       into image: UnsafeMutablePointer<Float>) {
        let h = g.height, w = g.width, oh = g.outHeight, ow = g.outWidth
        let sh = g.strideH, sw = g.strideW, ph = g.padH, pw = g.padW, kh = g.kernelH, kw = g.kernelW
        var row = col
        for c in 0..<channels {
            let plane = image + c * h * w
            for ki in 0..<kh {
                let rows = validRange(kernelOffset: ki, pad: ph, stride: sh, inExtent: h, outExtent: oh)
                for kj in 0..<kw {
                    let cols = validRange(kernelOffset: kj, pad: pw, stride: sw, inExtent: w, outExtent: ow)
                    if !cols.isEmpty {
                        for y in rows {
                            let src = row + y * ow
                            let dst = plane + (y * sh - ph + ki) * w
                            if sw == 1 {
                                for x in cols { dst[x - pw + kj] += src[x] }
                            } else {
                                for x in cols { dst[x * sw - pw + kj] += src[x] }
                            }
                        }
                    }
                    row += ld
                }
            }
        }
    }
}
