import Foundation

/// One chart of a report: an inline SVG element with its title and the caption under it.
///
/// Colours come from the page's CSS classes (`s0`…`s7` for series, `ghost`, `grid`, `axis`,
/// `budget`), so the same markup follows the light and the dark colour scheme and prints.
public struct Chart: Sendable {
    /// Element id, unique on the page (e.g. `widths`).
    public var id: String
    public var title: String
    /// One or two sentences under the chart: what is drawn and from which file.
    public var caption: String
    /// Size of the SVG in CSS pixels.
    public var width: Double
    public var height: Double
    /// The `<svg>` element.
    public var svg: Markup

    public init(id: String, title: String, caption: String, width: Double, height: Double, svg: Markup) {
        self.id = id
        self.title = title
        self.caption = caption
        self.width = width
        self.height = height
        self.svg = svg
    }
}

/// One entry of a chart's legend: a name and the series class it stands for (`s0`, `ghost`…),
/// drawn as a line for line series.
struct LegendEntry {
    var name: String
    var style: String
    var line: Bool = false
}

/// A chart's size and plot area, in pixels.
struct Frame {
    let width: Double, height: Double
    let left: Double, right: Double, top: Double, bottom: Double

    var plotLeft: Double { left }
    var plotRight: Double { width - right }
    var plotTop: Double { top }
    var plotBottom: Double { height - bottom }
}

/// The plot area of a chart and the markup being drawn, with the helpers every chart shares
/// (axes, grid, legend, rotated labels).
struct Canvas {
    let frame: Frame
    var markup = Markup()

    var width: Double { frame.width }
    var height: Double { frame.height }
    var plotLeft: Double { frame.plotLeft }
    var plotRight: Double { frame.plotRight }
    var plotTop: Double { frame.plotTop }
    var plotBottom: Double { frame.plotBottom }

    /// A canvas of `width` × `height` pixels whose plot area keeps the given margins; `top` is the
    /// space between the legend (laid out in rows above the plot) and the plot.
    init(width: Double, height: Double, left: Double = 64, right: Double = 20, top: Double = 20, bottom: Double = 44,
         label: String, legend: [LegendEntry] = []) {
        let placed = Self.layout(legend, from: left, to: width - right)
        let legendHeight = placed.last.map { $0.y + 12 } ?? 14
        frame = Frame(width: width, height: height, left: left, right: right, top: legendHeight + top, bottom: bottom)
        markup.open("svg", [("xmlns", "http://www.w3.org/2000/svg"), ("width", .number(width)), ("height", .number(height)),
                            ("viewBox", .text("0 0 \(Markup.number(width)) \(Markup.number(height))")),
                            ("role", "img"), ("aria-label", .text(label)), ("class", "chart")])
        if !legend.isEmpty { draw(legend, at: placed) }
    }

    /// The position of each legend entry: rows from `x0`, wrapping before `maxX`.
    static func layout(_ entries: [LegendEntry], from x0: Double, to maxX: Double) -> [(x: Double, y: Double)] {
        var x = x0, y = 14.0
        var placed: [(x: Double, y: Double)] = []
        for entry in entries {
            let w = 30 + Double(entry.name.count) * 6.4
            if x > x0 && x + w > maxX { x = x0; y += 16 }
            placed.append((x, y))
            x += w
        }
        return placed
    }

    /// The smallest left margin that keeps the first rotated category label inside the chart.
    static func leftMargin(firstLabel: String?, spacing: Double) -> Double {
        max(64, Double(firstLabel?.count ?? 0) * 4.5 - spacing / 2 + 8)
    }

    /// Closes the SVG element and returns the chart.
    func finish(id: String, title: String, caption: String) -> Chart {
        var m = markup
        m.close("svg")
        return Chart(id: id, title: title, caption: caption, width: width, height: height, svg: m)
    }

    /// A y axis at the plot's left (or right) edge with grid lines (left axis only) and a title.
    mutating func yAxis(_ scale: LinearScale, title: String, right onRight: Bool = false, format: (Double) -> String = NiceTicks.label) {
        let f = frame
        let x = onRight ? f.plotRight : f.plotLeft
        markup.wrap("g", [("class", "axis")]) { m in
            m.element("line", [("x1", .number(x)), ("y1", .number(f.plotTop)), ("x2", .number(x)), ("y2", .number(f.plotBottom))])
            for tick in scale.ticks(5) {
                let y = scale(tick)
                if !onRight {
                    m.element("line", [("class", "grid"), ("x1", .number(f.plotLeft)), ("y1", .number(y)),
                                       ("x2", .number(f.plotRight)), ("y2", .number(y))])
                }
                m.element("line", [("x1", .number(x)), ("y1", .number(y)), ("x2", .number(onRight ? x + 4 : x - 4)),
                                   ("y2", .number(y))])
                m.element("text", [("class", "tick"), ("x", .number(onRight ? x + 7 : x - 7)), ("y", .number(y + 4)),
                                   ("text-anchor", onRight ? "start" : "end")], text: format(tick))
            }
            let cx = onRight ? f.width - 12 : 14, cy = (f.plotTop + f.plotBottom) / 2
            m.element("text", [("class", "axis-title"), ("x", .number(cx)), ("y", .number(cy)), ("text-anchor", "middle"),
                               ("transform", .text("rotate(\(onRight ? 90 : -90) \(Markup.number(cx)) \(Markup.number(cy)))"))],
                      text: title)
        }
    }

