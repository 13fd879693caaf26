import Foundation

/// Gate learning per epoch: mean gate and fraction of non-zero gates (left axis) with the target
/// r, validation accuracy (right axis), the selected epoch marked and the rule that chose it.
public struct GateLearningChart: Sendable {
    /// Where each point was validated, in ``unit``s (epochs, or optimiser steps).
    public var epochs: [Int]
    public var meanGate: [Double]
    public var nonZeroFraction: [Double]
    public var validationAccuracy: [Double]
    public var targetRatio: Double
    public var selectedEpoch: Int?
    /// The selection rule that fired, in words.
    public var rule: String
    /// The x axis' unit: "epoch", or "step" for a search validated every K steps.
    public var unit: String

    public init(epochs: [Int], meanGate: [Double], nonZeroFraction: [Double], validationAccuracy: [Double],
                targetRatio: Double, selectedEpoch: Int?, rule: String, unit: String = "epoch") {
        self.unit = unit
        self.epochs = epochs
        self.meanGate = meanGate
        self.nonZeroFraction = nonZeroFraction
        self.validationAccuracy = validationAccuracy
        self.targetRatio = targetRatio
        self.selectedEpoch = selectedEpoch
        self.rule = rule
    }

    public func chart(id: String, title: String = "Gate learning", caption: String) -> Chart {
        var c = Canvas(width: 620, height: 300, right: 64, label: title,
                       legend: [LegendEntry(name: "mean gate", style: "s0", line: true),
                                LegendEntry(name: "non-zero gates", style: "s1", line: true),
                                LegendEntry(name: "validation accuracy", style: "s2", line: true)])
        let last = Double(epochs.last ?? 1)
        let x = LinearScale(domain: 0.5...(max(last, 1) + 0.5), range: (c.plotLeft, c.plotRight))
        let y = LinearScale(domain: 0...1, range: (c.plotBottom, c.plotTop))
        c.yAxis(y, title: "gate value, fraction of gates")
        c.yAxis(y, title: "validation accuracy (%)", right: true) { NiceTicks.label($0 * 100) }
        let step = max(1, Int((last / 10).rounded(.up)))
        c.xAxis(x, title: unit, ticks: stride(from: 1.0, through: last, by: Double(step)).map { $0 })
        c.referenceLine(y: y(targetRatio), label: "target r = " + NiceTicks.label(targetRatio))
        if let selectedEpoch {
            let sx = x(Double(selectedEpoch))
            c.markup.element("line", [("class", "selected"), ("x1", .number(sx)), ("y1", .number(c.plotTop)), ("x2", .number(sx)),
                                      ("y2", .number(c.plotBottom))])
            c.markup.element("text", [("class", "note"), ("x", .number(sx + 4)), ("y", .number(c.plotTop + 12))],
                             text: "selected: \(unit) \(selectedEpoch)")
        }
        func points(_ values: [Double]) -> [(Double, Double)] { zip(epochs, values).map { (x(Double($0)), y($1)) } }
        c.line(points(meanGate), style: "s0")
        c.line(points(nonZeroFraction), style: "s1")
        c.line(points(validationAccuracy), style: "s2", dashed: true)
        return c.finish(id: id, title: title, caption: caption + " Selection: " + rule + ".")
    }
}

/// The budget search's probes: kept channels → MACs of each network it counted, in order, with
/// the budget line; the chosen network is the largest that fits.
public struct BudgetTraceChart: Sendable {
    public struct Probe: Sendable {
        public var keptChannels: Int
        public var macs: Int
        public var fits: Bool

        public init(keptChannels: Int, macs: Int, fits: Bool) {
            self.keptChannels = keptChannels
            self.macs = macs
            self.fits = fits
        }
    }

    public var probes: [Probe]
    public var budget: Int
    public var totalChannels: Int

    public init(probes: [Probe], budget: Int, totalChannels: Int) {
        self.probes = probes
        self.budget = budget
        self.totalChannels = totalChannels
    }

