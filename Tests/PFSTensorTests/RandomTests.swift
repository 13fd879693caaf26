import Foundation
import Testing
@testable import PFSTensor

@Suite struct RandomTests {
    @Test func sameSeedSameStreamDifferentSeedDifferentStream() {
        var a = RandomGenerator(seed: 42), b = RandomGenerator(seed: 42), c = RandomGenerator(seed: 43)
        let sa = (0..<100).map { _ in a.next() }, sb = (0..<100).map { _ in b.next() }
        let sc = (0..<100).map { _ in c.next() }
        #expect(sa == sb)
        #expect(sa != sc)
    }

    /// Pins the streams: these values were computed by an independent Python implementation of
    /// SplitMix64 → xoshiro256** → (uniform, polar normal) and must not change across platforms,
    /// compilers or releases (seeded experiments depend on them).
    @Test func streamsArePinned() {
        var r = RandomGenerator(seed: 0)
        #expect(r.next() == 0x99EC_5F36_CB75_F2B4)
        var u = RandomGenerator(seed: 1)
        let uniforms = (0..<3).map { _ in u.uniform() }
        #expect(uniforms.map(\.bitPattern) == [0x3F33_F2AF, 0x3F05_3B55, 0x3F12_F897])
        var n = RandomGenerator(seed: 2)
        let normals = (0..<3).map { _ in n.normal() }
        #expect(normals.map(\.bitPattern) == [0xBF05_15EF, 0x3E96_E33A, 0xBF3C_90F4])
    }

    @Test func normalMomentsAreStandard() {
        var r = RandomGenerator(seed: 7)
        let n = 200_000
        var s = 0.0, ss = 0.0
        for _ in 0..<n { let v = r.normalDouble(); s += v; ss += v * v }
        let mean = s / Double(n), variance = ss / Double(n) - mean * mean
        #expect(abs(mean) < 0.01)
        #expect(abs(variance - 1) < 0.01)
    }

    @Test func uniformIntegersStayInRangeAndCoverIt() {
        var r = RandomGenerator(seed: 3)
        var counts = [Int](repeating: 0, count: 10)
        for _ in 0..<50_000 { counts[r.int(below: 10)] += 1 }
        #expect(counts.allSatisfy { $0 > 4_500 && $0 < 5_500 })
    }

    @Test func portableLogMatchesLibm() {
        var r = RandomGenerator(seed: 5)
        for _ in 0..<10_000 {
            let x = r.uniformDouble() * 4 + 1e-300
            let reference = Foundation.log(x)
            #expect(abs(PortableMath.log(x) - reference) <= 4e-16 * max(1, abs(reference)), "x = \(x)")
        }
        #expect(PortableMath.log(1) == 0)
    }
}
