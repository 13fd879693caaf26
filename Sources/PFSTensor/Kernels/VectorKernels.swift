import PFSKernelsC

/// Elementwise loops and reductions written with 16-lane SIMD so that they compile to AVX-512
/// (or two AVX2 / four NEON registers) regardless of the compiler's reassociation rules: a plain
/// `for` loop that sums Floats is never vectorised, because that would change the rounding.
///
/// The reductions accumulate in four independent 16-lane Float accumulators (64 partial sums),
/// then add the lanes in a fixed order, so results are deterministic for a given `count`. Callers
/// that need more headroom (BatchNorm over N·H·W values) call them per plane and add the planes in
/// Double. Each kernel has a naive reference beside it in ``VectorKernels/Reference``.
public enum VectorKernels {
    public typealias Vector = SIMD16<Float>
    @usableFromInline static let width = 16

    // The BatchNorm/clamp loops below take an `isa` (default: ``Engine/kernels``): with AVX-512 or
    // AVX2 they run on their versions in `PFSKernelsC` (Swift compiles `SIMD16<Float>` to 128-bit
    // SSE without a target-CPU flag), with `.portable` on the Swift loops. Tests pass each one.

    @inline(__always) @usableFromInline
    static func load(_ p: UnsafePointer<Float>) -> Vector {
        UnsafeRawPointer(p).loadUnaligned(as: Vector.self)
    }

