import PFSTestSupport
import Testing
@testable import PFSTensor

/// The SIMD loops of ``VectorKernels`` against scalar references, at lengths around the 16- and
/// 64-lane boundaries (every remainder path is taken).
@Suite struct VectorKernelTests {
    static let lengths = [0, 1, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1023, 1024, 1025]

    static func values(_ count: Int, seed: UInt64, offset: Float = 0) -> [Float] {
        var rng = RandomGenerator(seed: seed)
        return (0..<count).map { _ in rng.normal() * 3 + offset }
    }

    @Test(arguments: lengths, paths)
    func reductionsMatchTheReference(_ n: Int, isa: InstructionSet) { do {
        let x = Self.values(n, seed: 1, offset: 2), y = Self.values(n, seed: 2)
        x.withUnsafeBufferPointer { xb in
            y.withUnsafeBufferPointer { yb in
                let xp = xb.baseAddress ?? UnsafePointer(bitPattern: 64)!, yp = yb.baseAddress ?? UnsafePointer(bitPattern: 64)!
                let scale = 1e-5 * Double(max(n, 1))
                #expect(abs(Double(VectorKernels.sum(xp, count: n)) - VectorKernels.Reference.sum(xp, count: n))
                        <= scale * 4, "sum, n = \(n)")
                #expect(abs(Double(VectorKernels.dot(xp, yp, count: n)) - VectorKernels.Reference.dot(xp, yp, count: n))
                        <= scale * 20, "dot, n = \(n)")
                let (s, d) = VectorKernels.sumAndCenteredDot(yp, xp, count: n, mean: 1.5, isa: isa)
                let (sWant, dWant) = VectorKernels.Reference.sumAndCenteredDot(yp, xp, count: n, mean: 1.5)
                #expect(abs(Double(s) - sWant) <= scale * 4, "sumAndCenteredDot sum, n = \(n)")
                #expect(abs(Double(d) - dWant) <= scale * 20, "sumAndCenteredDot dot, n = \(n)")
                let ssd = VectorKernels.sumOfSquaredDeviations(xp, count: n, mean: 1.5)
                let want = VectorKernels.Reference.sumOfSquaredDeviations(xp, count: n, mean: 1.5)
                #expect(abs(Double(ssd) - want) <= 1e-5 * max(want, 1), "ssd, n = \(n)")
                // Both statistics of a plane in one call, about the plane's own mean.
                let both = VectorKernels.sumAndDeviations(xp, count: n, isa: isa)
                let total = VectorKernels.Reference.sum(xp, count: n)
                let ownWant = VectorKernels.Reference.sumOfSquaredDeviations(xp, count: n, mean: n > 0 ? Float(total / Double(n)) : 0)
                #expect(abs(Double(both.sum) - total) <= scale * 4, "sumAndDeviations sum, n = \(n)")
                #expect(abs(Double(both.deviations) - ownWant) <= 1e-5 * max(ownWant, 1), "sumAndDeviations ssd, n = \(n)")
            }
        }
    }}

    /// Each check runs on the portable SIMD loops and on every vector version this CPU can run
    /// (AVX2, AVX-512).
    static let paths = InstructionSet.supported

    @Test(arguments: lengths, paths)
    func elementwiseKernelsMatchScalarLoops(_ n: Int, isa: InstructionSet) { do {
        var x = Self.values(n, seed: 3), y = Self.values(n, seed: 4)
        if n > 3 { x[1] = 0; x[2] = 6; x[3] = -0.0 }   // the clamp's boundaries
        var out = [Float](repeating: .nan, count: n)
        x.withUnsafeBufferPointer { xb in
            y.withUnsafeBufferPointer { yb in
                out.withUnsafeMutableBufferPointer { ob in
                    guard let xp = xb.baseAddress, let yp = yb.baseAddress, let op = ob.baseAddress else { return }
                    func check(_ name: String, _ want: (Int) -> Float) {
                        for i in 0..<n where op[i] != want(i) {
                            Issue.record("\(name), n = \(n), i = \(i): got \(op[i]), want \(want(i))")
                            return
                        }
                    }
                    VectorKernels.clamp(xp, into: op, count: n, ceiling: 6)
                    check("clamp") { min(max(x[$0], 0), 6) }
                    VectorKernels.clamp(xp, into: op, count: n, ceiling: .infinity)
                    check("relu") { max(x[$0], 0) }
                    VectorKernels.clampBackward(output: xp, gradient: yp, into: op, count: n, ceiling: 6)
                    check("clampBackward") { (x[$0] > 0 && x[$0] < 6) ? y[$0] : 0 }
                    VectorKernels.affine(xp, into: op, count: n, scale: 0.5, shift: -2, isa: isa)
                    check("affine") { 0.5 * x[$0] + -2 }
                    VectorKernels.add(xp, yp, into: op, count: n)
                    check("add") { x[$0] + y[$0] }
                    VectorKernels.copy(xp, into: op, count: n)
                    check("copy") { x[$0] }
                }
            }
        }
        // combine: a·x + b·y + c, compared with a tolerance (the SIMD path may fuse the multiply-add).
        x.withUnsafeBufferPointer { xb in
            y.withUnsafeBufferPointer { yb in
                out.withUnsafeMutableBufferPointer { ob in
                    guard let xp = xb.baseAddress, let yp = yb.baseAddress, let op = ob.baseAddress else { return }
                    VectorKernels.combine(xp, yp, into: op, count: n, a: 1.5, b: -0.25, c: 0.125, isa: isa)
                }
            }
        }
        for i in 0..<n {
            let want = 1.5 * Double(x[i]) - 0.25 * Double(y[i]) + 0.125
            #expect(abs(Double(out[i]) - want) <= 1e-5 * max(abs(want), 1), "combine, n = \(n), i = \(i)")
        }
    }}

    /// The kernels of the fused BatchNorm + clamp (and residual add) against scalar loops, with the
    /// clamp's mask taken from an output that sits on both kinks (0 and 6) and between them.
    @Test(arguments: lengths, paths)
    func fusedKernelsMatchScalarLoops(_ n: Int, isa: InstructionSet) { do {
        let x = Self.values(n, seed: 5), a = Self.values(n, seed: 6), dy = Self.values(n, seed: 7)
        let y: [Float] = (0..<n).map { i in [0, 6, 3, -1, 7, 0.5][i % 6] }   // a clamp output, kinks included
        var out = [Float](repeating: .nan, count: n)
        func close(_ got: Double, _ want: Double) -> Bool { abs(got - want) <= 1e-5 * max(abs(want), 1) }
        x.withUnsafeBufferPointer { xb in
        a.withUnsafeBufferPointer { ab in
        dy.withUnsafeBufferPointer { db in
        y.withUnsafeBufferPointer { yb in
        out.withUnsafeMutableBufferPointer { ob in
            guard let xp = xb.baseAddress, let ap = ab.baseAddress, let dp = db.baseAddress, let yp = yb.baseAddress,
                  let op = ob.baseAddress else { return }
            let pass = { (i: Int) in y[i] > 0 && y[i] < 6 }
            VectorKernels.affineClamp(xp, into: op, count: n, scale: 0.75, shift: 0.5, ceiling: 6, isa: isa)
            for i in 0..<n {
                #expect(close(Double(op[i]), min(max(0.75 * Double(x[i]) + 0.5, 0), 6)), "affineClamp, n = \(n), i = \(i)")
            }
            VectorKernels.affineClamp(xp, adding: ap, into: op, count: n, scale: 0.75, shift: 0.5, ceiling: .infinity, isa: isa)
            for i in 0..<n {
                let want = max(0.75 * Double(x[i]) + 0.5 + Double(a[i]), 0)
                #expect(close(Double(op[i]), want), "affineAddClamp, n = \(n), i = \(i)")
            }
            VectorKernels.maskedCombine(dp, output: yp, ceiling: 6, xp, into: op, count: n, a: 1.5, b: -0.25, c: 0.125, isa: isa)
            for i in 0..<n {
                let want = 1.5 * (pass(i) ? Double(dy[i]) : 0) - 0.25 * Double(x[i]) + 0.125
                #expect(close(Double(op[i]), want), "maskedCombine, n = \(n), i = \(i)")
            }
            let (s, d) = VectorKernels.sumAndCenteredDot(dp, xp, count: n, mean: 0.3, clampOutput: yp, ceiling: 6, isa: isa)
            var sWant = 0.0, dWant = 0.0
            for i in 0..<n where pass(i) { sWant += Double(dy[i]); dWant += Double(dy[i]) * (Double(x[i]) - 0.3) }
            let scale = 1e-5 * Double(max(n, 1))
            #expect(abs(Double(s) - sWant) <= scale * 4, "maskedSumAndCenteredDot sum, n = \(n)")
            #expect(abs(Double(d) - dWant) <= scale * 20, "maskedSumAndCenteredDot dot, n = \(n)")
        }}}}}
    }}
}
