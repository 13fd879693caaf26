/// Bilinear resampling of one 8-bit plane with half-pixel centres (the convention of PIL's
/// bilinear filter without antialiasing and of `align_corners=False`): output pixel `(y, x)` samples
/// the input at `((y + ½)·H_in/H_out − ½, (x + ½)·W_in/W_out − ½)`, clamped to the image; results
/// are rounded to the nearest byte. Weights are computed once per size pair.
struct BilinearResizer {
    let inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int
    private let y0: [Int], y1: [Int], wy: [Float]
    private let x0: [Int], x1: [Int], wx: [Float]

    init(inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int) {
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.outHeight = outHeight
        self.outWidth = outWidth
        (y0, y1, wy) = Self.taps(input: inHeight, output: outHeight)
        (x0, x1, wx) = Self.taps(input: inWidth, output: outWidth)
    }

    /// For each output coordinate: the two input coordinates and the weight of the second.
    private static func taps(input: Int, output: Int) -> ([Int], [Int], [Float]) {
        var a = [Int](), b = [Int](), w = [Float]()
        let scale = Double(input) / Double(output)
        for o in 0..<output {
            var s = (Double(o) + 0.5) * scale - 0.5
            s = min(max(s, 0), Double(input - 1))
            let i0 = Int(s)
            let i1 = min(i0 + 1, input - 1)
            a.append(i0)
            b.append(i1)
            w.append(Float(s - Double(i0)))
        }
        return (a, b, w)
    }

    /// Resizes the plane at `src` (inHeight × inWidth) into `dst` (outHeight × outWidth).
    func resize(_ src: UnsafePointer<UInt8>, into dst: UnsafeMutablePointer<UInt8>) {
        let w = inWidth, ow = outWidth
        y0.withUnsafeBufferPointer { y0 in y1.withUnsafeBufferPointer { y1 in wy.withUnsafeBufferPointer { wy in
        x0.withUnsafeBufferPointer { x0 in x1.withUnsafeBufferPointer { x1 in wx.withUnsafeBufferPointer { wx in
            for oy in 0..<outHeight {
                let r0 = src + y0[oy] * w, r1 = src + y1[oy] * w
                let fy = wy[oy]
                let out = dst + oy * ow
                for ox in 0..<ow {
                    let a = x0[ox], b = x1[ox], fx = wx[ox]
                    let top = Float(r0[a]) + (Float(r0[b]) - Float(r0[a])) * fx
                    let bottom = Float(r1[a]) + (Float(r1[b]) - Float(r1[a])) * fx
                    let v = top + (bottom - top) * fy
                    out[ox] = UInt8(min(max(v.rounded(), 0), 255))
                }
            }
        }}}}}}
    }
}
