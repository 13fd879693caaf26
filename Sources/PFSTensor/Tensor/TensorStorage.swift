/// The buffer behind a ``Tensor`` (from ``BufferPool``): `count` Float32 values, 64-byte aligned so that
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
        let raw = BufferPool.shared.allocate(bytes: max(count, 1) * MemoryLayout<Float>.stride)
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

    deinit { BufferPool.shared.release(UnsafeMutableRawPointer(base), bytes: max(count, 1) * MemoryLayout<Float>.stride) }
}
