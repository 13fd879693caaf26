import Foundation

/// Widths per prunable layer: the standard width as a ghost bar and, in front of it, one bar per
/// structure (e.g. several PFS seeds and uniform scaling side by side).
public struct WidthsChart: Sendable {
    public struct Series: Sendable {
        public var name: String
        /// Kept channels per layer, in the order of ``WidthsChart/layers``.
        public var widths: [Int]

        public init(name: String, widths: [Int]) {
            self.name = name
            self.widths = widths
        }
    }

    public var layers: [String]
    public var standard: [Int]
    public var series: [Series]
    public var height: Double = 320

    public init(layers: [String], standard: [Int], series: [Series]) {
        self.layers = layers
        self.standard = standard
        self.series = series
    }

    /// Pixels per layer group.
    var groupWidth: Double { max(18, 6 + 7 * Double(min(series.count, 8))) }

    public func chart(id: String = "widths", caption: String) -> Chart {
        let bottom = Canvas.labelMargin(longest: layers.map(\.count).max() ?? 0)
        let left = Canvas.leftMargin(firstLabel: layers.first, spacing: groupWidth)
        let legend = [LegendEntry(name: "standard", style: "ghost")]
            + series.enumerated().map { LegendEntry(name: $0.element.name, style: "s\($0.offset % 8)") }
        let width = max(left + groupWidth * Double(layers.count) + 20, 480)
        let groupWidth = (width - left - 20) / Double(max(layers.count, 1))   // the groups fill the plot
        var c = Canvas(width: width, height: height + 16 * Double(legend.count / 4), left: left,
                       bottom: bottom, label: "Widths per layer", legend: legend)
        let maximum = Double(([1] + standard + series.flatMap(\.widths)).max() ?? 1)
        let y = LinearScale(domain: NiceTicks.extended(0, maximum, count: 5), range: (c.plotBottom, c.plotTop))
        c.yAxis(y, title: "channels")
        var centers: [Double] = []
        let inner = groupWidth - 4
        let barWidth = inner / Double(max(series.count, 1))
        let plotLeft = c.plotLeft
        c.markup.wrap("g", [("class", "bars")]) { m in
            for (i, standardWidth) in standard.enumerated() {
                let x0 = plotLeft + Double(i) * groupWidth
                centers.append(x0 + groupWidth / 2)
                m.element("rect", [("class", "ghost"), ("x", .number(x0 + 1)), ("y", .number(y(Double(standardWidth)))),
                                   ("width", .number(groupWidth - 2)),
                                   ("height", .number(y(0) - y(Double(standardWidth))))])
                for (k, s) in series.enumerated() where i < s.widths.count {
                    let value = Double(s.widths[i])
                    m.wrap("rect", [("class", .text("bar s\(k % 8)")), ("x", .number(x0 + 2 + Double(k) * barWidth)),
                                    ("y", .number(y(value))), ("width", .number(max(barWidth - 1, 1))),
                                    ("height", .number(y(0) - y(value)))]) { m in
                        m.element("title", text: "\(s.name): \(layers[i]) keeps \(s.widths[i]) of \(standardWidth)")
                    }
                }
            }
        }
        c.categoryLabels(layers, centers: centers, spacing: groupWidth)
        return c.finish(id: id, title: "Widths per layer", caption: caption)
    }
}

/// Where the MACs go: per convolution and linear layer, the standard network's MACs as a ghost
/// bar and the pruned network's in front; above, the totals against the budget.
public struct MACsChart: Sendable {
    public var layers: [String]
    public var standard: [Int]
    public var pruned: [Int]
    public var budget: Int?
    public var prunedName: String
    public var height: Double = 460

    public init(layers: [String], standard: [Int], pruned: [Int], budget: Int?, prunedName: String = "pruned") {
        self.layers = layers
        self.standard = standard
        self.pruned = pruned
        self.budget = budget
        self.prunedName = prunedName
    }

