import PFSNN
import PFSTensor

/// Largest deviation between an analytic and a numerical gradient, relative to the largest
/// numerical entry: max_i |a_i − n_i| / max(max_i |n_i|, floor).
public struct GradientDeviation: CustomStringConvertible {
    public var name: String
    public var error: Double
    public var worstIndex: Int
    public var analytic: Double
    public var numeric: Double
    public var description: String {
        "\(name): relative error \(error) at [\(worstIndex)] (analytic \(analytic), numeric \(numeric))"
    }
}

/// Central finite-difference gradient check of a layer.
///
/// The scalar objective is L = Σ r ⊙ layer(x) for a fixed random r, evaluated in Double. The
/// analytic gradients come from one `backward(r)`; the numerical ones from
/// (L(θ + h) − L(θ − h)) / (actual step), where the actual step is the Float-rounded
/// perturbation measured in Double. Every input element and every element of every non-frozen
/// parameter is checked.
public enum GradientCheck {
    public static func run(_ layer: Layer, input: Tensor, mode: Mode = .training, step: Float = 1e-2,
                           seed: UInt64 = 99, checkInput: Bool = true) throws -> [GradientDeviation] {
        var rng = RandomGenerator(seed: seed)
        let y0 = try layer.forward(input, mode: mode)
        let r = Tensor.randomNormal(y0.shape, using: &rng)
        let objective = { (x: Tensor) throws -> Double in
            let y = try layer.forward(x, mode: mode)
            var s = 0.0
            for i in 0..<y.count { s += Double(y[flat: i]) * Double(r[flat: i]) }
            return s
        }
        // Analytic gradients.
        _ = try layer.forward(input, mode: mode)
        layer.zeroGradients()
        let dx = try layer.backward(r)
        var results: [GradientDeviation] = []

        func numeric(count: Int, perturb: (Int, Float) -> Void, value: (Int) -> Float) throws -> [Double] {
            var out = [Double](repeating: 0, count: count)
            for i in 0..<count {
                let v = value(i)
                let up = v + step, down = v - step
                perturb(i, up); let lp = try objective(input)
                perturb(i, down); let lm = try objective(input)
                perturb(i, v)
                out[i] = (lp - lm) / (Double(up) - Double(down))
            }
            return out
        }

        if checkInput, let dx {
            var x = input
            var num = [Double](repeating: 0, count: x.count)
            for i in 0..<x.count {
                let v = x[flat: i]
                let up = v + step, down = v - step
                x[flat: i] = up; let lp = try objective(x)
                x[flat: i] = down; let lm = try objective(x)
                x[flat: i] = v
                num[i] = (lp - lm) / (Double(up) - Double(down))
            }
            results.append(deviation("\(layer.name).input", analytic: dx.scalars, numeric: num))
        }
        for p in layer.parameters where !p.isFrozen {
            guard let g = p.grad else {
                results.append(GradientDeviation(name: p.name + " (no gradient)", error: .infinity, worstIndex: -1,
                                                 analytic: .nan, numeric: .nan))
                continue
            }
            let num = try numeric(count: p.value.count, perturb: { p.value[flat: $0] = $1 }, value: { p.value[flat: $0] })
            results.append(deviation(p.name, analytic: g.scalars, numeric: num))
        }
        return results
    }

    static func deviation(_ name: String, analytic: [Float], numeric: [Double], floor: Double = 1e-3) -> GradientDeviation {
        precondition(analytic.count == numeric.count)
        let scale = max(numeric.map(abs).max() ?? 0, floor)
        var worst = 0, worstError = 0.0
        for i in 0..<numeric.count {
            let e = abs(Double(analytic[i]) - numeric[i]) / scale
            if e > worstError { worstError = e; worst = i }
        }
        return GradientDeviation(name: name, error: worstError, worstIndex: worst,
                                 analytic: analytic.isEmpty ? 0 : Double(analytic[worst]),
                                 numeric: numeric.isEmpty ? 0 : numeric[worst])
    }
}

/// Element-wise comparison helpers.
public enum Compare {
    /// max_i |a_i − b_i| / max(max_i |b_i|, 1e-6), or infinity if any difference is NaN.
    public static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count, "relativeError: \(a.count) vs \(b.count) elements")
        var worst = 0.0, scale = 1e-6
        for v in b { scale = max(scale, Double(abs(v))) }
        for i in 0..<a.count {
            let difference = Double(abs(a[i] - b[i]))
            // `max` passes over a NaN, so an element left unwritten (NaN-filled outputs) or a NaN
            // result would go unseen: any NaN difference is an infinite error.
            if difference.isNaN { return .infinity }
            worst = max(worst, difference)
        }
        return worst / scale
    }

    /// True when every element has the same bit pattern.
    public static func bitIdentical(_ a: [Float], _ b: [Float]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
    }
}

/// Random tensors whose elements keep at least `margin` away from zero (for ReLU-style kinks).
public func awayFromZero(_ shape: [Int], margin: Float = 0.1, using rng: inout RandomGenerator) -> Tensor {
    Tensor(shape: shape) { _ in
        let v = rng.normal()
        return v >= 0 ? v + margin : v - margin
    }
}
