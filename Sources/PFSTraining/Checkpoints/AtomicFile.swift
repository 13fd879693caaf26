import Foundation

/// Writes files so that a reader (or a crash) sees either the old complete file or the new
/// complete file, never a torn one: the bytes go to a temporary file in the same directory, are
/// flushed to disk, and the temporary file is renamed over the destination (rename is atomic
/// within a file system on POSIX).
public enum AtomicFile {
    /// Atomically replaces (or creates) `path` with `data`, creating parent directories.
    public static func write(_ data: Data, to path: String) throws(TrainingError) {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        try FileIOErrors.createDirectory(directory)
        let temporary = directory + "/." + url.lastPathComponent + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw .io(file: temporary, action: "create", reason: String(cString: strerror(errno))) }
        var failure: String?
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno)); return
                }
                offset += n
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        close(fd)
        if let failure {
            unlink(temporary)
            throw .io(file: path, action: "write", reason: failure)
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw .io(file: path, action: "replace", reason: reason)
        }
        // Make the rename itself durable.
        let dirFD = open(directory, O_RDONLY)
        if dirFD >= 0 { fsync(dirFD); close(dirFD) }
    }

    /// Reads a whole file, with an error that names it.
    public static func read(_ path: String) throws(TrainingError) -> Data {
        guard FileManager.default.fileExists(atPath: path) else {
            throw .io(file: path, action: "read", reason: "no such file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = access(path, R_OK) != 0 ? String(cString: strerror(errno)) : "not a readable file"
            throw .io(file: path, action: "read", reason: reason)
        }
        return data
    }
}