    /// A numeric x axis along the plot's bottom with a title.
    mutating func xAxis(_ scale: LinearScale, title: String, ticks: [Double]? = nil, format: (Double) -> String = NiceTicks.label) {
        let f = frame
        markup.wrap("g", [("class", "axis")]) { m in
            m.element("line", [("x1", .number(f.plotLeft)), ("y1", .number(f.plotBottom)), ("x2", .number(f.plotRight)),
                               ("y2", .number(f.plotBottom))])
            for tick in ticks ?? scale.ticks(6) {
                let x = scale(tick)
                m.element("line", [("x1", .number(x)), ("y1", .number(f.plotBottom)), ("x2", .number(x)), ("y2", .number(f.plotBottom + 4))])
                m.element("text", [("class", "tick"), ("x", .number(x)), ("y", .number(f.plotBottom + 16)), ("text-anchor", "middle")],
                          text: format(tick))
            }
            m.element("text", [("class", "axis-title"), ("x", .number((f.plotLeft + f.plotRight) / 2)), ("y", .number(f.height - 6)),
                               ("text-anchor", "middle")], text: title)
        }
    }

    /// Category labels under the plot, rotated −45° when they would collide.
    mutating func categoryLabels(_ labels: [String], centers: [Double], spacing: Double) {
        let f = frame
        let longest = labels.map(\.count).max() ?? 0
        let rotate = Double(longest) * 6.2 > spacing
        markup.wrap("g", [("class", "axis")]) { m in
            m.element("line", [("x1", .number(f.plotLeft)), ("y1", .number(f.plotBottom)), ("x2", .number(f.plotRight)),
                               ("y2", .number(f.plotBottom))])
            for (label, x) in zip(labels, centers) {
                let y = f.plotBottom + 14
                if rotate {
                    m.element("text", [("class", "tick"), ("x", .number(x)), ("y", .number(y)), ("text-anchor", "end"),
                                       ("transform", .text("rotate(-45 \(Markup.number(x)) \(Markup.number(y)))"))], text: label)
                } else {
                    m.element("text", [("class", "tick"), ("x", .number(x)), ("y", .number(y)), ("text-anchor", "middle")], text: label)
                }
            }
        }
    }

    /// Bottom margin that fits category labels of up to `longest` characters, rotated.
    static func labelMargin(longest: Int) -> Double { min(200, 24 + Double(longest) * 4.6) }

    /// Draws legend entries: a swatch (square, or a line for `line` entries) and a name each.
    private mutating func draw(_ entries: [LegendEntry], at placed: [(x: Double, y: Double)]) {
        markup.wrap("g", [("class", "legend")]) { m in
            for (entry, p) in zip(entries, placed) {
                if entry.line {
                    m.element("line", [("class", .text("line \(entry.style)")), ("x1", .number(p.x)), ("y1", .number(p.y)),
                                       ("x2", .number(p.x + 16)), ("y2", .number(p.y))])
                } else {
                    m.element("rect", [("class", .text(entry.style)), ("x", .number(p.x)), ("y", .number(p.y - 6)),
                                       ("width", 12), ("height", 12)])
                }
                m.element("text", [("class", "legend-text"), ("x", .number(p.x + 20)), ("y", .number(p.y + 4))], text: entry.name)
            }
        }
    }

    /// A polyline through `points` (pixel coordinates) with a dot at each point.
    mutating func line(_ points: [(Double, Double)], style: String, dashed: Bool = false, dots: Bool = true) {
        guard !points.isEmpty else { return }
        let path = points.enumerated().map { "\($0.offset == 0 ? "M" : "L")\(Markup.number($0.element.0)) \(Markup.number($0.element.1))" }
            .joined(separator: " ")
        markup.element("path", [("class", .text("line \(style)" + (dashed ? " dashed" : ""))), ("d", .text(path))])
        if dots {
            for (x, y) in points {
                markup.element("circle", [("class", .text("dot \(style)")), ("cx", .number(x)), ("cy", .number(y)), ("r", 2.5)])
            }
        }
    }

    /// A horizontal reference line across the plot with a label at its right end.
    mutating func referenceLine(y: Double, label: String, style: String = "budget") {
        markup.element("line", [("class", .text(style)), ("x1", .number(plotLeft)), ("y1", .number(y)), ("x2", .number(plotRight)),
                                ("y2", .number(y))])
        markup.element("text", [("class", .text("note \(style)-text")), ("x", .number(plotRight - 4)), ("y", .number(y - 5)),
                                ("text-anchor", "end")], text: label)
    }
}