    public func chart(id: String, title: String = "Budget search", caption: String) -> Chart {
        var c = Canvas(width: 560, height: 300, label: title,
                       legend: [LegendEntry(name: "fits", style: "s2"), LegendEntry(name: "over the budget", style: "s1")])
        let maxMACs = Double(([budget] + probes.map(\.macs)).max() ?? 1)
        let x = LinearScale(domain: NiceTicks.extended(0, Double(max(totalChannels, 1)), count: 6), range: (c.plotLeft, c.plotRight))
        let y = LinearScale(domain: NiceTicks.extended(0, maxMACs, count: 5), range: (c.plotBottom, c.plotTop))
        c.yAxis(y, title: "MACs per image")
        c.xAxis(x, title: "kept channels")
        c.referenceLine(y: y(Double(budget)), label: "budget \(MACsChart.millions(Double(budget)))")
        let points = probes.map { (x(Double($0.keptChannels)), y(Double($0.macs))) }
        c.line(points, style: "s3", dots: false)
        let chosen = probes.filter(\.fits).max { $0.keptChannels < $1.keptChannels }
        for (i, probe) in probes.enumerated() {
            let (px, py) = points[i]
            let isChosen = chosen.map { $0.keptChannels == probe.keptChannels } ?? false
            c.markup.wrap("circle", [("class", .text(probe.fits ? "dot s2" : "dot open s1")), ("cx", .number(px)),
                                     ("cy", .number(py)), ("r", .number(isChosen ? 5 : 3.5))]) { m in
                m.element("title", text: "probe \(i + 1): \(probe.keptChannels) channels, \(probe.macs) MACs"
                          + (probe.fits ? " (fits)" : " (over the budget)"))
            }
            c.markup.element("text", [("class", "tick"), ("x", .number(px + 5)), ("y", .number(py - 6))], text: "\(i + 1)")
        }
        if let chosen {
            c.markup.element("text", [("class", "note"), ("x", .number(c.plotLeft + 6)), ("y", .number(c.plotTop + 12))],
                             text: "chosen: \(chosen.keptChannels) channels, \(MACsChart.millions(Double(chosen.macs))) MACs")
        }
        return c.finish(id: id, title: title, caption: caption)
    }
}

/// Several runs' values per epoch on one axis: loss, accuracy or learning rate.
public struct EpochCurvesChart: Sendable {
    public struct Curve: Sendable {
        public var name: String
        public var epochs: [Int]
        public var values: [Double]
        public var dashed: Bool

        public init(name: String, epochs: [Int], values: [Double], dashed: Bool = false) {
            self.name = name
            self.epochs = epochs
            self.values = values
            self.dashed = dashed
        }
    }

    public var curves: [Curve]
    public var valueName: String
    /// Values are fractions shown as percentages.
    public var percent: Bool
    /// The curve's style index, so that train and validation of one run share a colour.
    public var styles: [Int]

    public init(curves: [Curve], valueName: String, percent: Bool = false, styles: [Int]? = nil) {
        self.curves = curves
        self.valueName = valueName
        self.percent = percent
        self.styles = styles ?? Array(curves.indices)
    }

    public func chart(id: String, title: String, caption: String) -> Chart {
        let legend = curves.enumerated().prefix(10).map {
            LegendEntry(name: $0.element.name + ($0.element.dashed ? " (dashed)" : ""), style: "s\(styles[$0.offset] % 8)", line: true)
        }
        var c = Canvas(width: 480, height: 260 + 16 * Double(legend.count / 3), label: title, legend: legend)
        let last = Double(curves.compactMap { $0.epochs.last }.max() ?? 1)
        let values = curves.flatMap(\.values).filter(\.isFinite)
        let low = percent ? 0 : min(0, values.min() ?? 0), high = max(values.max() ?? 1, percent ? 0.01 : 1e-6)
        let x = LinearScale(domain: 0.5...(max(last, 1) + 0.5), range: (c.plotLeft, c.plotRight))
        let y = LinearScale(domain: NiceTicks.extended(low, percent ? min(1, high) : high, count: 5), range: (c.plotBottom, c.plotTop))
        c.yAxis(y, title: valueName) { percent ? NiceTicks.label($0 * 100) : NiceTicks.label($0) }
        let step = max(1, Int((last / 10).rounded(.up)))
        c.xAxis(x, title: "epoch", ticks: stride(from: 1.0, through: last, by: Double(step)).map { $0 })
        for (i, curve) in curves.enumerated() {
            let points = zip(curve.epochs, curve.values).filter { $0.1.isFinite }.map { (x(Double($0.0)), y($0.1)) }
            c.line(points, style: "s\(styles[i] % 8)", dashed: curve.dashed, dots: curve.epochs.count <= 40)
        }
        return c.finish(id: id, title: title, caption: caption)
    }
}

/// A correlation matrix as a heat map: labelled rows and columns, a diverging colour scale from
/// −1 (blue) through 0 (grey) to +1 (red), group boundaries drawn thicker.
public struct HeatMapChart: Sendable {
    public var labels: [String]
    public var groups: [String]
    public var matrix: [[Double?]]

