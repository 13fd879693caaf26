import PFSTensor

/// The windows of a k×k pooling with stride and padding over (N·C) planes of H × W.
struct PoolingWindows {
    var planes, h, w, oh, ow, kernel, stride, padding: Int

    var outputCount: Int { planes * oh * ow }

    /// Validates the hyper-parameters and the input; `layer` names the caller in errors.
    init(_ x: Tensor, layer: String, kernel: Int, stride: Int, padding: Int) throws(EngineError) {
        if kernel < 1 { throw .configuration(layer: layer, field: "kernel size", expected: "≥ 1", got: String(kernel)) }
        if stride < 1 { throw .configuration(layer: layer, field: "stride", expected: "≥ 1", got: String(stride)) }
        if padding < 0 || 2 * padding > kernel {
            throw .configuration(layer: layer, field: "padding", expected: "in 0...kernel/2", got: String(padding))
        }
        try requireNCHW(x, layer: layer)
        let h = x.shape[2], w = x.shape[3]
        guard h + 2 * padding >= kernel, w + 2 * padding >= kernel else {
            throw .shape(layer: layer, expected: "H and W (with padding) at least the window \(kernel)×\(kernel)", got: x.shape)
        }
        self.init(planes: x.shape[0] * x.shape[1], h: h, w: w, oh: (h + 2 * padding - kernel) / stride + 1,
                  ow: (w + 2 * padding - kernel) / stride + 1, kernel: kernel, stride: stride, padding: padding)
    }

    init(planes: Int, h: Int, w: Int, oh: Int, ow: Int, kernel: Int, stride: Int, padding: Int) {
        self.planes = planes; self.h = h; self.w = w; self.oh = oh; self.ow = ow
        self.kernel = kernel; self.stride = stride; self.padding = padding
    }

    /// Whether the windows tile the planes exactly in 2×2 blocks (the VGG pooling), which has a
    /// dedicated loop.
    var isTwoByTwo: Bool { kernel == 2 && stride == 2 && padding == 0 && h == 2 * oh && w == 2 * ow }

    /// Visits every (output index, input index) pair of the planes in `range` (all by default),
    /// window by window in output order; taps in the padding are skipped.
    @inline(__always)
    func forEachTap(planes range: Range<Int>? = nil, _ body: (_ output: Int, _ input: Int) -> Void) {
        let range = range ?? 0..<planes
        var o = range.lowerBound * oh * ow
        for plane in range {
            let base = plane * h * w
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for ky in 0..<kernel {
                        let y = oy * stride - padding + ky
                        guard y >= 0 && y < h else { continue }
                        for kx in 0..<kernel {
                            let x = ox * stride - padding + kx
                            if x >= 0 && x < w { body(o, base + y * w + x) }
                        }
                    }
                    o += 1
                }
            }
        }
    }
}

/// Max pooling over k×k windows (padding counts as −∞). Input (N, C, H, W) → (N, C, H_out, W_out).
/// Caches the arg-max index of every output; the gradient goes to that input element only.
public final class MaxPool2d: Layer {
    public let name: String
    public let kernelSize: Int, stride: Int, padding: Int
    public var computesInputGradient = true
    private var cachedArgmax: [Int32] = []
    private var cachedShapes: (input: [Int], output: [Int])?

    public init(name: String = "maxpool", kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        self.name = name
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
    }

