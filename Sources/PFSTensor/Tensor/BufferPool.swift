#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif
import Foundation

/// Recycles the large buffers behind tensors.
///
/// A training step allocates the same activation and gradient sizes every time. Through `malloc`
/// those buffers either come from fresh pages (the kernel zeroes every page on first touch, ~10 %
/// of a ResNet-20 step) or from a heap that fragments and keeps several hundred MB more resident
/// than the live tensors need. Buffers of at least ``minimumPooledBytes`` are therefore mapped
/// directly from the OS and, when a tensor dies, kept in a free list keyed by their exact
/// (page-rounded) size for the next tensor of that size. At most ``maximumIdleBytes`` are kept
/// idle; beyond that a released buffer is unmapped at once.
public final class BufferPool: @unchecked Sendable {
    /// The pool behind every ``Tensor``.
    public static let shared = BufferPool()

    /// Requests below this many bytes go to the ordinary allocator.
    public static let minimumPooledBytes = 1 << 16
    /// Upper bound on bytes held idle (default 1 GiB, or `PFS_POOL_MB`).
    public let maximumIdleBytes: Int

    private static let page = 4096
    private let lock = NSLock()
    private var idle: [Int: [UnsafeMutableRawPointer]] = [:]
    private var idleBytesHeld = 0
    private var reused = 0, mapped = 0

    public init(maximumIdleBytes: Int? = nil) {
        if let cap = maximumIdleBytes {
            self.maximumIdleBytes = max(0, cap)
        } else if let s = ProcessInfo.processInfo.environment["PFS_POOL_MB"], let mb = Int(s), mb >= 0 {
            self.maximumIdleBytes = mb << 20
        } else {
            self.maximumIdleBytes = 1 << 30
        }
    }

    /// Bytes the pool will actually hand out for a request of `bytes` (page-rounded when pooled).
    @inline(__always)
    static func pooledSize(_ bytes: Int) -> Int? {
        bytes >= minimumPooledBytes ? (bytes + page - 1) / page * page : nil
    }

    /// A 64-byte-aligned buffer of at least `bytes` bytes, uninitialised.
    public func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        guard let size = Self.pooledSize(bytes) else {
            return UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
        }
        lock.lock()
        if let p = idle[size]?.popLast() {
            idleBytesHeld -= size
            reused += 1
            lock.unlock()
            return p
        }
        mapped += 1
        lock.unlock()
        if let p = Self.map(size) { return p }
        trim()                        // idle buffers of other sizes may be what is missing
        if let p = Self.map(size) { return p }
        Self.outOfMemory(size)
    }

    /// Ends the process with a message instead of a trap when the OS refuses memory (runs are
    /// checked against an estimate of their needs before they start, so this is rare): exit status 3.
    static func outOfMemory(_ size: Int) -> Never {
        let message = "pfs: out of memory: the system refused \(Engine.describeBytes(Double(size))) for a tensor "
            + "(\(Engine.describeBytes(Engine.availableMemory)) available); lower --batch-size or the network's widths\n"
        FileHandle.standardError.write(Data(message.utf8))
        exit(3)
    }

    /// Takes back a buffer from ``allocate(bytes:)`` of the same `bytes`.
    public func release(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        guard let size = Self.pooledSize(bytes) else { pointer.deallocate(); return }
        lock.lock()
        if idleBytesHeld + size <= maximumIdleBytes {
            idle[size, default: []].append(pointer)
            idleBytesHeld += size
            lock.unlock()
            return
        }
        lock.unlock()
        Self.unmap(pointer, size)
    }

    /// Bytes currently held idle, and how many pooled requests were served from idle buffers and
    /// from new mappings since the pool was created.
    public var statistics: (idleBytes: Int, reused: Int, mapped: Int) {
        lock.lock(); defer { lock.unlock() }
        return (idleBytesHeld, reused, mapped)
    }

    /// Unmaps every idle buffer.
    public func trim() {
        lock.lock()
        let all = idle
        idle = [:]
        idleBytesHeld = 0
        lock.unlock()
        for (size, list) in all { for p in list { Self.unmap(p, size) } }
    }

    private static func map(_ size: Int) -> UnsafeMutableRawPointer? {
        #if canImport(Glibc) || canImport(Darwin) || canImport(Musl)
        let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else { return nil }
        return p
        #else
        return UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        #endif
    }

    private static func unmap(_ p: UnsafeMutableRawPointer, _ size: Int) {
        #if canImport(Glibc) || canImport(Darwin) || canImport(Musl)
        munmap(p, size)
        #else
        p.deallocate()
        #endif
    }
}
