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
