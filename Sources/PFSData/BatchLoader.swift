import Foundation
import PFSTensor

/// One mini-batch.
public struct Batch {
    /// Normalised images, (N, C, H, W) Float32.
    public var images: Tensor
    /// Class index of each image (length N).
    public var labels: [Int]
    /// Position of each image in the dataset (length N).
    public var indices: [Int]

    public init(images: Tensor, labels: [Int], indices: [Int]) {
        self.images = images
        self.labels = labels
        self.indices = indices
    }
}

/// Iterates one epoch of batches, produced ahead by a background thread.
///
/// **Determinism.** Everything random depends only on `(seed, epoch)`: the epoch's generator is
/// `RandomGenerator(seed: BatchLoader.epochSeed(seed:epoch:))`; with `shuffle` it first permutes
/// the dataset (Fisher–Yates, `int(below: i + 1)` for i = N−1 … 1), then draws, for each sample
/// in epoch order, the crop offsets `dy`, `dx` (`int(below: 2·padding + 1)` each, when padding > 0)
/// and the flip (`next() >> 63 == 1`, when enabled). Batches are pure functions of that plan, so
/// they are bit-identical whatever the prefetch depth, thread timing or machine.
///
/// **Threads.** With `prefetch ≥ 1` a producer thread fills a queue of at most `prefetch` ready
/// batches, so the training step rarely waits; with `prefetch == 0` batches are made on the
/// caller's thread in ``next()``. ``cancel()`` — called by `deinit`, so an abandoned loader cleans
/// up — stops the producer and waits for it to exit (at most one batch's work).
///
/// The last partial batch is kept unless `dropLast`. With `startBatch` the epoch resumes there:
/// earlier batches are not made, and the rest are the ones an uninterrupted epoch would give.
public final class BatchLoader: Sequence, IteratorProtocol {
    /// Batches in this epoch.
    public let batchCount: Int
    /// Images per batch (the last may hold fewer unless `dropLast`).
    public let batchSize: Int
    /// Dataset positions in epoch order.
    public var order: [Int] { maker.order }

    private let maker: BatchMaker
    private let prefetch: Int
    private var upcoming = 0
    let state: PrefetchState

    /// Plans the epoch and, when `prefetch ≥ 1`, starts the producer. Throws when `batchSize < 1`,
    /// `prefetch < 0`, `augmentation.padding < 0`, or the normalisation does not have one finite
    /// mean and positive std per channel.
    public init(dataset: ImageDataset, batchSize: Int, shuffle: Bool, augmentation: Augmentation,
                normalization: Normalization, seed: UInt64, epoch: Int, dropLast: Bool = false,
                prefetch: Int = 2, startBatch: Int = 0) throws(DataError) {
        guard batchSize >= 1 else {
            throw DataError(file: dataset.source, field: "batch size", expected: "at least 1", got: "\(batchSize)")
        }
        guard prefetch >= 0 else {
            throw DataError(file: dataset.source, field: "prefetch", expected: "0 or more batches", got: "\(prefetch)")
        }
        guard augmentation.padding >= 0 else {
            throw DataError(file: dataset.source, field: "augmentation padding", expected: "0 or more pixels",
                            got: "\(augmentation.padding)")
        }
        try normalization.validate(channels: dataset.channels, file: dataset.source)
        self.batchSize = batchSize
        self.prefetch = prefetch
        let n = dataset.count
        batchCount = dropLast ? n / batchSize : (n + batchSize - 1) / batchSize
        guard startBatch >= 0 && startBatch <= batchCount else {
            throw DataError(file: dataset.source, field: "start batch", expected: "0 … \(batchCount)", got: "\(startBatch)")
        }
        upcoming = startBatch
        maker = BatchMaker(dataset: dataset, batchSize: batchSize, shuffle: shuffle, augmentation: augmentation,
                           normalization: normalization, seed: Self.epochSeed(seed: seed, epoch: epoch))
        state = PrefetchState()
        if prefetch > 0 && batchCount > startBatch { startProducer() }
    }

    deinit { cancel() }

    /// The seed of epoch `epoch`'s generator: SplitMix64 finalisers mix the epoch into the seed, so
    /// nearby seeds and epochs give unrelated streams.
    public static func epochSeed(seed: UInt64, epoch: Int) -> UInt64 {
        mix(seed ^ mix(UInt64(bitPattern: Int64(epoch)) &+ 0x9E37_79B9_7F4A_7C15))
    }

    static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next batch, or nil after the last one (or after ``cancel()``).
    public func next() -> Batch? {
        guard upcoming < batchCount else { return nil }
        if prefetch == 0 {
            guard !state.isCancelled else { return nil }
            let batch = maker.make(upcoming)
            upcoming += 1
            return batch
        }
        guard let batch = state.take() else { return nil }
        upcoming += 1
        return batch
    }

    /// Stops the producer thread and waits until it has exited; later ``next()`` calls return nil.
    /// Safe to call more than once.
    public func cancel() {
        state.cancel()
    }

    private func startProducer() {
        let maker = self.maker, state = self.state, count = batchCount, depth = prefetch, first = upcoming
        state.started()
        let thread = Thread {
            for b in first..<count {
                guard state.waitForRoom(depth) else { break }
                guard state.put(maker.make(b)) else { break }
            }
            state.exited()
        }
        thread.name = "PFSData.BatchLoader"
        thread.qualityOfService = .userInitiated
        thread.start()
    }
}

