import Foundation
import PFSTraining

/// Failures of gate learning, budget search and pruning. Each names the setting or file at fault
/// and what was expected.
public enum PruningError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A setting is out of range (e.g. a budget ≤ 0).
    case setting(field: String, expected: String, got: String)
    /// The budget cannot be met: even the minimum channels per layer need more MACs.
    case infeasibleBudget(budgetMACs: Int, minimumMACs: Int, minChannels: Int)
    /// A gates file or pruned architecture does not fit what it is used with.
    case mismatch(file: String, field: String, expected: String, got: String)
    /// A pipeline directory holds a training run of another architecture (from an earlier pipeline
    /// run whose search chose other widths), which can be neither continued nor silently replaced.
    case staleRun(directory: String, detail: String)
    /// A study directory holds a run made from other inputs than the plan now asks for.
    case planConflict(run: String, field: String, recorded: String, planned: String)
    /// Training, checkpoint, data, model or engine failure underneath.
    case training(TrainingError)

    public var description: String {
        switch self {
        case let .setting(field, expected, got): return "\(field): expected \(expected), got \(got)"
        case let .infeasibleBudget(budget, minimum, minChannels):
            return "budget of \(budget) MACs is below what \(minChannels) channel(s) per layer allow "
                + "(at least \(minimum) MACs); raise the budget" + (minChannels > 1 ? " or lower --min-channels" : "")
        case let .mismatch(file, field, expected, got): return "\(file): \(field): expected \(expected), got \(got)"
        case let .staleRun(directory, detail):
            return "\(directory): holds a training run of another architecture from an earlier pipeline run "
                + "(\(detail)); remove that directory or pass another --out"
        case let .planConflict(run, field, recorded, planned):
            return "\(run): made with \(field) = \(recorded), but the plan now says \(planned); run the changed plan "
                + "into another --out, or remove \(run) (and the runs made from it) to redo it"
        case let .training(error): return error.description
        }
    }

    /// Wraps any error of the layers below.
    public init(wrapping error: any Error) {
        if let e = error as? PruningError { self = e } else { self = .training(TrainingError(wrapping: error)) }
    }
}

/// Runs `body`, turning whatever it throws into a ``PruningError``.
@inline(__always)
func attempt<T>(_ body: () throws -> T) throws(PruningError) -> T {
    do { return try body() } catch { throw PruningError(wrapping: error) }
}

/// Pretty-printed JSON with sorted keys: how every document of this module is written. Encoding
/// the module's own value types cannot fail.
func prettyJSON<T: Encodable>(_ value: T) -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    do { return try encoder.encode(value) } catch { preconditionFailure("encoding \(T.self) failed: \(error)") }
}

/// The `format` a JSON document says it is (kind and version, e.g. `pfs.gates/1`), or nil.
func documentFormat(_ data: Data) -> String? {
    struct Header: Decodable { var format: String? }
    return (try? JSONDecoder().decode(Header.self, from: data))?.format
}
