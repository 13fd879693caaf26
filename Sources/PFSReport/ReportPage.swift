import Foundation

/// A table of a report. Cells are text (escaped when written); `bold` marks the best value.
public struct ReportTable: Sendable {
    public struct Cell: Sendable {
        public var text: String
        public var bold: Bool
        public var numeric: Bool

        public init(_ text: String, bold: Bool = false, numeric: Bool = false) {
            self.text = text
            self.bold = bold
            self.numeric = numeric
        }
    }

    public var caption: String
    /// Column titles; all empty for a table of name–value rows (no header row is written).
    public var header: [String]
    public var rows: [[Cell]]

    public init(caption: String, header: [String], rows: [[Cell]]) {
        self.caption = caption
        self.header = header
        self.rows = rows
    }
}

/// One part of a report section.
public enum ReportItem: Sendable {
    case chart(Chart)
    case table(ReportTable)
    /// A paragraph of text.
    case note(String)
    /// Something the page would show if the run had it: says what is missing and why.
    case missing(String)
}

public struct ReportSection: Sendable {
    public var title: String
    public var items: [ReportItem]

    public init(title: String, items: [ReportItem]) {
        self.title = title
        self.items = items
    }
}

/// A file a report was made from, as the page lists it.
public struct ReportSource: Sendable {
    public var path: String
    public var modified: Date?
    public var bytes: Int?
}

/// A self-contained report page: XHTML with inline CSS and SVG, no scripts, no fetched files,
/// light and dark colour schemes, printable.
public struct ReportPage: Sendable {
    public var title: String
    public var subtitle: String
    public var sections: [ReportSection]
    public var sources: [ReportSource]
    public var generated: Date

    public init(title: String, subtitle: String, sections: [ReportSection], sources: [ReportSource], generated: Date = Date()) {
        self.title = title
        self.subtitle = subtitle
        self.sections = sections
        self.sources = sources
        self.generated = generated
    }

    /// Every chart of the page, in order.
    public var charts: [Chart] {
        sections.flatMap { $0.items.compactMap { if case let .chart(c) = $0 { return c }; return nil } }
    }

    /// The page's style sheet: colours as variables for both schemes, print rules.
    public static let css = """
        :root { color-scheme: light dark; --bg: #ffffff; --fg: #1d2430; --muted: #5b6472; --grid: #e6e8ec; \
        --axis: #9aa1ac; --ghost: #d9dde3; --accent: #c0392b; --panel: #f6f7f9; \
        --c0: #2f6fb3; --c1: #e07b24; --c2: #2e9b5f; --c3: #8a5cc2; --c4: #c2457a; --c5: #5a8f8f; --c6: #a18f2f; --c7: #6b6b6b; }
        @media (prefers-color-scheme: dark) { :root { --bg: #15181d; --fg: #e4e7ec; --muted: #a3abb7; --grid: #2a2f37; \
        --axis: #6c7480; --ghost: #363c46; --accent: #ff6b5b; --panel: #1d2128; \
        --c0: #6aa6e8; --c1: #f39c4a; --c2: #4cc487; --c3: #b08ae6; --c4: #e879a6; --c5: #7fbcbc; --c6: #d4c05a; --c7: #a0a0a0; } }
        body { background: var(--bg); color: var(--fg); font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; \
        margin: 0 auto; max-width: 1280px; padding: 24px; }
        h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid var(--grid); }
        .subtitle, figcaption, .sources, .generated { color: var(--muted); }
        figure { display: inline-block; vertical-align: top; margin: 8px 16px 16px 0; max-width: 100%; overflow-x: auto; }
        figure h3 { font-size: 14px; margin: 0 0 4px; } figcaption { font-size: 12px; max-width: 640px; }
        .missing { background: var(--panel); border-left: 3px solid var(--accent); padding: 6px 10px; }
        table { border-collapse: collapse; margin: 8px 0 16px; font-variant-numeric: tabular-nums; }
        th, td { padding: 3px 10px; border-bottom: 1px solid var(--grid); text-align: left; } td.num { text-align: right; }
        caption { caption-side: top; text-align: left; color: var(--muted); font-size: 12px; padding-bottom: 4px; }
        svg.chart { display: block; font-size: 11px; }
        svg .tick, svg .legend-text, svg .note { fill: var(--muted); } svg .axis-title { fill: var(--fg); font-size: 12px; }
        svg .axis line { stroke: var(--axis); stroke-width: 1; } svg line.grid { stroke: var(--grid); }
        svg .ghost { fill: var(--ghost); } svg .budget { stroke: var(--accent); stroke-width: 1.5; stroke-dasharray: 5 3; }
        svg .budget-text { fill: var(--accent); } svg .selected { stroke: var(--fg); stroke-width: 1; stroke-dasharray: 2 3; }
        svg .line { fill: none; stroke-width: 2; } svg .dashed { stroke-dasharray: 6 4; }
        svg .group-line { stroke: var(--fg); stroke-width: 2; } svg .cell-text { fill: #1d2430; font-size: 10px; }
        svg .cell-text.light { fill: #ffffff; } svg .cell.missing { stroke: var(--grid); }
        svg .open { fill: var(--bg); stroke-width: 2; }
        svg .s0 { fill: var(--c0); stroke: var(--c0); } svg .s1 { fill: var(--c1); stroke: var(--c1); }
        svg .s2 { fill: var(--c2); stroke: var(--c2); } svg .s3 { fill: var(--c3); stroke: var(--c3); }
        svg .s4 { fill: var(--c4); stroke: var(--c4); } svg .s5 { fill: var(--c5); stroke: var(--c5); }
        svg .s6 { fill: var(--c6); stroke: var(--c6); } svg .s7 { fill: var(--c7); stroke: var(--c7); }
        svg rect.bar { stroke: none; } svg path.line { fill: none; }
        @media print { :root { --bg: #ffffff; --fg: #000000; } body { max-width: none; padding: 0; } \
        figure, table { break-inside: avoid; } h2 { break-after: avoid; } }
        """

