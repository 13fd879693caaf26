import Foundation

/// An exclusive lock on a run directory, so that two runs never write into one directory.
///
/// The lock is `flock(2)` on `DIR/.pfs-lock`, held from ``acquire(_:)`` until the lock is
/// released or the process ends — also by a crash or `kill -9`, which the kernel cleans up, so a
/// lock of a dead process never blocks. The file names the holder (pid, command, start time) for
/// the message a second run gets. Once the lock is held, temporary files that interrupted atomic
/// writes left in the directory (`.NAME.tmp-PID`, see ``AtomicFile``) are removed.
public final class RunDirectoryLock {
    public static let fileName = ".pfs-lock"
    public let directory: String
    private var descriptor: Int32

    private init(directory: String, descriptor: Int32) {
        self.directory = directory
        self.descriptor = descriptor
    }

    deinit { release() }

    /// Takes the lock of `directory` (created if needed), or throws
    /// ``TrainingError/locked(directory:holder:)`` naming the run that holds it.
    public static func acquire(_ directory: String) throws(TrainingError) -> RunDirectoryLock {
        try FileIOErrors.createDirectory(directory)
        let file = (directory as NSString).appendingPathComponent(fileName)
        let fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(file: file, action: "open the run lock", reason: String(cString: strerror(errno))) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let reason = errno
            var holder = "another process"
            var buffer = [UInt8](repeating: 0, count: 512)
            let n = pread(fd, &buffer, buffer.count, 0)
            if n > 0 { holder = String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
            close(fd)
            if reason == EWOULDBLOCK { throw .locked(directory: directory, holder: holder) }
            throw .io(file: file, action: "lock", reason: String(cString: strerror(reason)))
        }
        let text = "pid \(getpid()), started \(ISO8601DateFormatter().string(from: Date())): "
            + CommandLine.arguments.joined(separator: " ") + "\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        let lock = RunDirectoryLock(directory: directory, descriptor: fd)
        removeInterruptedWrites(in: directory)
        return lock
    }

    /// Releases the lock (also done when the lock is deallocated or the process ends).
    public func release() {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    /// Removes `.NAME.tmp-PID` files of other processes: with the lock held nobody else writes
    /// here, so they are what interrupted atomic writes left behind.
    static func removeInterruptedWrites(in directory: String) {
        let mine = ".tmp-\(getpid())"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        where name.hasPrefix(".") && name.contains(".tmp-") && !name.hasSuffix(mine) {
            unlink((directory as NSString).appendingPathComponent(name))
        }
    }
}

/// File-system operations whose errors name the path and the system's reason.
public enum FileIOErrors {
    /// `mkdir -p` with an error that says which component failed and why.
    public static func createDirectory(_ path: String) throws(TrainingError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw .io(file: path, action: "create the directory", reason: "a file of that name exists")
            }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != path { try createDirectory(parent) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw .io(file: path, action: "create the directory", reason: String(cString: strerror(errno)))
        }
    }
}
