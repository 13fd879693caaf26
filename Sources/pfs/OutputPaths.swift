import ArgumentParser
import Foundation

/// What an output option names. Commands check it in `validate()`, before any work, so that a run
/// never fails at its first save: a search given an existing directory as its gates file used to
/// learn gates for a whole epoch (two minutes on CIFAR-10) and then stop with "cannot replace: Is a
/// directory".
enum OutputPath {
    /// A file the command writes (replaced atomically); `what` says which, e.g. "a gates file (JSON)",
    /// and `name` is the usual file name, suggested when a directory is given.
    case file(_ what: String, name: String)
    /// A directory the command writes into, created if missing; `what` says which, e.g. "a run directory".
    case directory(_ what: String)

    /// Throws a `ValidationError` naming `option` and `path` when nothing of this kind can be written
    /// there: an existing directory given for a file, an existing file given for a directory, or a
    /// path under a file. `nil` (the command's default) passes.
    func check(_ path: String?, option: String = "--out") throws {
        guard let path else { return }
        guard !path.isEmpty else { throw ValidationError("\(option): expected \(expected), got an empty path") }
        switch (self, Self.kind(path)) {
        case (.file(_, let name), .directory?):
            throw ValidationError("\(option) \(path): is a directory; expected \(expected), "
                                  + "e.g. \((path as NSString).appendingPathComponent(name))")
        case (.directory, .file?):
            throw ValidationError("\(option) \(path): is a file; expected \(expected)")
        case (_, nil):
            // The nearest existing ancestor must be a directory for the path to be created in it.
            var ancestor = (path as NSString).deletingLastPathComponent
            while !ancestor.isEmpty, Self.kind(ancestor) == nil {
                let parent = (ancestor as NSString).deletingLastPathComponent
                if parent == ancestor { break }
                ancestor = parent
            }
            if !ancestor.isEmpty, Self.kind(ancestor) == .file {
                throw ValidationError("\(option) \(path): \(ancestor) is a file, so nothing can be created under it; "
                                      + "expected \(expected)")
            }
        default:
            return
        }
    }

    private var expected: String {
        switch self {
        case .file(let what, _), .directory(let what): return what
        }
    }

    private enum Kind { case file, directory }

    private static func kind(_ path: String) -> Kind? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return nil }
        return isDirectory.boolValue ? .directory : .file
    }
}
