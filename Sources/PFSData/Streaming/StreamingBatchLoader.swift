import Foundation
import PFSTensor

/// Streams one epoch of batches from an ``ImageFolderIndex``: a pool of worker threads reads and
/// decodes the images of whole batches into a bounded window, so memory stays flat whatever the
/// folder's size.
///
/// **Determinism.** As ``BatchLoader``: the epoch generator `RandomGenerator(seed:
/// BatchLoader.epochSeed(seed:epoch:))` permutes the index (with `shuffle`), then draws one 64-bit
/// seed per sample in epoch order; the sample's transform (crop window, flip) uses a generator
/// seeded by it once its size is known. Batch b is a pure function of that plan, so batches are
/// bit-identical for any number of workers, window size or timing, and `startBatch` resumes an
/// epoch mid-way with exactly the batches an uninterrupted epoch would have produced next.
///
/// **Memory.** At most `window` batches are claimed and not yet taken by ``next()`` — queued or
/// being built — so batch tensors in flight never exceed `window × batchBytes` bytes
/// (``peakBytesInFlight`` records the most seen); each worker also holds one decoded image at a
/// time.
///
/// **Bad files.** A file that cannot be read or decoded (truncated, corrupt, CMYK, not an image)
/// stops the epoch: ``next()`` throws the ``DataError`` naming the file when it reaches that
/// file's batch — never a silently skipped or grey-filled image. Images are RGB (gray ones are
/// replicated, alpha dropped).
public final class StreamingBatchLoader {
    /// Batches in this epoch (from batch 0; the first returned is `startBatch`).
    public let batchCount: Int
    public let batchSize: Int
    /// Index positions in epoch order.
    public var order: [Int] { plan.order }
    /// Bytes of one full batch tensor (N × 3 × size × size Float32).
    public let batchBytes: Int

    private let plan: StreamPlan
    private let queue: StreamQueue

    /// The most bytes of batch tensors held at once so far (queued or being built).
    public var peakBytesInFlight: Int { queue.peakBytes }

    /// Plans the epoch and starts `workers` threads. Throws for a batch size below 1, fewer than 1
    /// worker or window, a transform size below 1, a `startBatch` outside the epoch, or a
    /// normalisation that is not 3 finite means and positive stds.
    public init(index: ImageFolderIndex, batchSize: Int, shuffle: Bool, transform: StreamTransform,
                normalization: Normalization, seed: UInt64, epoch: Int, dropLast: Bool = false,
                workers: Int = 2, window: Int = 4, startBatch: Int = 0) throws(DataError) {
        func check(_ ok: Bool, _ field: String, _ expected: String, _ got: Int) throws(DataError) {
            guard ok else { throw DataError(file: index.root, field: field, expected: expected, got: "\(got)") }
        }
        try check(batchSize >= 1, "batch size", "at least 1", batchSize)
        try check(workers >= 1, "decoding workers", "at least 1", workers)
        try check(window >= 1, "batches in flight", "at least 1", window)
        try check(transform.size >= 1 && transform.size <= 4096, "output size", "1 … 4096 pixels", transform.size)
        try normalization.validate(channels: 3, file: index.root)
        self.batchSize = batchSize
        batchCount = dropLast ? index.count / batchSize : (index.count + batchSize - 1) / batchSize
        try check(startBatch >= 0 && startBatch <= batchCount, "start batch", "0 … \(batchCount)", startBatch)
        batchBytes = batchSize * 3 * transform.size * transform.size * MemoryLayout<Float>.stride
        plan = StreamPlan(index: index, batchSize: batchSize, shuffle: shuffle, transform: transform,
                          normalization: normalization, seed: BatchLoader.epochSeed(seed: seed, epoch: epoch))
        queue = StreamQueue(batchCount: batchCount, window: window, batchBytes: batchBytes, start: startBatch)
        // Workers hold the plan and the queue, never the loader: dropping the loader cancels them.
        let plan = self.plan, queue = self.queue
        for w in 0..<min(workers, max(0, batchCount - startBatch)) {
            queue.workerStarted()
            let thread = Thread {
                while let b = queue.claim() {
                    queue.deliver(b, Result { () throws(DataError) -> Batch in try plan.make(b) })
                }
                queue.workerExited()
            }
            thread.name = "PFSData.StreamingBatchLoader.\(w)"
            thread.qualityOfService = .userInitiated
            thread.start()
        }
    }

    deinit { queue.cancel() }

    /// The next batch in order, nil after the last; throws the error of a file of this batch.
    public func next() throws(DataError) -> Batch? {
        try queue.take()?.get()
    }

    /// Stops the workers and waits for them to exit (at most one batch's work each).
    public func cancel() { queue.cancel() }
}