    public func chart(id: String = "macs", caption: String) -> Chart {
        let group = 12.0
        let bottom = Canvas.labelMargin(longest: layers.map(\.count).max() ?? 0)
        let plotWidth = max(group * Double(layers.count), 420)
        let left = Canvas.leftMargin(firstLabel: layers.first, spacing: plotWidth / Double(max(layers.count, 1)))
        var c = Canvas(width: left + plotWidth + 20, height: height, left: left, top: 84, bottom: bottom, label: "MACs per layer",
                       legend: [LegendEntry(name: "standard", style: "ghost"), LegendEntry(name: prunedName, style: "s0")])
        let strip = c.plotTop - 84      // the totals strip sits between the legend and the plot
        // Totals strip: standard (ghost), pruned (front), budget mark.
        let totalStandard = Double(standard.reduce(0, +)), totalPruned = Double(pruned.reduce(0, +))
        let tx = LinearScale(domain: 0...max(totalStandard, totalPruned, Double(budget ?? 0), 1), range: (c.plotLeft, c.plotRight))
        c.markup.wrap("g", [("class", "totals")]) { m in
            m.element("rect", [("class", "ghost"), ("x", .number(tx(0))), ("y", .number(strip + 20)),
                               ("width", .number(tx(totalStandard) - tx(0))), ("height", 22)])
            m.element("rect", [("class", "bar s0"), ("x", .number(tx(0))), ("y", .number(strip + 24)),
                               ("width", .number(tx(totalPruned) - tx(0))), ("height", 14)])
            m.element("text", [("class", "note"), ("x", .number(tx(0) + 4)), ("y", .number(strip + 58))],
                      text: "total: \(Self.millions(totalPruned)) of \(Self.millions(totalStandard)) MACs "
                        + String(format: "(%.1f %%)", 100 * totalPruned / max(totalStandard, 1)))
            if let budget {
                let bx = tx(Double(budget))
                m.element("line", [("class", "budget"), ("x1", .number(bx)), ("y1", .number(strip + 14)), ("x2", .number(bx)),
                                   ("y2", .number(strip + 48))])
                m.element("text", [("class", "note budget-text"), ("x", .number(bx)), ("y", .number(strip + 10)),
                                   ("text-anchor", "middle")],
                          text: "budget \(Self.millions(Double(budget)))")
            }
        }
        let maximum = Double(([1] + standard + pruned).max() ?? 1)
        let y = LinearScale(domain: NiceTicks.extended(0, maximum, count: 5), range: (c.plotBottom, c.plotTop))
        c.yAxis(y, title: "MACs per image")
        let width = plotWidth / Double(max(layers.count, 1))
        var centers: [Double] = []
        let plotLeft = c.plotLeft
        c.markup.wrap("g", [("class", "bars")]) { m in
            for i in layers.indices {
                let x0 = plotLeft + Double(i) * width
                centers.append(x0 + width / 2)
                let s = Double(standard[i]), p = Double(i < pruned.count ? pruned[i] : 0)
                m.element("rect", [("class", "ghost"), ("x", .number(x0 + 1)), ("y", .number(y(s))),
                                   ("width", .number(max(width - 2, 1))), ("height", .number(y(0) - y(s)))])
                m.wrap("rect", [("class", "bar s0"), ("x", .number(x0 + 2)), ("y", .number(y(p))),
                                ("width", .number(max(width - 4, 1))), ("height", .number(y(0) - y(p)))]) { m in
                    m.element("title", text: "\(layers[i]): \(Int(p)) of \(Int(s)) MACs")
                }
            }
        }
        c.categoryLabels(layers, centers: centers, spacing: width)
        return c.finish(id: id, title: "Where the MACs go", caption: caption)
    }

    static func millions(_ value: Double) -> String { String(format: "%.2fM", value / 1e6) }
}

/// A histogram of values (gates or scores) with a marked threshold.
public struct HistogramChart: Sendable {
    public var values: [Double]
    public var domain: ClosedRange<Double>
    public var bins: Int = 20
    public var threshold: Double?
    public var valueName: String

    public init(values: [Double], domain: ClosedRange<Double>, threshold: Double?, valueName: String) {
        self.values = values
        self.domain = domain
        self.threshold = threshold
        self.valueName = valueName
    }

    /// Counts per bin; the upper bound falls in the last bin.
    public var counts: [Int] {
        var counts = [Int](repeating: 0, count: bins)
        let span = domain.upperBound - domain.lowerBound
        for v in values where v.isFinite {
            let t = span > 0 ? (v - domain.lowerBound) / span : 0
            counts[min(bins - 1, max(0, Int(t * Double(bins))))] += 1
        }
        return counts
    }

    public func chart(id: String, title: String, caption: String) -> Chart {
        var c = Canvas(width: 560, height: 280, label: title)
        let counts = self.counts
        let x = LinearScale(domain: domain, range: (c.plotLeft, c.plotRight))
        let y = LinearScale(domain: NiceTicks.extended(0, Double(max(counts.max() ?? 1, 1)), count: 5), range: (c.plotBottom, c.plotTop))
        c.yAxis(y, title: "channels")
        let step = (domain.upperBound - domain.lowerBound) / Double(bins)
        c.markup.wrap("g", [("class", "bars")]) { m in
            for (i, count) in counts.enumerated() {
                let x0 = x(domain.lowerBound + Double(i) * step), x1 = x(domain.lowerBound + Double(i + 1) * step)
                m.wrap("rect", [("class", "bar s0"), ("x", .number(x0 + 0.5)), ("y", .number(y(Double(count)))),
                                ("width", .number(max(x1 - x0 - 1, 0.5))), ("height", .number(y(0) - y(Double(count))))]) { m in
                    m.element("title", text: "\(count) channels in [\(NiceTicks.label(domain.lowerBound + Double(i) * step)), "
                              + "\(NiceTicks.label(domain.lowerBound + Double(i + 1) * step)))")
                }
            }
        }
        c.xAxis(x, title: valueName)
        if let threshold {
            let tx = x(min(max(threshold, domain.lowerBound), domain.upperBound))
            c.markup.element("line", [("class", "budget"), ("x1", .number(tx)), ("y1", .number(c.plotTop)), ("x2", .number(tx)),
                                      ("y2", .number(c.plotBottom))])
            c.markup.element("text", [("class", "note budget-text"), ("x", .number(tx + 4)), ("y", .number(c.plotTop + 10))],
                             text: "threshold " + String(format: "%.4g", threshold))
        }
        return c.finish(id: id, title: title, caption: caption)
    }
}
