import Foundation

/// Maps a data interval onto a pixel interval (which may run backwards, as a y axis does).
public struct LinearScale: Equatable, Sendable {
    public var domain: ClosedRange<Double>
    /// Pixel positions of `domain.lowerBound` and `domain.upperBound`.
    public var range: (Double, Double)

    public init(domain: ClosedRange<Double>, range: (Double, Double)) {
        self.domain = domain
        self.range = range
    }

    public static func == (a: LinearScale, b: LinearScale) -> Bool {
        a.domain == b.domain && a.range.0 == b.range.0 && a.range.1 == b.range.1
    }

    /// The pixel position of `value`.
    public func callAsFunction(_ value: Double) -> Double {
        let span = domain.upperBound - domain.lowerBound
        let t = span == 0 ? 0 : (value - domain.lowerBound) / span
        return range.0 + t * (range.1 - range.0)
    }

    /// "Nice" tick values (1, 2 or 5 × 10^k apart) covering the domain with about `count` ticks.
    public func ticks(_ count: Int = 5) -> [Double] {
        NiceTicks.values(domain.lowerBound, domain.upperBound, count: count)
    }
}

/// Axis ticks at round numbers.
public enum NiceTicks {
    /// The step (1, 2 or 5 × 10^k) that splits `[low, high]` into about `count` parts.
    public static func step(_ low: Double, _ high: Double, count: Int) -> Double {
        let span = max(high - low, 1e-12)
        let raw = span / Double(max(count, 1))
        let magnitude = pow(10, floor(log10(raw)))
        let residual = raw / magnitude
        let nice: Double = residual <= 1 ? 1 : residual <= 2 ? 2 : residual <= 5 ? 5 : 10
        return nice * magnitude
    }

    /// The interval extended outwards to whole steps: the domain an axis should show.
    public static func extended(_ low: Double, _ high: Double, count: Int) -> ClosedRange<Double> {
        let s = step(low, high, count: count)
        let lo = floor(low / s + 1e-9) * s, hi = ceil(high / s - 1e-9) * s
        return lo...(hi > lo ? hi : lo + s)
    }

    /// Tick values: multiples of ``step(_:_:count:)`` inside `[low, high]`.
    public static func values(_ low: Double, _ high: Double, count: Int) -> [Double] {
        let s = step(low, high, count: count)
        var values: [Double] = []
        var k = ceil(low / s - 1e-9)
        while k * s <= high + s * 1e-9 {
            values.append(abs(k * s) < s * 1e-9 ? 0 : k * s)
            k += 1
        }
        return values
    }

    /// A tick label: integers without decimals, `1.2M`/`350k` for large values, else up to 3 digits.
    public static func label(_ value: Double) -> String {
        let a = abs(value)
        if a >= 1e6 { return trim(String(format: "%.2f", value / 1e6)) + "M" }
        if a >= 1e4 { return trim(String(format: "%.1f", value / 1e3)) + "k" }
        if value == value.rounded() { return String(format: "%.0f", value) }
        return trim(String(format: "%.3f", value))
    }

    static func trim(_ s: String) -> String {
        guard s.contains(".") else { return s }
        var t = s
        while t.hasSuffix("0") { t.removeLast() }
        if t.hasSuffix(".") { t.removeLast() }
        return t
    }
}