/// The window of batches between the workers and ``StreamingBatchLoader/next()``: workers claim
/// batch numbers in order while fewer than `window` are claimed and not taken; results are kept
/// by number and taken in order.
final class StreamQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private let batchCount: Int, window: Int, batchBytes: Int
    private var claimed: Int, consumed: Int
    private var ready: [Int: Result<Batch, DataError>] = [:]
    private var cancelled = false
    private var running = 0
    private var bytesInFlight = 0
    private var peak = 0

    init(batchCount: Int, window: Int, batchBytes: Int, start: Int) {
        self.batchCount = batchCount
        self.window = window
        self.batchBytes = batchBytes
        claimed = start
        consumed = start
    }

    var peakBytes: Int {
        condition.lock(); defer { condition.unlock() }
        return peak
    }

    func workerStarted() {
        condition.lock(); defer { condition.unlock() }
        running += 1
    }

    func workerExited() {
        condition.lock(); defer { condition.unlock() }
        running -= 1
        condition.broadcast()
    }

    /// Worker: the next batch number to build once the window has room; nil when done or cancelled.
    func claim() -> Int? {
        condition.lock(); defer { condition.unlock() }
        while claimed < batchCount && claimed >= consumed + window && !cancelled { condition.wait() }
        guard claimed < batchCount && !cancelled else { return nil }
        claimed += 1
        bytesInFlight += batchBytes
        peak = max(peak, bytesInFlight)
        return claimed - 1
    }

    /// Worker: hands over batch `b` (or the error of one of its files).
    func deliver(_ b: Int, _ result: Result<Batch, DataError>) {
        condition.lock(); defer { condition.unlock() }
        if !cancelled { ready[b] = result }
        condition.broadcast()
    }

    /// Consumer: the next batch in order, waiting for it; nil after the last or when cancelled.
    func take() -> Result<Batch, DataError>? {
        condition.lock(); defer { condition.unlock() }
        guard consumed < batchCount, !cancelled else { return nil }
        while ready[consumed] == nil && !cancelled { condition.wait() }
        guard let result = ready.removeValue(forKey: consumed) else { return nil }
        consumed += 1
        bytesInFlight -= batchBytes
        condition.broadcast()
        return result
    }

    /// Stops claiming, drops what is queued, and waits until every worker has exited.
    func cancel() {
        condition.lock(); defer { condition.unlock() }
        cancelled = true
        ready.removeAll()
        condition.broadcast()
        while running > 0 { condition.wait() }
    }
}

/// One epoch's plan — order and per-sample seeds — and how batch b is made from it. Immutable,
/// so every worker uses it without locks.
final class StreamPlan: @unchecked Sendable {
    let index: ImageFolderIndex
    let batchSize: Int
    let transform: StreamTransform
    let table: [Float]
    let order: [Int]
    let sampleSeeds: [UInt64]

    init(index: ImageFolderIndex, batchSize: Int, shuffle: Bool, transform: StreamTransform,
         normalization: Normalization, seed: UInt64) {
        self.index = index
        self.batchSize = batchSize
        self.transform = transform
        table = normalization.lookupTable()
        var rng = RandomGenerator(seed: seed)
        var order = Array(0..<index.count)
        if shuffle { rng.shuffle(&order) }
        self.order = order
        sampleSeeds = order.map { _ in rng.next() }
    }

    /// Batch `b`: each sample read, decoded to RGB, transformed, mirrored and normalised.
    func make(_ b: Int) throws(DataError) -> Batch {
        let start = b * batchSize, end = min(index.count, start + batchSize)
        let size = transform.size, plane = size * size
        var images = Tensor(unsafeUninitializedShape: [end - start, 3, size, size])
        let indices = Array(order[start..<end])
        for (j, k) in (start..<end).enumerated() {
            let file = index.files[order[k]]
            let image = try ImageFile.decode([UInt8](try FileIO.read(file, expected: "a PNG or JPEG image")), file: file)
            var planes = [UInt8](repeating: 0, count: 3 * image.height * image.width)
            planes.withUnsafeMutableBufferPointer { ImageFolder.planar(image, channels: 3, into: $0.baseAddress!) }
            var rng = RandomGenerator(seed: sampleSeeds[k])
            let (pixels, flip) = transform.apply(planes, channels: 3, height: image.height, width: image.width, using: &rng)
            images.withUnsafeMutableBufferPointer { out in
                let dst = out.baseAddress! + j * 3 * plane
                for c in 0..<3 {
                    let lut = c * 256
                    for y in 0..<size {
                        for x in 0..<size {
                            let sx = flip ? size - 1 - x : x
                            dst[c * plane + y * size + x] = table[lut + Int(pixels[c * plane + y * size + sx])]
                        }
                    }
                }
            }
        }
        return Batch(images: images, labels: indices.map { index.labels[$0] }, indices: indices)
    }
}
