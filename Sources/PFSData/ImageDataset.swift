import PFSTensor

/// An in-memory labelled image set.
///
/// `pixels` holds 8-bit values in layout (N, C, H, W), row-major: image `i`, channel `c`, row `y`,
/// column `x` is at `((i·C + c)·H + y)·W + x`. `labels[i]` is in `0..<classCount` and names
/// `classNames[labels[i]]`. CIFAR-10 is (N, 3, 32, 32) with 10 classes.
public struct ImageDataset: Sendable {
    /// Pixel bytes, (N, C, H, W) row-major, 0…255.
    public var pixels: [UInt8]
    /// One class index per image, each in `0..<classCount`.
    public var labels: [Int]
    /// Channels per image (1 gray, 3 RGB).
    public let channels: Int
    /// Image height in pixels.
    public let height: Int
    /// Image width in pixels.
    public let width: Int
    /// Class names, indexed by label.
    public let classNames: [String]
    /// Where the images came from, for messages and provenance (a path, or "bundled CIFAR-10 sample").
    public let source: String

    /// Wraps pixel bytes and labels. Throws when `pixels.count ≠ labels.count · C · H · W`, when a
    /// dimension is not positive, when there are no class names, or when a label is out of range.
    public init(pixels: [UInt8], labels: [Int], channels: Int, height: Int, width: Int,
                classNames: [String], source: String) throws(DataError) {
        guard channels >= 1, height >= 1, width >= 1 else {
            throw DataError(file: source, field: "image shape (C, H, W)", expected: "positive extents",
                            got: "(\(channels), \(height), \(width))")
        }
        guard !classNames.isEmpty else {
            throw DataError(file: source, field: "class names", expected: "at least one class", got: "none")
        }
        let perImage = channels * height * width
        guard pixels.count == labels.count * perImage else {
            throw DataError(file: source, field: "pixel count",
                            expected: "\(grouped(labels.count)) images × \(channels)×\(height)×\(width) = "
                                + "\(grouped(labels.count * perImage)) bytes",
                            got: "\(grouped(pixels.count)) bytes")
        }
        let k = classNames.count
        for (i, label) in labels.enumerated() where label < 0 || label >= k {
            throw DataError(file: source, field: "label of image \(i)", expected: "0…\(k - 1)", got: "\(label)")
        }
        self.init(unchecked: pixels, labels: labels, channels: channels, height: height, width: width,
                  classNames: classNames, source: source)
    }

    /// Memberwise initialiser without validation, for code that builds consistent data itself.
    init(unchecked pixels: [UInt8], labels: [Int], channels: Int, height: Int, width: Int,
         classNames: [String], source: String) {
        self.pixels = pixels
        self.labels = labels
        self.channels = channels
        self.height = height
        self.width = width
        self.classNames = classNames
        self.source = source
    }

    /// Number of images N.
    public var count: Int { labels.count }
    /// Number of classes (the length of `classNames`).
    public var classCount: Int { classNames.count }
    /// Bytes per image, C · H · W.
    public var imageByteCount: Int { channels * height * width }

    /// Images per class, indexed by label (length `classCount`).
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: classCount)
        for label in labels { counts[label] += 1 }
        return counts
    }

    /// The images at `indices`, in that order (repeats allowed). Each index must be in `0..<count`.
    public func subset(_ indices: [Int]) -> ImageDataset {
        let n = count, size = imageByteCount
        for i in indices {
            precondition(i >= 0 && i < n, "ImageDataset.subset: index \(i) out of range 0..<\(n) (\(source))")
        }
        let out = [UInt8](unsafeUninitializedCapacity: indices.count * size) { dst, initialized in
            pixels.withUnsafeBufferPointer { src in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                for (j, i) in indices.enumerated() {
                    (d + j * size).initialize(from: s + i * size, count: size)
                }
            }
            initialized = indices.count * size
        }
        return ImageDataset(unchecked: out, labels: indices.map { labels[$0] }, channels: channels,
                            height: height, width: width, classNames: classNames, source: source)
    }

    /// Seeded, stratified split into training and validation parts.
    ///
    /// Each class `c` with `n_c` images gives `round(validationFraction · n_c)` of them (halves
    /// round away from zero) to validation, the rest to training. Within a class the choice is a
    /// Fisher–Yates shuffle of the class's images (in dataset order) drawn from one
    /// `RandomGenerator(seed:)`, classes visited in label order. Both parts keep dataset order, so
    /// the result depends only on the dataset and `seed`. Throws unless
    /// `0 ≤ validationFraction ≤ 1`.
    public func split(validationFraction: Double, seed: UInt64)
        throws(DataError) -> (train: ImageDataset, validation: ImageDataset)
    {
        guard validationFraction >= 0, validationFraction <= 1 else {
            throw DataError(file: source, field: "validation fraction", expected: "a number in [0, 1]",
                            got: "\(validationFraction)")
        }
        let parts = stratifiedSplit(labels: labels, classCount: classCount, validationFraction: validationFraction, seed: seed)
        return (subset(parts.train), subset(parts.validation))
    }

    /// This dataset's images and the images of `others`, in order. All must share C, H, W and
    /// class names; `source` describes the result.
    func concatenated(with others: [ImageDataset], source: String) -> ImageDataset {
        var pixels = self.pixels, labels = self.labels
        pixels.reserveCapacity(pixels.count + others.reduce(0) { $0 + $1.pixels.count })
        for other in others {
            precondition(other.channels == channels && other.height == height && other.width == width)
            pixels.append(contentsOf: other.pixels)
            labels.append(contentsOf: other.labels)
        }
        return ImageDataset(unchecked: pixels, labels: labels, channels: channels, height: height, width: width,
                            classNames: classNames, source: source)
    }

    /// Every image resized with bilinear interpolation (half-pixel centres, as PIL and
    /// `torch.nn.functional.interpolate(align_corners=False)` without antialiasing). Returns `self`
    /// when the size is already right.
    public func resized(height newHeight: Int, width newWidth: Int) -> ImageDataset {
        precondition(newHeight >= 1 && newWidth >= 1, "ImageDataset.resized: size must be positive")
        if newHeight == height && newWidth == width { return self }
        let inPlane = height * width, outPlane = newHeight * newWidth
        let planes = count * channels
        let out = [UInt8](unsafeUninitializedCapacity: planes * outPlane) { dst, initialized in
            pixels.withUnsafeBufferPointer { src in
                let resizer = BilinearResizer(inHeight: height, inWidth: width,
                                              outHeight: newHeight, outWidth: newWidth)
                for p in 0..<planes {
                    resizer.resize(src.baseAddress! + p * inPlane, into: dst.baseAddress! + p * outPlane)
                }
            }
            initialized = planes * outPlane
        }
        return ImageDataset(unchecked: out, labels: labels, channels: channels, height: newHeight, width: newWidth,
                            classNames: classNames, source: source)
    }
}

