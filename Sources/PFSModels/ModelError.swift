/// A configuration (or configuration file) that cannot describe a network.
///
/// `field` says where the problem is — for a width its index and name, e.g. `widths[3] (conv4)` —
/// and `expected`/`got` what would have been accepted next to what was found. `file` is set when
/// the configuration was read from a file.
public struct ModelError: Error, Equatable, Sendable, CustomStringConvertible {
    public let file: String?
    public let field: String
    public let expected: String
    public let got: String

    public init(file: String? = nil, field: String, expected: String, got: String) {
        self.file = file
        self.field = field
        self.expected = expected
        self.got = got
    }

    /// `resnet20.json: widths[3] (stage1.block3.conv1): expected ≥ 1 channels, got 0`.
    public var description: String {
        (file.map { "\($0): " } ?? "") + "\(field): expected \(expected), got \(got)"
    }

    /// The same error attributed to `file`.
    func inFile(_ file: String) -> ModelError {
        ModelError(file: file, field: field, expected: expected, got: got)
    }
}

import Foundation

/// Wording of JSON errors: for a syntax error, the line and column (1-based) and the parser's
/// reason; for a decoding error, the path of the field (e.g. `widths[2].channels`) and what was wrong.
public enum JSONText {
    public static func describe(_ error: Error, in data: Data?) -> String {
        if let decoding = error as? DecodingError {
            let e = ChannelConfiguration.describe(decoding, file: "", data: data)
            return e.field == "(document)" ? e.got : "\(e.field): \(e.got)"
        }
        let reason = message(error)
        guard let data, let offset = characterOffset(in: reason) else { return reason }
        return location(offset, in: data) + ": " + reason
    }

    /// Where and why `data` is not valid JSON (the line and column of the first error), or nil when
    /// it parses. `underlying` is a decoder's error to describe when the document has no position.
    public static func syntaxError(in data: Data?, underlying: Error?) -> String? {
        if let data {
            do { _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
                return describe(error, in: data)
            }
        }
        return underlying.map { describe($0, in: data) }
    }

    /// The parser's own message of `error` (Foundation puts it in the debug description).
    static func message(_ error: Error) -> String {
        let ns = error as NSError
        if let detail = ns.userInfo[NSDebugDescriptionErrorKey] as? String { return detail }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError,
           let detail = underlying.userInfo[NSDebugDescriptionErrorKey] as? String { return detail }
        return "\(error)"
    }

    /// N of "… around character N …" / "… around line L, column C …" messages: the offset in
    /// characters (UTF-8 bytes for ASCII documents).
    static func characterOffset(in message: String) -> Int? {
        guard let range = message.range(of: "character ") else { return nil }
        let digits = message[range.upperBound...].prefix { $0.isNumber }
        return Int(digits)
    }

    /// `line 3, column 14` of a byte offset.
    public static func location(_ offset: Int, in data: Data) -> String {
        var line = 1, column = 1
        for (i, byte) in data.enumerated() {
            if i >= offset { break }
            if byte == 0x0A { line += 1; column = 1 } else if byte & 0xC0 != 0x80 { column += 1 }
        }
        return "line \(line), column \(column)"
    }
}
