import PFSNN
import PFSTensor
import PFSTestSupport
import Testing

@Suite struct BatchNormTests {
    /// Per-channel mean and biased variance of an NCHW tensor, in Double.
    static func channelStatistics(_ t: Tensor) -> [(mean: Double, variance: Double)] {
        let n = t.shape[0], c = t.shape[1], plane = t.shape[2] * t.shape[3]
        return (0..<c).map { ch in
            var values: [Double] = []
            for i in 0..<n { for j in 0..<plane { values.append(Double(t[flat: (i * c + ch) * plane + j])) } }
            let mean = values.reduce(0, +) / Double(values.count)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
            return (mean, variance)
        }
    }

    @Test func trainingNormalisesWithBatchStatisticsAndUpdatesRunningAverages() throws {
        var rng = RandomGenerator(seed: 1)
        let bn = try BatchNorm2d(channels: 3, momentum: 0.1)
        let x = Tensor.randomNormal([4, 3, 5, 5], mean: 2, std: 3, using: &rng)
        let y = try bn.forward(x, mode: .training)
        for s in Self.channelStatistics(y) {
            #expect(abs(s.mean) < 1e-5)
            #expect(abs(s.variance - 1) < 1e-3)   // ε = 1e-5 relative to a variance near 9
        }
        let m = Double(4 * 5 * 5)
        for (ch, s) in Self.channelStatistics(x).enumerated() {
            // running = 0.9·initial + 0.1·batch, with the unbiased variance for the running estimate.
            #expect(abs(Double(bn.runningMean[flat: ch]) - 0.1 * s.mean) < 1e-5)
            #expect(abs(Double(bn.runningVariance[flat: ch]) - (0.9 + 0.1 * s.variance * m / (m - 1))) < 1e-4)
        }
    }

    /// The statistics merge per-plane sums and deviations; far from zero (mean 500, std 0.5, planes
    /// with different means) the variance must still come out right, and the backward pass, which
    /// recomputes x̂ from the input, must still match the analytic x̂ with dy = x̂ (dβ = Σ x̂ = 0,
    /// dγ = Σ x̂² = m).
    @Test func statisticsStayAccurateFarFromZero() throws {
        var rng = RandomGenerator(seed: 5)
        let bn = try BatchNorm2d(channels: 2, momentum: 1)
        var x = Tensor.randomNormal([6, 2, 4, 4], mean: 500, std: 0.5, using: &rng)
        for i in 0..<6 { for j in 0..<16 { x[flat: (i * 2) * 16 + j] += Float(i) * 0.25 } }   // plane means differ
        let y = try bn.forward(x, mode: .training)
        let m = Double(6 * 16)
        for (ch, s) in Self.channelStatistics(x).enumerated() {
            #expect(abs(Double(bn.runningVariance[flat: ch]) - s.variance * m / (m - 1)) <= 1e-3 * s.variance)
        }
        for s in Self.channelStatistics(y) { #expect(abs(s.variance - 1) < 2e-3) }
        _ = try bn.backward(y)
        for ch in 0..<2 {
            #expect(abs(Double(bn.beta.grad![flat: ch])) < 1e-2)
            #expect(abs(Double(bn.gamma.grad![flat: ch]) - m) < 1e-2 * m)
        }
    }

    @Test func evaluationUsesRunningStatisticsAndLeavesThemAlone() throws {
        let bn = try BatchNorm2d(channels: 2)
        bn.runningMean = try Tensor(shape: [2], values: [1, -2])
        bn.runningVariance = try Tensor(shape: [2], values: [4, 0.25])
        bn.gamma.value = try Tensor(shape: [2], values: [2, 1])
        bn.beta.value = try Tensor(shape: [2], values: [0.5, 0])
        let x = try Tensor(shape: [1, 2, 1, 2], values: [3, 5, -2, -1])
        let y = try bn.forward(x, mode: .evaluation)
        let s0 = 1 / (4 + 1e-5).squareRoot(), s1 = 1 / (0.25 + 1e-5).squareRoot()
        let want = [2 * (3 - 1) * s0 + 0.5, 2 * (5 - 1) * s0 + 0.5, (-2 + 2) * s1, (-1 + 2) * s1]
        for (a, b) in zip(y.scalars, want) { #expect(abs(Double(a) - b) < 1e-5) }
        #expect(bn.runningMean.scalars == [1, -2])
        #expect(bn.runningVariance.scalars == [4, 0.25])
    }

    @Test func frozenAffineStillPassesInputGradient() throws {
        var rng = RandomGenerator(seed: 2)
        let bn = try BatchNorm2d(channels: 3)
        bn.freeze()
        _ = try bn.forward(.randomNormal([2, 3, 3, 3], using: &rng), mode: .training)
        let dx = try bn.backward(.randomNormal([2, 3, 3, 3], using: &rng))
        #expect(dx != nil)
        #expect(bn.gamma.grad == nil && bn.beta.grad == nil)
    }

    @Test func trainingNeedsMoreThanOneValuePerChannel() throws {
        let bn = try BatchNorm2d(name: "bn3", channels: 2)
        #expect(throws: EngineError.self) { try bn.forward(Tensor(zeros: [1, 2, 1, 1]), mode: .training) }
        _ = try bn.forward(Tensor(zeros: [1, 2, 1, 1]), mode: .evaluation)
    }
}
