import Foundation

/// Builds XHTML/SVG markup as text. Every text node and attribute value goes through
/// ``escape(_:)``, so strings read from files (layer names, class names, paths) stay text.
public struct Markup: Sendable {
    public private(set) var text = ""

    public init() {}

    /// `&`, `<`, `>`, `"` and `'` as character references.
    public static func escape(_ string: String) -> String {
        var out = ""
        out.reserveCapacity(string.utf8.count)
        for ch in string {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                // Characters XML 1.0 does not allow (C0 controls other than tab, LF, CR) are dropped.
                if let scalar = ch.unicodeScalars.first, ch.unicodeScalars.count == 1, scalar.value < 0x20,
                   scalar != "\t", scalar != "\n", scalar != "\r" { continue }
                out.append(ch)
            }
        }
        return out
    }

    /// A number as an attribute value: at most two decimals, no trailing zeros.
    public static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        var s = String(format: "%.2f", value)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s == "-0" ? "0" : s
    }

    /// An attribute value: numbers via ``number(_:)``, anything else escaped.
    public enum Value: ExpressibleByStringLiteral, ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral, Sendable {
        case text(String)
        case number(Double)

        public init(stringLiteral value: String) { self = .text(value) }
        public init(floatLiteral value: Double) { self = .number(value) }
        public init(integerLiteral value: Int) { self = .number(Double(value)) }

        var rendered: String {
            switch self {
            case let .text(t): return Markup.escape(t)
            case let .number(n): return Markup.number(n)
            }
        }
    }

    private static func attributes(_ pairs: [(String, Value)]) -> String {
        pairs.map { " \($0.0)=\"\($0.1.rendered)\"" }.joined()
    }

    /// `<name a="…">`.
    public mutating func open(_ name: String, _ attributes: [(String, Value)] = []) {
        text += "<\(name)\(Self.attributes(attributes))>"
    }

    /// `</name>`.
    public mutating func close(_ name: String) { text += "</\(name)>" }

    /// `<name a="…">text</name>`, or `<name a="…"/>` without text.
    public mutating func element(_ name: String, _ attributes: [(String, Value)] = [], text content: String? = nil) {
        if let content {
            text += "<\(name)\(Self.attributes(attributes))>\(Self.escape(content))</\(name)>"
        } else {
            text += "<\(name)\(Self.attributes(attributes))/>"
        }
    }

    /// `<name a="…">…</name>` around what `body` adds.
    public mutating func wrap(_ name: String, _ attributes: [(String, Value)] = [], _ body: (inout Markup) -> Void) {
        open(name, attributes)
        body(&self)
        close(name)
    }

    /// Escaped text.
    public mutating func add(text content: String) { text += Self.escape(content) }

    /// Markup made elsewhere by this type (already escaped).
    public mutating func add(_ markup: Markup) { text += markup.text }
}