    public init(labels: [String], groups: [String], matrix: [[Double?]]) {
        self.labels = labels
        self.groups = groups
        self.matrix = matrix
    }

    /// The fill of a cell of value `r` in [−1, 1].
    public static func color(_ r: Double) -> String {
        let t = max(-1, min(1, r))
        let neutral = (221.0, 221.0, 221.0), negative = (59.0, 76.0, 192.0), positive = (180.0, 4.0, 38.0)
        let end = t < 0 ? negative : positive
        let a = abs(t)
        func mix(_ u: Double, _ v: Double) -> Int { Int((u + (v - u) * a).rounded()) }
        return String(format: "#%02x%02x%02x", mix(neutral.0, end.0), mix(neutral.1, end.1), mix(neutral.2, end.2))
    }

    public func chart(id: String, title: String = "Structure similarity", caption: String) -> Chart {
        let n = labels.count
        let cell = n <= 12 ? 34.0 : n <= 24 ? 24.0 : 16.0
        let labelWidth = Double(labels.map(\.count).max() ?? 0) * 6.4 + 12
        let left = labelWidth, top = labelWidth + 10
        let width = left + cell * Double(n) + 110, height = top + cell * Double(n) + 20
        var c = Canvas(width: width, height: height, left: left, right: 110, top: top - 14, bottom: 20, label: title)
        c.markup.wrap("g", [("class", "heat")]) { m in
            for i in 0..<n {
                let y0 = top + Double(i) * cell
                m.element("text", [("class", "tick"), ("x", .number(left - 6)), ("y", .number(y0 + cell / 2 + 4)),
                                   ("text-anchor", "end")], text: labels[i])
                let x0 = left + Double(i) * cell + cell / 2
                m.element("text", [("class", "tick"), ("x", .number(x0 + 4)), ("y", .number(top - 6)),
                                   ("transform", .text("rotate(-60 \(Markup.number(x0 + 4)) \(Markup.number(top - 6)))"))],
                          text: labels[i])
                for j in 0..<n {
                    let value = i < matrix.count && j < matrix[i].count ? matrix[i][j] : nil
                    let x = left + Double(j) * cell
                    m.wrap("rect", [("x", .number(x)), ("y", .number(y0)), ("width", .number(cell)), ("height", .number(cell)),
                                    ("fill", .text(value.map(Self.color) ?? "none")), ("class", value == nil ? "cell missing" : "cell")]) { m in
                        m.element("title", text: "\(labels[i]) × \(labels[j]): "
                                  + (value.map { String(format: "%.3f", $0) } ?? "n/a (uniform up to rounding, or constant)"))
                    }
                    if cell >= 24 {
                        let dark = (value.map(abs) ?? 0) > 0.55
                        m.element("text", [("class", dark ? "cell-text light" : "cell-text"), ("x", .number(x + cell / 2)),
                                           ("y", .number(y0 + cell / 2 + 4)), ("text-anchor", "middle")],
                                  text: value.map { String(format: "%.2f", $0) } ?? "n/a")
                    }
                }
            }
            // Group boundaries.
            for k in 1..<max(n, 1) where groups.count == n && groups[k] != groups[k - 1] {
                let p = Double(k) * cell
                m.element("line", [("class", "group-line"), ("x1", .number(left + p)), ("y1", .number(top)),
                                   ("x2", .number(left + p)), ("y2", .number(top + cell * Double(n)))])
                m.element("line", [("class", "group-line"), ("x1", .number(left)), ("y1", .number(top + p)),
                                   ("x2", .number(left + cell * Double(n))), ("y2", .number(top + p))])
            }
            // Colour scale.
            let sx = left + cell * Double(n) + 24, sh = max(cell * Double(n), 120)
            for k in 0..<40 {
                let r = 1 - 2 * (Double(k) + 0.5) / 40
                m.element("rect", [("x", .number(sx)), ("y", .number(top + Double(k) * sh / 40)), ("width", 14),
                                   ("height", .number(sh / 40 + 0.5)), ("fill", .text(Self.color(r)))])
            }
            for (r, label) in [(1.0, "+1"), (0.0, "0"), (-1.0, "−1")] {
                m.element("text", [("class", "tick"), ("x", .number(sx + 20)), ("y", .number(top + (1 - r) / 2 * sh + 4))], text: label)
            }
            m.element("text", [("class", "tick"), ("x", .number(sx)), ("y", .number(top - 20))], text: "Pearson r")
        }
        return c.finish(id: id, title: title, caption: caption)
    }
}