/// The seeded stratified split every dataset kind uses: per class (in label order) a shuffled
/// `round(fraction × members)` go to validation; both index lists ascending.
func stratifiedSplit(labels: [Int], classCount: Int, validationFraction: Double, seed: UInt64)
    -> (train: [Int], validation: [Int]) {
    var byClass = [[Int]](repeating: [], count: classCount)
    for (i, label) in labels.enumerated() { byClass[label].append(i) }
    var rng = RandomGenerator(seed: seed)
    var isValidation = [Bool](repeating: false, count: labels.count)
    for var members in byClass where !members.isEmpty {
        let take = Int((validationFraction * Double(members.count)).rounded(.toNearestOrAwayFromZero))
        rng.shuffle(&members)
        for i in members.prefix(take) { isValidation[i] = true }
    }
    var train: [Int] = [], validation: [Int] = []
    for i in labels.indices {
        if isValidation[i] { validation.append(i) } else { train.append(i) }
    }
    return (train, validation)
}

extension ImageDataset {
    /// The largest image side accepted (`--image-size`); larger sizes are refused before allocating.
    public static let maximumSide = 1 << 15

    /// Refuses, before allocating, a dataset of `count` images of C×H×W bytes that cannot be held in
    /// memory (or has a side above ``maximumSide``), naming the size and what to change.
    public static func checkFits(count: Int, channels: Int, height: Int, width: Int, source: String) throws(DataError) {
        guard height >= 1, width >= 1, height <= maximumSide, width <= maximumSide else {
            throw DataError(file: source, field: "image size", expected: "1 … \(maximumSide) pixels per side",
                            got: "\(height)×\(width) (height×width)")
        }
        let bytes = Double(count) * Double(channels) * Double(height) * Double(width)
        let available = Engine.availableMemory
        if bytes > available / 2 {
            throw DataError(file: source, field: "image size",
                            expected: "images that fit in memory (\(Engine.describeBytes(available)) available)",
                            got: "\(count) images of \(channels)×\(height)×\(width) = \(Engine.describeBytes(bytes)); "
                                + "lower --image-size")
        }
    }

    /// A fingerprint of the images and labels: `N×C×H×W` and a 64-bit FNV-1a hash of the shape,
    /// the labels and every pixel byte, e.g. `50000×3×32×32 fnv1a:8c3f…`. Two datasets with equal
    /// fingerprints hold the same images in the same order (up to hash collisions); a checkpoint
    /// records its training set's, so a run is never resumed on other data.
    public var fingerprint: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        let prime: UInt64 = 0x0000_0100_0000_01b3
        @inline(__always) func mix(_ byte: UInt8) { hash = (hash ^ UInt64(byte)) &* prime }
        for value in [labels.count, channels, height, width] + labels {
            var v = UInt64(truncatingIfNeeded: value)
            for _ in 0..<8 { mix(UInt8(truncatingIfNeeded: v)); v >>= 8 }
        }
        pixels.withUnsafeBytes { raw in
            // Eight bytes per step (little-endian words), then the tail byte by byte: this is the
            // fingerprint's own fixed definition, fast enough to run on every resume (~0.1 s for CIFAR-10).
            let n = raw.count
            var i = 0
            while i + 8 <= n {
                hash = (hash ^ UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))) &* prime
                i += 8
            }
            while i < n { mix(raw[i]); i += 1 }
        }
        return "\(labels.count)×\(channels)×\(height)×\(width) fnv1a:" + String(hash, radix: 16)
    }
}
