import Foundation

/// One width of the network: the channel count of a named position in the architecture.
/// Prunable widths are the gate positions of SPEC §2; fixed widths (stage outputs, MobileNetV2
/// block outputs, …) are kept by pruning but still scale with the width multiplier.
public struct Width: Codable, Equatable, Sendable {
    /// Position in the template, e.g. `conv3`, `stage2.block1.conv1`, `block4.expand`.
    public var name: String
    /// Channels (≥ 1).
    public var channels: Int
    /// Whether the width has a gate and can be pruned.
    public var prunable: Bool

    public init(name: String, channels: Int, prunable: Bool) {
        self.name = name
        self.channels = channels
        self.prunable = prunable
    }
}

/// Everything needed to build a network: the argument of the generator G(·) of the paper.
///
/// `widths` lists every width the architecture's template uses, in network order and by name
/// (see ``Architecture`` and the template files for each layout). Values made by
/// ``standard(_:input:classes:widthMultiplier:)``, ``withPrunableWidths(_:)`` and
/// ``decode(_:file:)`` are valid; a value assembled by hand should be checked with ``validate()``.
/// Serialises as readable JSON (``jsonData()``).
public struct ChannelConfiguration: Codable, Equatable, Sendable {
    public var architecture: Architecture
    /// Shape (C, H, W) of one input image.
    public var input: InputShape
    /// Outputs of the classifier.
    public var classes: Int
    /// Every width the generator uses, in network order.
    public var widths: [Width]

    /// The kind and version every configuration document says it is (`"format"` in its JSON).
    public static let format = "pfs.configuration/1"
    /// Widths, input sides and classes above these are refused by ``validate()``: no real network
    /// has them, and they keep every size and MAC count far from integer overflow.
    public static let maximumChannels = 1 << 20
    public static let maximumInputSide = 1 << 15
    public static let maximumClasses = 1 << 20

    enum CodingKeys: String, CodingKey { case format, architecture, input, classes, widths }

