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
    public let order: [Int]
    /// Bytes of one full batch tensor (N × 3 × size × size Float32).
    public let batchBytes: Int

    private let index: ImageFolderIndex
    private let transform: StreamTransform
    private let table: [Float]
    private let sampleSeeds: [UInt64]
    private let window: Int
    private let condition = NSCondition()
    private var claimed: Int
    private var consumed: Int
    private var ready: [Int: Result<Batch, DataError>] = [:]
    private var cancelled = false
    private var running = 0
    private var bytesInFlight = 0
    private var peak = 0

    /// The most bytes of batch tensors held at once so far (queued or being built).
    public var peakBytesInFlight: Int {
        condition.lock(); defer { condition.unlock() }
        return peak
    }

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
        self.index = index
        self.batchSize = batchSize
        self.transform = transform
        self.window = window
        table = normalization.lookupTable()
        batchCount = dropLast ? index.count / batchSize : (index.count + batchSize - 1) / batchSize
        try check(startBatch >= 0 && startBatch <= batchCount, "start batch", "0 … \(batchCount)", startBatch)
        batchBytes = batchSize * 3 * transform.size * transform.size * MemoryLayout<Float>.stride
        var rng = RandomGenerator(seed: BatchLoader.epochSeed(seed: seed, epoch: epoch))
        var order = Array(0..<index.count)
        if shuffle { fisherYatesShuffle(&order, using: &rng) }
        self.order = order
        sampleSeeds = order.map { _ in rng.next() }
        claimed = startBatch
        consumed = startBatch
        for w in 0..<min(workers, max(0, batchCount - startBatch)) { startWorker(w) }
    }

    deinit { cancel() }

    /// The next batch in order, nil after the last; throws the error of a file of this batch.
    public func next() throws(DataError) -> Batch? {
        condition.lock(); defer { condition.unlock() }
        guard consumed < batchCount, !cancelled else { return nil }
        while ready[consumed] == nil && !cancelled { condition.wait() }
        guard let result = ready.removeValue(forKey: consumed) else { return nil }
        consumed += 1
        bytesInFlight -= batchBytes
        condition.broadcast()
        return try result.get()
    }

    /// Stops the workers and waits for them to exit (at most one batch's work each).
    public func cancel() {
        condition.lock(); defer { condition.unlock() }
        cancelled = true
        ready.removeAll()
        condition.broadcast()
        while running > 0 { condition.wait() }
    }

    private func startWorker(_ number: Int) {
        running += 1
        let thread = Thread { [unowned self] in self.work() }
        thread.name = "PFSData.StreamingBatchLoader.\(number)"
        thread.qualityOfService = .userInitiated
        thread.start()
    }

    /// Claims batches in order while the window has room, builds them, hands them over.
    private func work() {
        while true {
            condition.lock()
            while claimed < batchCount && claimed >= consumed + window && !cancelled { condition.wait() }
            guard claimed < batchCount && !cancelled else {
                running -= 1
                condition.broadcast()
                condition.unlock()
                return
            }
            let b = claimed
            claimed += 1
            bytesInFlight += batchBytes
            peak = max(peak, bytesInFlight)
            condition.unlock()
            let result: Result<Batch, DataError>
            do { result = .success(try make(b)) } catch { result = .failure(error) }
            condition.lock()
            if !cancelled { ready[b] = result }
            condition.broadcast()
            condition.unlock()
        }
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
