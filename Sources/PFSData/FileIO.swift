import Foundation

/// File-system helpers that report problems as ``DataError``s naming the path.
enum FileIO {
    /// What is at `path`: `nil` when nothing, else whether it is a directory.
    static func kind(_ path: String) -> (exists: Bool, isDirectory: Bool) {
        var isDir: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
        return (exists, exists && isDir.boolValue)
    }

    /// The whole file at `path`, read once. `expected` describes the file for the error message
    /// ("a CIFAR-10 binary batch file").
    static func read(_ path: String, expected: String) throws(DataError) -> Data {
        let k = kind(path)
        guard k.exists else { throw DataError(file: path, field: "file", expected: expected, got: "no such file") }
        guard !k.isDirectory else { throw DataError(file: path, field: "file", expected: expected, got: "a directory") }
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = access(path, R_OK) != 0 ? String(cString: strerror(errno)) : "a read error"
            throw DataError(file: path, field: "file", expected: "\(expected) that can be read", got: reason)
        }
        return data
    }

    /// Names of the entries of a directory (not hidden ones), sorted; `[]` when unreadable.
    static func entries(_ directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted()
    }

    /// `directory/name`.
    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// Non-empty, trimmed lines of a text file (class-name lists).
    static func lines(_ path: String) throws(DataError) -> [String] {
        let data = try read(path, expected: "a text file of class names, one per line")
        guard let text = String(data: data, encoding: .utf8) else {
            throw DataError(file: path, field: "encoding", expected: "UTF-8 text", got: "bytes that are not UTF-8")
        }
        return text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }
}
