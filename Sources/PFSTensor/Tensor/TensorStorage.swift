/// The heap buffer behind a ``Tensor``: `count` Float32 values, 64-byte aligned so that
/// vector loads never straddle a cache line at the start of a row.
///
/// A storage is shared by tensor copies until one of them writes (copy-on-write is driven by
/// ``Tensor`` through `isKnownUniquelyReferenced`).
public final class TensorStorage {
    public let count: Int
    public let base: UnsafeMutablePointer<Float>

    /// Allocates uninitialised storage; callers fill it.
    init(uninitializedCount count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    convenience init(repeating value: Float, count: Int) {
        self.init(uninitializedCount: count)
        base.initialize(repeating: value, count: count)
    }

    func copy() -> TensorStorage {
        let s = TensorStorage(uninitializedCount: count)
        s.base.initialize(from: base, count: count)
        return s
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }
}