    public func forward(_ input: Tensor, mode: Mode) throws(EngineError) -> Tensor {
        let windows = try PoolingWindows(input, layer: name, kernel: kernelSize, stride: stride, padding: padding)
        let outShape = [input.shape[0], input.shape[1], windows.oh, windows.ow]
        // The 2×2 tiling writes every output and arg-max itself; the generic windows start from
        // −∞ and "no tap yet".
        let tiled = windows.isTwoByTwo, count = windows.outputCount
        var out = tiled ? Tensor(unsafeUninitializedShape: outShape) : Tensor(shape: outShape, repeating: -.infinity)
        var argmax = tiled ? [Int32](unsafeUninitializedCapacity: count) { _, n in n = count }
                           : [Int32](repeating: -1, count: count)
        input.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { yb in
                argmax.withUnsafeMutableBufferPointer { ab in
                    let x = xb.baseAddress!, y = yb.baseAddress!, a = ab.baseAddress!
                    Parallel.forChunks(windows.planes) { _, planes in
                        if windows.isTwoByTwo {
                            Self.twoByTwo(x, y, a, windows, planes: planes)
                        } else {
                            windows.forEachTap(planes: planes) { o, i in Self.take(x, i, into: y, a, o) }
                        }
                    }
                }
            }
        }
        cachedArgmax = mode.keepsBackwardCaches ? argmax : []
        cachedShapes = mode.keepsBackwardCaches ? (input.shape, outShape) : nil
        return out
    }

    /// One tap of a window: the first tap always wins, and a NaN always wins, so bad values surface.
    @inline(__always)
    static func take(_ x: UnsafePointer<Float>, _ i: Int, into y: UnsafeMutablePointer<Float>,
                     _ argmax: UnsafeMutablePointer<Int32>, _ o: Int) {
        if x[i] > y[o] || argmax[o] < 0 || x[i].isNaN { y[o] = x[i]; argmax[o] = Int32(i) }
    }

    /// 2×2 windows with stride 2 tiling the planes: the same taps in the same order as
    /// ``PoolingWindows/forEachTap(planes:_:)``, without its bounds checks. Writes every output and
    /// arg-max (no initial values needed).
    static func twoByTwo(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ argmax: UnsafeMutablePointer<Int32>,
                         _ windows: PoolingWindows, planes: Range<Int>) {
        let w = windows.w, oh = windows.oh, ow = windows.ow, plane = windows.h * w
        let lanes = SIMD8<Int32>(0, 2, 4, 6, 8, 10, 12, 14)
        for p in planes {
            for oy in 0..<oh {
                let o0 = (p * oh + oy) * ow, row = p * plane + 2 * oy * w
                // Eight windows at a time: the four taps as even/odd lanes of two 16-float rows,
                // taken in the scalar order (a later tap wins if greater or NaN).
                var ox = 0
                while ox + 8 <= ow {
                    let i = row + 2 * ox
                    let top = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
                    let bottom = UnsafeRawPointer(x + i + w).loadUnaligned(as: SIMD16<Float>.self)
                    var best = top.evenHalf, index = lanes &+ Int32(i)
                    for (candidate, shift) in [(top.oddHalf, 1), (bottom.evenHalf, w), (bottom.oddHalf, w + 1)] {
                        let wins = (candidate .> best) .| (candidate .!= candidate)
                        best.replace(with: candidate, where: wins)
                        index.replace(with: lanes &+ Int32(i + shift), where: wins)
                    }
                    UnsafeMutableRawPointer(y + o0 + ox).storeBytes(of: best, as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(argmax + o0 + ox).storeBytes(of: index, as: SIMD8<Int32>.self)
                    ox += 8
                }
                for ox in ox..<ow {
                    let o = o0 + ox, i = row + 2 * ox
                    y[o] = x[i]; argmax[o] = Int32(i)   // the first tap always wins
                    take(x, i + 1, into: y, argmax, o)
                    take(x, i + w, into: y, argmax, o)
                    take(x, i + w + 1, into: y, argmax, o)
                }
            }
        }
    }

    public func backward(_ gradOutput: Tensor) throws(EngineError) -> Tensor? {
        guard let shapes = cachedShapes else { throw .missingForwardCache(layer: name) }
        try checkGradient(gradOutput, against: shapes.output)
        guard computesInputGradient else { return nil }
        var dx = Tensor(unsafeUninitializedShape: shapes.input)   // each worker zeroes its planes below
        let s = shapes.input, outPlane = shapes.output[2] * shapes.output[3], inPlane = s[2] * s[3]
        // Every arg-max lies in its output's plane, so planes split over threads without overlap.
        gradOutput.withUnsafeBufferPointer { dyb in
            dx.withUnsafeMutableBufferPointer { db in
                cachedArgmax.withUnsafeBufferPointer { ab in
                    let dy = dyb.baseAddress!, d = db.baseAddress!, a = ab.baseAddress!
                    Parallel.forChunks(s[0] * s[1]) { _, planes in
                        (d + planes.lowerBound * inPlane).update(repeating: 0, count: planes.count * inPlane)
                        for o in (planes.lowerBound * outPlane)..<(planes.upperBound * outPlane) { d[Int(a[o])] += dy[o] }
                    }
                }
            }
        }
        return dx
    }
}

