/// Labelled images that a training or evaluation loop draws epochs of batches from: an
/// ``ImageDataset`` held in memory, or a ``StreamedImageFolder`` decoded from disk as it goes.
/// Whatever the source, batches are pure functions of (seed, epoch), so runs resume exactly.
public protocol ImageSource: Sendable {
    /// Images per epoch.
    var count: Int { get }
    /// Shape (C, H, W) of every batch image.
    var channels: Int { get }
    var height: Int { get }
    var width: Int { get }
    var classCount: Int { get }
    /// What the images are, for messages.
    var source: String { get }
    /// Identifies the images and labels in order; a checkpoint records it, so a run is never
    /// resumed on other data.
    var fingerprint: String { get }
    /// One epoch of batches from batch `startBatch` on (earlier ones are not made). `augment`:
    /// the source's training augmentation, else its plain (evaluation) form.
    func batches(batchSize: Int, shuffle: Bool, augment: Bool, normalization: Normalization, seed: UInt64, epoch: Int,
                 startBatch: Int) throws(DataError) -> any BatchStream
}

/// Batches of one epoch, in order.
public protocol BatchStream: AnyObject {
    /// Batches in the whole epoch (counting any skipped at the start).
    var batchCount: Int { get }
    /// The next batch, nil after the last; throws the error of an image that could not be read.
    func nextBatch() throws(DataError) -> Batch?
    /// Stops any background work; later calls return nil.
    func cancel()
}

extension ImageDataset: ImageSource {
    /// ``BatchLoader`` with the CIFAR augmentation (4-pixel padded crop, flip) when `augment`.
    public func batches(batchSize: Int, shuffle: Bool, augment: Bool, normalization: Normalization, seed: UInt64,
                        epoch: Int, startBatch: Int) throws(DataError) -> any BatchStream {
        try BatchLoader(dataset: self, batchSize: batchSize, shuffle: shuffle, augmentation: augment ? .cifar : .none,
                        normalization: normalization, seed: seed, epoch: epoch, startBatch: startBatch)
    }
}

extension BatchLoader: BatchStream {
    public func nextBatch() throws(DataError) -> Batch? { next() }
}

extension StreamingBatchLoader: BatchStream {
    public func nextBatch() throws(DataError) -> Batch? { try next() }
}

/// An image folder streamed from disk (``StreamingBatchLoader``): RGB images of
/// `transform.size` px, the training transform when augmenting and the evaluation one otherwise.
public struct StreamedImageFolder: ImageSource {
    public var index: ImageFolderIndex
    /// Used when augmenting (e.g. ``StreamTransform/imageNetTraining``).
    public var training: StreamTransform
    /// Used otherwise (e.g. ``StreamTransform/imageNetEvaluation``); same output size.
    public var evaluation: StreamTransform
    /// Decoding threads and batches in flight.
    public var workers: Int
    public var window: Int

    /// Throws unless both transforms give the same output size and workers and window are ≥ 1.
    public init(index: ImageFolderIndex, training: StreamTransform = .imageNetTraining,
                evaluation: StreamTransform = .imageNetEvaluation, workers: Int = 2, window: Int = 4) throws(DataError) {
        guard training.size == evaluation.size else {
            throw DataError(file: index.root, field: "transforms", expected: "one output size for training and evaluation",
                            got: "\(training.size) and \(evaluation.size) px")
        }
        guard workers >= 1, window >= 1 else {
            throw DataError(file: index.root, field: "decoding workers and window", expected: "at least 1 each",
                            got: "\(workers) and \(window)")
        }
        self.index = index
        self.training = training
        self.evaluation = evaluation
        self.workers = workers
        self.window = window
    }

    public var count: Int { index.count }
    public var channels: Int { 3 }
    public var height: Int { training.size }
    public var width: Int { training.size }
    public var classCount: Int { index.classNames.count }
    public var source: String { index.root }

    /// `N×3×S×S files:<FNV-1a of the paths, labels and transforms>`: the files' contents are not
    /// read (a streamed folder may be terabytes), so a file replaced in place goes unnoticed.
    public var fingerprint: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
            for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        }
        for (file, label) in zip(index.files, index.labels) { mix(file.utf8); mix("\t\(label)\n".utf8) }
        mix("\(training)|\(evaluation)".utf8)
        return "\(count)×3×\(height)×\(width) files:" + String(hash, radix: 16)
    }

    public func batches(batchSize: Int, shuffle: Bool, augment: Bool, normalization: Normalization, seed: UInt64,
                        epoch: Int, startBatch: Int) throws(DataError) -> any BatchStream {
        try StreamingBatchLoader(index: index, batchSize: batchSize, shuffle: shuffle,
                                 transform: augment ? training : evaluation, normalization: normalization, seed: seed,
                                 epoch: epoch, workers: workers, window: window, startBatch: startBatch)
    }
}
