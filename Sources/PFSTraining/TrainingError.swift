import PFSData
import PFSModels
import PFSTensor

/// Failures of training, evaluation and checkpoint I/O. Every case names the file or setting at
/// fault and what was expected, so the message alone tells the user what to fix.
public enum TrainingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A file could not be read or written (missing, permission, disk full…).
    case io(file: String, action: String, reason: String)
    /// A file was read but its content is not what it should be.
    case format(file: String, field: String, expected: String, got: String)
    /// A setting of the recipe is out of range.
    case setting(field: String, expected: String, got: String)
    /// A checkpoint does not fit the network or run it is being loaded into.
    case mismatch(file: String, field: String, expected: String, got: String)
    /// A numerical failure during training (e.g. the loss became NaN).
    case diverged(epoch: Int, step: Int, detail: String)
    /// An engine error, passed through.
    case engine(EngineError)
    /// A data error (missing or malformed dataset), passed through.
    case data(DataError)
    /// A model error (invalid configuration), passed through.
    case model(ModelError)
    /// The run was interrupted (SIGINT/SIGTERM) after saving a checkpoint at `file`.
    case interrupted(file: String)
    /// Another run holds the directory (``RunDirectoryLock``); `holder` says which.
    case locked(directory: String, holder: String)
    /// Weights, statistics or outputs that are NaN or infinite.
    case nonFinite(what: String, detail: String)
    /// The run would need more memory than the machine has.
    case memory(what: String, needed: Double, available: Double, remedy: String)

    public var description: String {
        switch self {
        case let .io(file, action, reason): return "\(file): cannot \(action): \(reason)"
        case let .format(file, field, expected, got): return "\(file): \(field): expected \(expected), got \(got)"
        case let .setting(field, expected, got): return "\(field): expected \(expected), got \(got)"
        case let .mismatch(file, field, expected, got):
            return "\(file): \(field) does not match: expected \(expected), got \(got)"
        case let .diverged(epoch, step, detail): return "training diverged at epoch \(epoch), step \(step): \(detail)"
        case let .engine(error): return error.description
        case let .data(error): return error.description
        case let .model(error): return error.description
        case let .interrupted(file): return "interrupted; progress saved in \(file)"
        case let .locked(directory, holder):
            return "\(directory) is in use by another pfs run (\(holder)); wait for it to finish, or pass another --out"
        case let .nonFinite(what, detail): return "\(what): expected finite values, got \(detail)"
        case let .memory(what, needed, available, remedy):
            return "\(what) needs about \(MemoryEstimate.describe(needed)) of memory, this machine has "
                + "\(MemoryEstimate.describe(available)) available; \(remedy)"
        }
    }

    /// Refuses a run whose ``MemoryEstimate`` exceeds the memory available.
    public static func checkMemory(_ estimate: MemoryEstimate, what: String, remedy: String) throws(TrainingError) {
        let available = MemoryEstimate.availableBytes
        if estimate.totalBytes > available {
            throw .memory(what: what, needed: estimate.totalBytes, available: available, remedy: remedy)
        }
    }

    /// Wraps an error of any layer of the product: training errors stay as they are, engine, data
    /// and model errors become their cases, anything else an I/O error with its description.
    public init(wrapping error: any Error) {
        switch error {
        case let e as TrainingError: self = e
        case let e as EngineError: self = .engine(e)
        case let e as DataError: self = .data(e)
        case let e as ModelError: self = .model(e)
        default: self = .io(file: "-", action: "complete the operation", reason: "\(error)")
        }
    }
}
