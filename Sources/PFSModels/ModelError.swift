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
