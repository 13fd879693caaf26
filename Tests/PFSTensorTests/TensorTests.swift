import Testing
@testable import PFSTensor

@Suite struct TensorTests {
    @Test func copyOnWriteLeavesTheOriginalUntouched() throws {
        let a = try Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        var b = a
        #expect(b.sharesStorage(with: a))
        b[1, 2] = 60
        #expect(!b.sharesStorage(with: a))
        #expect(a.scalars == [1, 2, 3, 4, 5, 6])
        #expect(b.scalars == [1, 2, 3, 4, 5, 60])
    }

    @Test func reshapeSharesStorageAndChecksCount() throws {
        let a = Tensor(shape: [2, 3, 4], repeating: 1)
        let b = try a.reshaped([6, 4])
        #expect(b.sharesStorage(with: a))
        #expect(b.shape == [6, 4])
        #expect(throws: EngineError.self) { try a.reshaped([5, 5]) }
    }

    @Test func valuesCountMustMatchShape() {
        do {
            _ = try Tensor(shape: [2, 2], values: [1, 2, 3])
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("(2, 2)"))
            #expect(error.description.contains("3 elements"))
        }
    }

    @Test func storageIsAligned() {
        let t = Tensor(zeros: [3, 5, 7])
        t.withUnsafeBufferPointer { #expect(Int(bitPattern: $0.baseAddress!) % 64 == 0) }
    }

    @Test func parallelChunksCoverTheRangeOnce() {
        for count in [0, 1, 5, 128, 131] {
            for workers in 1...5 {
                var seen = [Int](repeating: 0, count: count)
                for w in 0..<workers { for i in Parallel.chunk(w, of: workers, count: count) { seen[i] += 1 } }
                #expect(seen.allSatisfy { $0 == 1 }, "count \(count) workers \(workers)")
            }
        }
    }
}

/// The recycling allocator behind tensors.
@Suite struct BufferPoolTests {
    @Test func releasedBuffersAreReusedForTheSameSize() {
        let pool = BufferPool(maximumIdleBytes: 1 << 22)
        let bytes = 300_001
        let a = pool.allocate(bytes: bytes)
        a.storeBytes(of: 7, toByteOffset: bytes - 4, as: Int32.self)   // the whole request is writable
        pool.release(a, bytes: bytes)
        #expect(pool.statistics.idleBytes >= bytes)
        let b = pool.allocate(bytes: bytes)
        #expect(b == a)
        #expect(pool.statistics.reused == 1 && pool.statistics.mapped == 1)
        #expect(Int(bitPattern: b) % 64 == 0)
        pool.release(b, bytes: bytes)
        pool.trim()
        #expect(pool.statistics.idleBytes == 0)
    }

    @Test func idleBytesStayWithinTheCapAndSmallRequestsBypassThePool() {
        let pool = BufferPool(maximumIdleBytes: 1 << 20)   // 1 MiB
        let big = 700 * 1024
        let buffers = (0..<3).map { _ in pool.allocate(bytes: big) }
        for p in buffers { pool.release(p, bytes: big) }
        #expect(pool.statistics.idleBytes == 700 * 1024)   // only the first fits under the cap
        let small = pool.allocate(bytes: 1000)
        pool.release(small, bytes: 1000)
        #expect(pool.statistics.mapped == 3 && pool.statistics.idleBytes == 700 * 1024)
        pool.trim()
    }

    @Test func tensorsOnRecycledBuffersStartFromTheirOwnValues() throws {
        for _ in 0..<3 {
            let t = Tensor(shape: [64, 1024], repeating: 2)   // 256 KiB: pooled
            #expect(t.scalars.allSatisfy { $0 == 2 })
        }
        let u = try Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        #expect(u.scalars == [1, 2, 3, 4, 5, 6])
    }
}
