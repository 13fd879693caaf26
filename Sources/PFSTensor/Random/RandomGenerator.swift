/// A seeded pseudo-random generator whose streams are bit-identical on every run, compiler and
/// platform.
///
/// The core is xoshiro256** (Blackman & Vigna) seeded through SplitMix64. Everything derived from
/// it is computed with IEEE-754 `+ − × ÷` and `sqrt` only (all correctly rounded), never with the
/// platform's `log`/`cos`, whose last bits differ between libm implementations. Normal variates use
/// Marsaglia's polar method with ``PortableMath/log(_:)``.
public struct RandomGenerator: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64
    private var spareNormal: Double?

    /// Creates the stream for `seed`. Equal seeds give equal streams.
    public init(seed: UInt64) {
        var sm = seed
        func splitMix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(&sm); s1 = splitMix(&sm); s2 = splitMix(&sm); s3 = splitMix(&sm)
    }

    /// Next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform Double in [0, 1) with 53 random bits.
    public mutating func uniformDouble() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform Float in [0, 1) with 24 random bits.
    public mutating func uniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Uniform Float in [low, high).
    public mutating func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * uniform() }

    /// Uniform integer in 0..<bound (Lemire's multiply-shift with rejection; unbiased).
    public mutating func int(below bound: Int) -> Int {
        precondition(bound > 0, "RandomGenerator.int(below:): bound must be positive, got \(bound)")
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// In-place Fisher–Yates shuffle drawing `int(below: i + 1)` for i = n−1 down to 1. Written out
    /// (rather than `Array.shuffle(using:)`) so the permutation for a seed never depends on the
    /// standard library's version.
    public mutating func shuffle<T>(_ a: inout [T]) {
        var i = a.count - 1
        while i > 0 {
            let j = int(below: i + 1)
            if i != j { a.swapAt(i, j) }
            i -= 1
        }
    }

    /// Standard normal variate N(0, 1) in Double (polar method; pairs are cached).
    public mutating func normalDouble() -> Double {
        if let z = spareNormal { spareNormal = nil; return z }
        var u = 0.0, v = 0.0, s = 0.0
        repeat {
            u = 2 * uniformDouble() - 1
            v = 2 * uniformDouble() - 1
            s = u * u + v * v
        } while s >= 1 || s == 0
        let f = (-2 * PortableMath.log(s) / s).squareRoot()
        spareNormal = v * f
        return u * f
    }

    /// Normal variate with the given mean and standard deviation, rounded to Float.
    public mutating func normal(mean: Float = 0, std: Float = 1) -> Float {
        Float(Double(mean) + Double(std) * normalDouble())
    }
}

/// Elementary functions computed with basic IEEE arithmetic only, so their results are the same
/// on every platform (unlike libm's, whose last bits vary).
public enum PortableMath {
    /// Natural logarithm of a positive, finite `x`, accurate to about 1 ulp.
    public static func log(_ x: Double) -> Double {
        precondition(x > 0 && x.isFinite, "PortableMath.log: argument must be positive and finite, got \(x)")
        // x = m · 2^e with m in [1, 2), then fold m into [√½, √2).
        var e = Int(x.exponent)
        var m = x.significand
        if m > 1.4142135623730951 { m *= 0.5; e += 1 }
        // ln m = 2·atanh(s) = 2(s + s³/3 + s⁵/5 + …), s = (m − 1)/(m + 1), |s| < 0.172.
        let s = (m - 1) / (m + 1)
        let s2 = s * s
        var term = s
        var sum = 0.0
        var k = 1.0
        for _ in 0..<12 {
            sum += term / k
            term *= s2
            k += 2
        }
        return Double(e) * 0.6931471805599453 + 2 * sum
    }
}

extension Tensor {
    /// Elements drawn i.i.d. from N(mean, std²).
    public static func randomNormal(_ shape: [Int], mean: Float = 0, std: Float = 1,
                                    using rng: inout RandomGenerator) -> Tensor {
        Tensor(shape: shape) { _ in rng.normal(mean: mean, std: std) }
    }

    /// Elements drawn i.i.d. from U[low, high).
    public static func randomUniform(_ shape: [Int], low: Float = 0, high: Float = 1,
                                     using rng: inout RandomGenerator) -> Tensor {
        Tensor(shape: shape) { _ in rng.uniform(low, high) }
    }
}
