/// Bad data: names the file, the field and what was expected next to what was found, so a
/// message can be acted upon without a debugger, e.g.
/// `data/train.bin: size: expected a multiple of the record size 3,073 bytes, got 3,072 bytes`.
public struct DataError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file or directory at fault (a path, or a description such as "bundled CIFAR-10 sample").
    public let file: String
    /// The part of it that is wrong ("size", "label of record 17", "IHDR bit depth", …).
    public let field: String
    /// What a well-formed input has there.
    public let expected: String
    /// What was found instead.
    public let got: String

    public init(file: String, field: String, expected: String, got: String) {
        self.file = file
        self.field = field
        self.expected = expected
        self.got = got
    }

    /// `"<file>: <field>: expected <expected>, got <got>"`.
    public var description: String { "\(file): \(field): expected \(expected), got \(got)" }
}

/// Formats counts with thousands separators ("30,730,000") for messages, the same everywhere.
@usableFromInline func grouped(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return n < 0 ? "-" + out : out
}