/// The bounded queue between the producer thread and ``BatchLoader/next()``.
final class PrefetchState: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [Batch] = []
    private var cancelled = false
    private var running = false
    private var producerFinished = false

    /// Whether a producer thread was started and has not exited yet.
    var isProducerRunning: Bool {
        condition.lock(); defer { condition.unlock() }
        return running
    }

    var isCancelled: Bool {
        condition.lock(); defer { condition.unlock() }
        return cancelled
    }

    func started() {
        condition.lock()
        running = true
        condition.unlock()
    }

    func exited() {
        condition.lock()
        running = false
        producerFinished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Producer: waits until fewer than `depth` batches are queued; false when cancelled.
    func waitForRoom(_ depth: Int) -> Bool {
        condition.lock(); defer { condition.unlock() }
        while queue.count >= depth && !cancelled { condition.wait() }
        return !cancelled
    }

    /// Producer: queues a batch; false when cancelled.
    func put(_ batch: Batch) -> Bool {
        condition.lock(); defer { condition.unlock() }
        guard !cancelled else { return false }
        queue.append(batch)
        condition.broadcast()
        return true
    }

    /// Consumer: the oldest queued batch, waiting for the producer; nil when cancelled or when
    /// the producer has finished with nothing left.
    func take() -> Batch? {
        condition.lock(); defer { condition.unlock() }
        while queue.isEmpty && !cancelled && !producerFinished { condition.wait() }
        guard !cancelled, !queue.isEmpty else { return nil }
        let batch = queue.removeFirst()
        condition.broadcast()
        return batch
    }

    func cancel() {
        condition.lock(); defer { condition.unlock() }
        cancelled = true
        queue.removeAll()
        condition.broadcast()
        while running { condition.wait() }
    }
}

/// Turns the epoch plan into batches: gathers, crops, flips and normalises images. Immutable
/// after init, so the producer thread can use it without locks.
final class BatchMaker: @unchecked Sendable {
    let dataset: ImageDataset
    let batchSize: Int
    let padding: Int
    let order: [Int]
    let offsetY: [Int], offsetX: [Int]
    let flip: [Bool]
    let table: [Float]

    init(dataset: ImageDataset, batchSize: Int, shuffle: Bool, augmentation: Augmentation,
         normalization: Normalization, seed: UInt64) {
        self.dataset = dataset
        self.batchSize = batchSize
        padding = augmentation.padding
        let n = dataset.count
        var rng = RandomGenerator(seed: seed)
        var order = Array(0..<n)
        if shuffle { rng.shuffle(&order) }
        self.order = order
        var oy = [Int](repeating: padding, count: n), ox = [Int](repeating: padding, count: n)
        var flips = [Bool](repeating: false, count: n)
        for k in 0..<n {
            if padding > 0 {
                oy[k] = rng.int(below: 2 * padding + 1)
                ox[k] = rng.int(below: 2 * padding + 1)
            }
            if augmentation.horizontalFlip { flips[k] = rng.next() >> 63 == 1 }
        }
        offsetY = oy
        offsetX = ox
        flip = flips
        table = normalization.lookupTable()
    }

    /// Batch `b` of the epoch.
    func make(_ b: Int) -> Batch {
        let start = b * batchSize, end = min(dataset.count, start + batchSize)
        let count = end - start
        let c = dataset.channels, h = dataset.height, w = dataset.width
        let plane = h * w, perImage = c * plane
        var images = Tensor(unsafeUninitializedShape: [count, c, h, w])
        let indices = Array(order[start..<end])
        images.withUnsafeMutableBufferPointer { out in
            dataset.pixels.withUnsafeBufferPointer { px in
                table.withUnsafeBufferPointer { lut in
                    let dst = out.baseAddress!, src = px.baseAddress!, lutBase = lut.baseAddress!
                    for j in 0..<count {
                        let k = start + j
                        Self.transform(src + order[k] * perImage, into: dst + j * perImage, channels: c,
                                       height: h, width: w, padding: padding, dy: offsetY[k], dx: offsetX[k],
                                       flip: flip[k], table: lutBase)
                    }
                }
            }
        }
        return Batch(images: images, labels: indices.map { dataset.labels[$0] }, indices: indices)
    }

    /// Writes one image (C, H, W bytes at `src`) as normalised floats: the H×W window at offset
    /// (dy, dx) of the image zero-padded by `padding`, mirrored when `flip`. Pixels from the
    /// padding get the normalised value of 0.
    @inline(__always)
    static func transform(_ src: UnsafePointer<UInt8>, into dst: UnsafeMutablePointer<Float>, channels: Int,
                          height h: Int, width w: Int, padding p: Int, dy: Int, dx: Int, flip: Bool,
                          table: UnsafePointer<Float>) {
        let plane = h * w
        let off = dx - p
        // Output columns lo..<hi read source columns inside the image. When the padding exceeds
        // the width the window can miss the image entirely: lo is clamped to w, so every column
        // is padding (and no loop runs past the row).
        let lo = min(w, flip ? max(0, off) : max(0, -off))
        let hi = max(lo, flip ? min(w, w + off) : min(w, w - off))
        for c in 0..<channels {
            let lut = table + c * 256
            let zero = lut[0]
            let inPlane = src + c * plane, outPlane = dst + c * plane
            for y in 0..<h {
                let row = outPlane + y * w
                let sy = y + dy - p
                guard sy >= 0 && sy < h else {
                    row.update(repeating: zero, count: w)
                    continue
                }
                let srcRow = inPlane + sy * w
                for x in 0..<lo { row[x] = zero }
                if flip {
                    let base = srcRow + (w - 1 + off)
                    for x in lo..<hi { row[x] = lut[Int(base[-x])] }
                } else {
                    let base = srcRow + off
                    for x in lo..<hi { row[x] = lut[Int(base[x])] }
                }
                for x in hi..<w { row[x] = zero }
            }
        }
    }
}