/// Average pooling over k×k windows. Padding zeros count in the divisor (k², as PyTorch's
/// default `count_include_pad=True`). Input (N, C, H, W) → (N, C, H_out, W_out).
public final class AvgPool2d: Layer {
    public let name: String
    public let kernelSize: Int, stride: Int, padding: Int
    public var computesInputGradient = true
    private var cachedShapes: (input: [Int], output: [Int])?

    public init(name: String = "avgpool", kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        self.name = name
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
    }

    public func forward(_ input: Tensor, mode: Mode) throws(EngineError) -> Tensor {
        let windows = try PoolingWindows(input, layer: name, kernel: kernelSize, stride: stride, padding: padding)
        let outShape = [input.shape[0], input.shape[1], windows.oh, windows.ow]
        var out = Tensor(zeros: outShape)
        let scale = 1 / Float(kernelSize * kernelSize)
        input.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { yb in
                windows.forEachTap { o, i in yb[o] += xb[i] * scale }
            }
        }
        cachedShapes = (input.shape, outShape)
        return out
    }

    public func backward(_ gradOutput: Tensor) throws(EngineError) -> Tensor? {
        guard let shapes = cachedShapes else { throw .missingForwardCache(layer: name) }
        try checkGradient(gradOutput, against: shapes.output)
        guard computesInputGradient else { return nil }
        let s = shapes.input
        let windows = PoolingWindows(planes: s[0] * s[1], h: s[2], w: s[3], oh: shapes.output[2], ow: shapes.output[3],
                                     kernel: kernelSize, stride: stride, padding: padding)
        var dx = Tensor(zeros: s)
        let scale = 1 / Float(kernelSize * kernelSize)
        gradOutput.withUnsafeBufferPointer { dy in
            dx.withUnsafeMutableBufferPointer { d in
                windows.forEachTap { o, i in d[i] += dy[o] * scale }
            }
        }
        return dx
    }
}

/// Global average pooling: (N, C, H, W) → (N, C), the mean of each channel's plane.
public final class GlobalAvgPool: Layer {
    public let name: String
    public var computesInputGradient = true
    private var cachedInputShape: [Int]?

    public init(name: String = "gap") { self.name = name }

    public func forward(_ input: Tensor, mode: Mode) throws(EngineError) -> Tensor {
        try requireNCHW(input, layer: name)
        let nc = input.shape[0] * input.shape[1], plane = input.shape[2] * input.shape[3]
        var out = Tensor(zeros: [input.shape[0], input.shape[1]])
        input.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { yb in
                for i in 0..<nc {
                    let p = xb.baseAddress! + i * plane
                    var s: Float = 0
                    for j in 0..<plane { s += p[j] }
                    yb[i] = s / Float(plane)
                }
            }
        }
        cachedInputShape = input.shape
        return out
    }

    public func backward(_ gradOutput: Tensor) throws(EngineError) -> Tensor? {
        guard let shape = cachedInputShape else { throw .missingForwardCache(layer: name) }
        try checkGradient(gradOutput, against: [shape[0], shape[1]])
        guard computesInputGradient else { return nil }
        let plane = shape[2] * shape[3]
        var dx = Tensor(unsafeUninitializedShape: shape)   // every element written below
        gradOutput.withUnsafeBufferPointer { dy in
            dx.withUnsafeMutableBufferPointer { d in
                for i in 0..<dy.count {
                    let v = dy[i] / Float(plane)
                    let p = d.baseAddress! + i * plane
                    for j in 0..<plane { p[j] = v }
                }
            }
        }
        return dx
    }
}