    /// The page as XHTML (well-formed XML; every string from a file escaped).
    public func html() -> String {
        var m = Markup()
        m.open("html", [("xmlns", "http://www.w3.org/1999/xhtml"), ("lang", "en")])
        m.wrap("head") { m in
            m.element("meta", [("charset", "utf-8")])
            m.element("meta", [("name", "viewport"), ("content", "width=device-width, initial-scale=1")])
            m.element("title", text: title)
            m.wrap("style") { m in m.add(text: Self.css) }
        }
        m.wrap("body") { m in
            m.element("h1", text: title)
            m.element("p", [("class", "subtitle")], text: subtitle)
            for section in sections {
                m.wrap("section") { m in
                    m.element("h2", text: section.title)
                    for item in section.items { Self.render(item, into: &m) }
                }
            }
            m.wrap("section", [("class", "sources")]) { m in
                m.element("h2", text: "Where the numbers come from")
                m.element("p", text: "Every number and chart on this page was read from these files, listed with their "
                          + "modification times, when the page was generated on "
                          + Self.timestamp(generated) + ".")
                m.wrap("ul") { m in
                    for source in sources {
                        let detail = [source.modified.map { "modified " + Self.timestamp($0) },
                                      source.bytes.map { "\($0) bytes" }].compactMap { $0 }.joined(separator: ", ")
                        m.wrap("li") { m in
                            m.element("code", text: source.path)
                            m.add(text: detail.isEmpty ? "" : " — " + detail)
                        }
                    }
                }
            }
        }
        m.close("html")
        return "<!DOCTYPE html>\n" + m.text + "\n"
    }

    static func render(_ item: ReportItem, into m: inout Markup) {
        switch item {
        case let .chart(chart):
            m.wrap("figure", [("id", .text(chart.id))]) { m in
                m.element("h3", text: chart.title)
                m.add(chart.svg)
                m.element("figcaption", text: chart.caption)
            }
        case let .table(table):
            m.wrap("table") { m in
                m.element("caption", text: table.caption)
                if table.header.contains(where: { !$0.isEmpty }) {
                    m.wrap("thead") { m in m.wrap("tr") { m in for h in table.header { m.element("th", text: h) } } }
                }
                m.wrap("tbody") { m in
                    for row in table.rows {
                        m.wrap("tr") { m in
                            for cell in row {
                                m.wrap("td", cell.numeric ? [("class", "num")] : []) { m in
                                    if cell.bold { m.element("strong", text: cell.text) } else { m.add(text: cell.text) }
                                }
                            }
                        }
                    }
                }
            }
        case let .note(text): m.element("p", text: text)
        case let .missing(text): m.element("p", [("class", "missing")], text: text)
        }
    }

    /// `2026-11-30 21:04:05 UTC`.
    static func timestamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss 'UTC'"
        return formatter.string(from: date)
    }
}
