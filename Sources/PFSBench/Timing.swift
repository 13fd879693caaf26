import Foundation

/// Wall-clock samples of a repeated operation.
public struct Samples: Sendable {
    public var seconds: [Double]

    public init(seconds: [Double]) { self.seconds = seconds }

    public var median: Double {
        let s = seconds.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : 0.5 * (s[s.count / 2 - 1] + s[s.count / 2])
    }
    public var min: Double { seconds.min() ?? .nan }
    public var max: Double { seconds.max() ?? .nan }

    /// Runs `body` `warmup` times untimed, then at least `minRuns` times and until `minSeconds`
    /// of timed work have passed (capped at `maxRuns`).
    public static func measure(warmup: Int = 1, minRuns: Int = 5, maxRuns: Int = 1_000_000, minSeconds: Double = 1,
                               _ body: () -> Void) -> Samples {
        for _ in 0..<warmup { body() }
        var times: [Double] = []
        var total = 0.0
        while times.count < minRuns || (total < minSeconds && times.count < maxRuns) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            times.append(dt)
            total += dt
        }
        return Samples(seconds: times)
    }

    /// Runs `bodies` in rounds, one call of each per round, each call timed on its own, so that a
    /// machine whose speed drifts slows every body alike: `warmup` untimed rounds, then at least
    /// `minRuns` rounds and until every body has `minSeconds` of timed work (capped at `maxRuns`).
    /// Round r starts at body r mod n, so no body always runs first. One ``Samples`` per body,
    /// sample i of each from round i.
    public static func measureInterleaved(warmup: Int = 1, minRuns: Int = 5, maxRuns: Int = 1_000_000,
                                          minSeconds: Double = 1, _ bodies: [() -> Void]) -> [Samples] {
        let n = bodies.count
        for _ in 0..<warmup { for body in bodies { body() } }
        var times = [[Double]](repeating: [], count: n), totals = [Double](repeating: 0, count: n)
        var round = 0
        while n > 0 && (round < minRuns || (totals.min()! < minSeconds && round < maxRuns)) {
            for k in 0..<n {
                let b = (round + k) % n
                let t0 = DispatchTime.now().uptimeNanoseconds
                bodies[b]()
                let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
                times[b].append(dt)
                totals[b] += dt
            }
            round += 1
        }
        return times.map { Samples(seconds: $0) }
    }

    /// The median over rounds of `reference`'s time over this one's (round i of each, as
    /// ``measureInterleaved(warmup:minRuns:maxRuns:minSeconds:_:)`` pairs them): the speed-up over
    /// `reference` with the drift between rounds cancelled.
    public func speedUp(over reference: Samples) -> Double {
        Samples(seconds: zip(reference.seconds, seconds).map { $0 / $1 }).median
    }
}

/// Renders rows as an aligned plain-text table (numbers right-aligned, text left-aligned).
public func renderTable(header: [String], rows: [[String]]) -> String {
    let widths = header.indices.map { c in ([header[c]] + rows.map { $0[c] }).map(\.count).max() ?? 0 }
    func isNumeric(_ s: String) -> Bool { Double(s.replacingOccurrences(of: "%", with: "")) != nil }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { c, cell in
            let pad = String(repeating: " ", count: widths[c] - cell.count)
            return isNumeric(cell) ? pad + cell : cell + pad
        }.joined(separator: "  ")
    }
    let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
    return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
}

func format(_ v: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", v) }