    /// Decodes a configuration; a `format` other than ``format`` is refused (none is accepted:
    /// files of earlier versions had none).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let format = try c.decodeIfPresent(String.self, forKey: .format), format != Self.format {
            throw DecodingError.dataCorruptedError(forKey: .format, in: c,
                                                   debugDescription: "\"\(format)\" (expected \"\(Self.format)\")")
        }
        architecture = try c.decode(Architecture.self, forKey: .architecture)
        input = try c.decode(InputShape.self, forKey: .input)
        classes = try c.decode(Int.self, forKey: .classes)
        widths = try c.decode([Width].self, forKey: .widths)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.format, forKey: .format)
        try c.encode(architecture, forKey: .architecture)
        try c.encode(input, forKey: .input)
        try c.encode(classes, forKey: .classes)
        try c.encode(widths, forKey: .widths)
    }

    /// A configuration as given; not validated.
    public init(architecture: Architecture, input: InputShape, classes: Int, widths: [Width]) {
        self.architecture = architecture
        self.input = input
        self.classes = classes
        self.widths = widths
    }

    /// The standard network; `widthMultiplier` scales every width (rounded to nearest, ≥ 1) — the
    /// base-width expansion of SPEC §3 (CIFAR ResNet base 16 → 80 is multiplier 5).
    public static func standard(_ architecture: Architecture, input: InputShape = .cifar, classes: Int = 10,
                                widthMultiplier: Double = 1) throws(ModelError) -> ChannelConfiguration {
        guard widthMultiplier.isFinite && widthMultiplier > 0 else {
            throw ModelError(field: "widthMultiplier", expected: "a finite number > 0", got: "\(widthMultiplier)")
        }
        var configuration = ChannelConfiguration(architecture: architecture, input: input, classes: classes,
                                                 widths: ArchitectureLayout.of(architecture).widths)
        if widthMultiplier != 1 { configuration = configuration.scaled(by: widthMultiplier) }
        try configuration.validate()
        return configuration
    }

    /// Channel counts of the prunable widths, in order (the gates' order).
    public var prunableWidths: [Int] { widths.compactMap { $0.prunable ? $0.channels : nil } }

    /// Names of the prunable widths, in order.
    public var prunableNames: [String] { widths.compactMap { $0.prunable ? $0.name : nil } }

    /// This configuration with the prunable widths replaced by `values` (one per prunable width,
    /// in order, each ≥ 1); fixed widths are kept. Cheap enough for a budget search.
    public func withPrunableWidths(_ values: [Int]) throws(ModelError) -> ChannelConfiguration {
        let expected = widths.reduce(0) { $0 + ($1.prunable ? 1 : 0) }
        guard values.count == expected else {
            throw ModelError(field: "prunable widths",
                             expected: "\(expected) values, one per prunable width of \(architecture.rawValue)",
                             got: "\(values.count) values")
        }
        var result = self
        var next = 0
        for i in result.widths.indices where result.widths[i].prunable {
            let value = values[next]
            guard value >= 1 else {
                throw ModelError(field: Self.entry(i, widths[i].name), expected: "≥ 1 channels", got: "\(value)")
            }
            result.widths[i].channels = value
            next += 1
        }
        return result
    }

    /// Every width (prunable and fixed) × `factor`, rounded to nearest, at least 1: uniform width
    /// scaling. `factor` must be finite and > 0.
    public func scaled(by factor: Double) -> ChannelConfiguration {
        precondition(factor.isFinite && factor > 0, "width scale factor must be finite and > 0, got \(factor)")
        var result = self
        for i in result.widths.indices {
            result.widths[i].channels = max(1, Int((Double(widths[i].channels) * factor).rounded()))
        }
        return result
    }

    /// Checks that the configuration describes a network of its architecture. Refuses bad input
    /// shapes or class counts, a wrong number of widths, a wrong or misplaced name, a wrong
    /// prunable flag, widths below 1, widths the template ties (residual adds) that differ, and
    /// inputs too small for the layout. The error says which entry (index and name) and what was expected.
    public func validate() throws(ModelError) {
        guard classes >= 1 && classes <= Self.maximumClasses else {
            throw ModelError(field: "classes", expected: "1 … \(Self.maximumClasses)", got: "\(classes)")
        }
        for (field, value, limit) in [("input.channels", input.channels, Self.maximumChannels),
                                      ("input.height", input.height, Self.maximumInputSide),
                                      ("input.width", input.width, Self.maximumInputSide)] where value < 1 || value > limit {
            throw ModelError(field: field, expected: "1 … \(limit)", got: "\(value)")
        }
        let layout = ArchitectureLayout.of(architecture)
        let expected = layout.widths
        let name = architecture.rawValue
        for i in 0..<max(widths.count, expected.count) {
            guard i < widths.count else {
                throw ModelError(field: Self.entry(i, expected[i].name),
                                 expected: "an entry \"\(expected[i].name)\" (\(name) has \(expected.count) widths)",
                                 got: "no entry (the list ends after \(widths.count))")
            }
            let width = widths[i]
            guard i < expected.count else {
                throw ModelError(field: Self.entry(i, width.name),
                                 expected: "no entry (\(name) has \(expected.count) widths)",
                                 got: "\(widths.count) entries")
            }
            guard width.name == expected[i].name else {
                throw ModelError(field: Self.entry(i, width.name),
                                 expected: "the width named \"\(expected[i].name)\" at this position of \(name)",
                                 got: "\"\(width.name)\"")
            }
            guard width.prunable == expected[i].prunable else {
                throw ModelError(field: Self.entry(i, width.name) + ".prunable",
                                 expected: "\(expected[i].prunable) (\(expected[i].prunable ? "a gated" : "a fixed") width of \(name))",
                                 got: "\(width.prunable)")
            }
            guard width.channels >= 1 && width.channels <= Self.maximumChannels else {
                throw ModelError(field: Self.entry(i, width.name), expected: "1 … \(Self.maximumChannels) channels",
                                 got: "\(width.channels)")
            }
        }
        for tie in layout.ties where widths[tie.index].channels != widths[tie.sameAs].channels {
            throw ModelError(field: Self.entry(tie.index, widths[tie.index].name),
                             expected: "\(widths[tie.sameAs].channels) channels, equal to "
                                 + "\(Self.entry(tie.sameAs, widths[tie.sameAs].name)) (\(tie.reason))",
                             got: "\(widths[tie.index].channels)")
        }
        var recorder = CostRecorder(input: input)
        var reader = WidthReader(self)
        walkArchitecture(TemplateContext(architecture: architecture, input: input, classes: classes),
                         widths: &reader, visitor: &recorder)
        if let problem = recorder.problem { throw problem }
    }

    /// `widths[3] (conv4)`: how errors name an entry.
    static func entry(_ index: Int, _ name: String) -> String { "widths[\(index)] (\(name))" }

    /// Pretty-printed JSON with sorted keys.
    public func jsonData() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do { return try encoder.encode(self) } catch { preconditionFailure("encoding a configuration failed: \(error)") }
    }

    /// Decodes and validates a configuration; every error names `file`.
    public static func decode(_ data: Data, file: String) throws(ModelError) -> ChannelConfiguration {
        let configuration: ChannelConfiguration
        do {
            configuration = try JSONDecoder().decode(ChannelConfiguration.self, from: data)
        } catch let error as ModelError {
            throw error.inFile(file)
        } catch let error as DecodingError {
            throw Self.describe(error, file: file, data: data)
        } catch {
            throw ModelError(file: file, field: "(document)", expected: "a channel configuration", got: "\(error)")
        }
        do { try configuration.validate() } catch { throw error.inFile(file) }
        return configuration
    }

    /// A decoding error as a ``ModelError`` naming the JSON path (e.g. `widths[2].channels`), or for
    /// invalid JSON the line and column in `data`.
    public static func describe(_ error: DecodingError, file: String, data: Data? = nil) -> ModelError {
        func path(_ keys: [CodingKey]) -> String {
            var text = ""
            for key in keys {
                if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
            }
            return text.isEmpty ? "(document)" : text
        }
        switch error {
        case let .typeMismatch(type, context):
            return ModelError(file: file, field: path(context.codingPath), expected: "a value of type \(type)",
                              got: context.debugDescription)
        case let .valueNotFound(type, context):
            return ModelError(file: file, field: path(context.codingPath), expected: "a value of type \(type)", got: "null")
        case let .keyNotFound(key, context):
            return ModelError(file: file, field: path(context.codingPath + [key]), expected: "a value", got: "no such key")
        case let .dataCorrupted(context):
            if context.codingPath.isEmpty {
                return ModelError(file: file, field: "(document)", expected: "valid JSON",
                                  got: JSONText.syntaxError(in: data, underlying: context.underlyingError)
                                    ?? context.debugDescription)
            }
            return ModelError(file: file, field: path(context.codingPath), expected: "a valid value",
                              got: context.debugDescription)
        @unknown default:
            return ModelError(file: file, field: "(document)", expected: "a channel configuration", got: "\(error)")
        }
    }
}