    @inline(__always) @usableFromInline
    static func store(_ v: Vector, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector.self)
    }

    /// Σ x[i] for i < count.
    @inlinable
    public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var a0 = Vector(), a1 = Vector(), a2 = Vector(), a3 = Vector()
        var i = 0
        while i + 64 <= count {
            a0 += load(x + i); a1 += load(x + i + 16); a2 += load(x + i + 32); a3 += load(x + i + 48)
            i += 64
        }
        while i + 16 <= count { a0 += load(x + i); i += 16 }
        var s = ((a0 + a1) + (a2 + a3)).sum()
        while i < count { s += x[i]; i += 1 }
        return s
    }

    /// Σ (x[i] − mean)² for i < count.
    @inlinable
    public static func sumOfSquaredDeviations(_ x: UnsafePointer<Float>, count: Int, mean: Float) -> Float {
        var a0 = Vector(), a1 = Vector()
        let m = Vector(repeating: mean)
        var i = 0
        while i + 32 <= count {
            let d0 = load(x + i) - m, d1 = load(x + i + 16) - m
            a0 += d0 * d0; a1 += d1 * d1
            i += 32
        }
        while i + 16 <= count { let d = load(x + i) - m; a0 += d * d; i += 16 }
        var s = (a0 + a1).sum()
        while i < count { let d = x[i] - mean; s += d * d; i += 1 }
        return s
    }

    /// (Σ x[i], Σ (x[i] − m)²) for i < count with m = Σ x[i] / count: one plane's BatchNorm
    /// statistics, the second loop over data the first left in L1.
    public static func sumAndDeviations(_ x: UnsafePointer<Float>, count: Int,
                                        isa: InstructionSet = Engine.kernels.isa) -> (sum: Float, deviations: Float) {
        if isa != .portable {
            var s: Float = 0, d: Float = 0
            _ = isa == .avx512 ? pfs_vk_sum_deviations(x, count, &s, &d) : pfs_vk_sum_deviations_avx2(x, count, &s, &d)
            return (s, d)
        }
        let s = sum(x, count: count)
        return (s, sumOfSquaredDeviations(x, count: count, mean: count > 0 ? s / Float(count) : 0))
    }

    /// Σ a[i]·b[i] for i < count.
    @inlinable
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var a0 = Vector(), a1 = Vector()
        var i = 0
        while i + 32 <= count {
            a0 += load(a + i) * load(b + i); a1 += load(a + i + 16) * load(b + i + 16)
            i += 32
        }
        while i + 16 <= count { a0 += load(a + i) * load(b + i); i += 16 }
        var s = (a0 + a1).sum()
        while i < count { s += a[i] * b[i]; i += 1 }
        return s
    }

    /// (Σ g[i], Σ g[i]·(x[i] − mean)) for i < count, in one pass: the two sums of a BatchNorm
    /// backward, with x̂ ∝ x − mean computed on the fly. g = dy, or with `clampOutput` y the gradient
    /// of a clamp from its output: g[i] = dy[i] where 0 < y[i] < ceiling, else 0.
    public static func sumAndCenteredDot(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, count: Int,
                                         mean: Float, clampOutput y: UnsafePointer<Float>? = nil,
                                         ceiling: Float = .infinity,
                                         isa: InstructionSet = Engine.kernels.isa) -> (sum: Float, dot: Float) {
        if isa != .portable {
            var s: Float = 0, d: Float = 0
            _ = isa == .avx512 ? pfs_vk_sum_centered_dot(dy, y, ceiling, x, count, mean, &s, &d)
                               : pfs_vk_sum_centered_dot_avx2(dy, y, ceiling, x, count, mean, &s, &d)
            return (s, d)
        }
        let m = Vector(repeating: mean), zero = Vector(), top = Vector(repeating: ceiling)
        @inline(__always) func g(_ i: Int) -> Vector {
            guard let y else { return load(dy + i) }
            let v = load(y + i)
            return zero.replacing(with: load(dy + i), where: (v .> zero) .& (v .< top))
        }
        var s0 = Vector(), s1 = Vector(), d0 = Vector(), d1 = Vector()
        var i = 0
        while i + 32 <= count {
            let g0 = g(i), g1 = g(i + 16)
            s0 += g0; s1 += g1
            d0 += g0 * (load(x + i) - m); d1 += g1 * (load(x + i + 16) - m)
            i += 32
        }
        while i + 16 <= count { let g0 = g(i); s0 += g0; d0 += g0 * (load(x + i) - m); i += 16 }
        var s = (s0 + s1).sum(), d = (d0 + d1).sum()
        while i < count {
            if y.map({ $0[i] > 0 && $0[i] < ceiling }) ?? true { s += dy[i]; d += dy[i] * (x[i] - mean) }
            i += 1
        }
        return (s, d)
    }

    /// y[i] = min(max(x[i], 0), ceiling). `x` and `y` may be the same buffer.
    @inlinable
    public static func clamp(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int, ceiling: Float) {
        let zero = Vector(), top = Vector(repeating: ceiling)
        var i = 0
        while i + 16 <= count {
            let v = load(x + i)
            let low = v.replacing(with: zero, where: v .< zero)   // NaN passes through, as in the scalar tail
            store(low.replacing(with: top, where: low .> top), y + i)
            i += 16
        }
        while i < count { y[i] = min(max(x[i], 0), ceiling); i += 1 }
    }

    /// dx[i] = dy[i] where 0 < y[i] < ceiling, else 0 (the gradient of ``clamp``, from its output).
    /// `dy` and `dx` may be the same buffer.
    @inlinable
    public static func clampBackward(output y: UnsafePointer<Float>, gradient dy: UnsafePointer<Float>,
                                     into dx: UnsafeMutablePointer<Float>, count: Int, ceiling: Float) {
        let zero = Vector(), top = Vector(repeating: ceiling)
        var i = 0
        while i + 16 <= count {
            let v = load(y + i)
            let pass = (v .> zero) .& (v .< top)
            store(Vector().replacing(with: load(dy + i), where: pass), dx + i)
            i += 16
        }
        while i < count { dx[i] = (y[i] > 0 && y[i] < ceiling) ? dy[i] : 0; i += 1 }
    }

    // The fused BatchNorm (+ gate) + clamp of `PFSNN` runs on the two kernels below and on
    // `sumAndCenteredDot(_:_:count:mean:clampOutput:ceiling:)`: the clamp's mask is taken from its
    // output y, so the clamp's own gradient is never written out.

    /// y[i] = min(max(scale·x[i] + shift (+ a[i]), 0), ceiling): BatchNorm, with `adding` a
    /// residual's shortcut, and the clamp after it in one pass. `y` may coincide with `x` or `a`.
    public static func affineClamp(_ x: UnsafePointer<Float>, adding a: UnsafePointer<Float>? = nil,
                                   into y: UnsafeMutablePointer<Float>, count: Int, scale: Float, shift: Float,
                                   ceiling: Float, isa: InstructionSet = Engine.kernels.isa) {
        if isa != .portable {
            _ = isa == .avx512 ? pfs_vk_affine(x, a, y, count, scale, shift, 1, ceiling)
                               : pfs_vk_affine_avx2(x, a, y, count, scale, shift, 1, ceiling)
            return
        }
        let s = Vector(repeating: scale), t = Vector(repeating: shift), zero = Vector(), top = Vector(repeating: ceiling)
        var i = 0
        while i + 16 <= count {
            var v = load(x + i) * s + t
            if let a { v += load(a + i) }
            let low = v.replacing(with: zero, where: v .< zero)   // NaN passes through, as in `clamp`
            store(low.replacing(with: top, where: low .> top), y + i)
            i += 16
        }
        while i < count { y[i] = min(max(scale * x[i] + shift + (a?[i] ?? 0), 0), ceiling); i += 1 }
    }

    /// out[i] = a·g[i] + b·x[i] + c with g[i] = dy[i] where 0 < y[i] < ceiling (else 0).
    /// `out` may coincide with `dy` or `x`.
    public static func maskedCombine(_ dy: UnsafePointer<Float>, output y: UnsafePointer<Float>, ceiling: Float,
                                     _ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int,
                                     a: Float, b: Float, c: Float, isa: InstructionSet = Engine.kernels.isa) {
        if isa != .portable {
            _ = isa == .avx512 ? pfs_vk_combine(dy, y, ceiling, x, out, count, a, b, c)
                               : pfs_vk_combine_avx2(dy, y, ceiling, x, out, count, a, b, c)
            return
        }
        let va = Vector(repeating: a), vb = Vector(repeating: b), vc = Vector(repeating: c)
        let zero = Vector(), top = Vector(repeating: ceiling)
        var i = 0
        while i + 16 <= count {
            let v = load(y + i)
            let g = zero.replacing(with: load(dy + i), where: (v .> zero) .& (v .< top))
            store(g * va + load(x + i) * vb + vc, out + i)
            i += 16
        }
        while i < count {
            let g: Float = y[i] > 0 && y[i] < ceiling ? dy[i] : 0
            out[i] = a * g + b * x[i] + c
            i += 1
        }
    }

    /// y[i] = scale·x[i] + shift. `x` and `y` may be the same buffer.
    public static func affine(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int,
                              scale: Float, shift: Float, isa: InstructionSet = Engine.kernels.isa) {
        if isa != .portable {
            _ = isa == .avx512 ? pfs_vk_affine(x, nil, y, count, scale, shift, 0, 0)
                               : pfs_vk_affine_avx2(x, nil, y, count, scale, shift, 0, 0)
            return
        }
        let s = Vector(repeating: scale), t = Vector(repeating: shift)
        var i = 0
        while i + 16 <= count { store(load(x + i) * s + t, y + i); i += 16 }
        while i < count { y[i] = scale * x[i] + shift; i += 1 }
    }

    /// out[i] = a·x[i] + b·y[i] + c. `out` may coincide with `x` or `y`.
    public static func combine(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                               count: Int, a: Float, b: Float, c: Float, isa: InstructionSet = Engine.kernels.isa) {
        if isa != .portable {
            _ = isa == .avx512 ? pfs_vk_combine(x, nil, .infinity, y, out, count, a, b, c)
                               : pfs_vk_combine_avx2(x, nil, .infinity, y, out, count, a, b, c)
            return
        }
        let va = Vector(repeating: a), vb = Vector(repeating: b), vc = Vector(repeating: c)
        var i = 0
        while i + 16 <= count { store(load(x + i) * va + load(y + i) * vb + vc, out + i); i += 16 }
        while i < count { out[i] = a * x[i] + b * y[i] + c; i += 1 }
    }

    // `add` and `copy` also serve im2col/col2im, whose rows are short (8–32 floats at CIFAR
    // sizes): an 8-lane step after the 16-lane loop keeps 8- and 24-float rows vectorised.

    /// y[i] = a[i] + b[i]. Any of the buffers may coincide.
    @inlinable
    public static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                           count: Int) {
        var i = 0
        while i + 16 <= count { store(load(a + i) + load(b + i), y + i); i += 16 }
        if i + 8 <= count {
            let s = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
                + UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: s, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { y[i] = a[i] + b[i]; i += 1 }
    }

    /// y[0..<count] = x[0..<count] (buffers must not overlap).
    @inlinable
    public static func copy(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count { store(load(x + i), y + i); i += 16 }
        if i + 8 <= count {
            UnsafeMutableRawPointer(y + i).storeBytes(
                of: UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { y[i] = x[i]; i += 1 }
    }

    /// Naive scalar versions of the kernels above (Double accumulation), kept to check them.
    public enum Reference {
        public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Double {
            var s = 0.0
            for i in 0..<count { s += Double(x[i]) }
            return s
        }

        public static func sumOfSquaredDeviations(_ x: UnsafePointer<Float>, count: Int, mean: Float) -> Double {
            var s = 0.0
            for i in 0..<count { let d = Double(x[i]) - Double(mean); s += d * d }
            return s
        }

        public static func sumAndCenteredDot(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, count: Int,
                                             mean: Float) -> (sum: Double, dot: Double) {
            var s = 0.0, d = 0.0
            for i in 0..<count { s += Double(dy[i]); d += Double(dy[i]) * (Double(x[i]) - Double(mean)) }
            return (s, d)
        }

        public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Double {
            var s = 0.0
            for i in 0..<count { s += Double(a[i]) * Double(b[i]) }
            return s
        }
    }
}
