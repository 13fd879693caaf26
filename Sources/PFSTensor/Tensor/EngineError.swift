/// Errors raised by the engine for bad input or misuse. Every case names the layer (or kernel)
/// and states what was expected next to what was received, so a message can be acted upon
/// without a debugger.
public enum EngineError: Error, Equatable, CustomStringConvertible, Sendable {
    /// An input tensor does not have the shape the layer needs.
    case shape(layer: String, expected: String, got: [Int])
    /// A configuration value is out of range (zero stride, channels not divisible by groups, …).
    case configuration(layer: String, field: String, expected: String, got: String)
    /// `backward` was called without a preceding training-mode `forward`.
    case missingForwardCache(layer: String)
    /// Labels or other integer inputs are out of range.
    case label(layer: String, index: Int, value: Int, expected: String)

    public var description: String {
        switch self {
        case let .shape(layer, expected, got):
            return "\(layer): expected input of shape \(expected), got \(Shape.describe(got))"
        case let .configuration(layer, field, expected, got):
            return "\(layer): invalid \(field): expected \(expected), got \(got)"
        case let .missingForwardCache(layer):
            return "\(layer): backward called without a training-mode forward pass before it"
        case let .label(layer, index, value, expected):
            return "\(layer): label at index \(index) is \(value), expected \(expected)"
        }
    }
}

/// Helpers for shapes written as `[Int]` in NCHW order.
public enum Shape {
    /// `(2, 3, 32, 32)` style rendering used in error messages.
    public static func describe(_ shape: [Int]) -> String {
        "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    /// Number of elements of a shape; 1 for a scalar (empty shape).
    public static func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }
}
