/// Per-channel normalisation applied to pixel values scaled to [0, 1]: `(pixel/255 − mean[c]) / std[c]`.
public struct Normalization: Sendable, Codable, Equatable {
    /// Per-channel mean of pixel/255 (length C).
    public var mean: [Float]
    /// Per-channel standard deviation of pixel/255 (length C, each > 0).
    public var std: [Float]

    public init(mean: [Float], std: [Float]) {
        self.mean = mean
        self.std = std
    }

    /// The usual CIFAR-10 statistics: mean (0.4914, 0.4822, 0.4465), std (0.2023, 0.1994, 0.2010).
    public static let cifar10 = Normalization(mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.2010])
    /// ImageNet's RGB mean and std (SPEC §6), for 224-px training.
    public static let imageNet = Normalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])

    /// Mean 0, std 1: the network sees pixel/255.
    public static func identity(channels: Int) -> Normalization {
        Normalization(mean: [Float](repeating: 0, count: channels), std: [Float](repeating: 1, count: channels))
    }

    /// Mean and (population) standard deviation per channel of a dataset's pixel/255, computed
    /// exactly from integer sums. A channel with no spread, or an empty dataset, gets std 1.
    public static func measured(from dataset: ImageDataset) -> Normalization {
        let c = dataset.channels, plane = dataset.height * dataset.width
        var sums = [UInt64](repeating: 0, count: c), squares = [UInt64](repeating: 0, count: c)
        dataset.pixels.withUnsafeBufferPointer { p in
            for i in 0..<dataset.count {
                for k in 0..<c {
                    let base = p.baseAddress! + (i * c + k) * plane
                    var s: UInt64 = 0, q: UInt64 = 0
                    for j in 0..<plane {
                        let v = UInt64(base[j])
                        s &+= v
                        q &+= v * v
                    }
                    sums[k] &+= s
                    squares[k] &+= q
                }
            }
        }
        let n = Double(dataset.count * plane)
        var mean = [Float](), std = [Float]()
        for k in 0..<c {
            guard n > 0 else { mean.append(0); std.append(1); continue }
            let m = Double(sums[k]) / n
            let variance = max(0, Double(squares[k]) / n - m * m)
            let s = variance.squareRoot() / 255
            mean.append(Float(m / 255))
            std.append(s > 0 ? Float(s) : 1)
        }
        return Normalization(mean: mean, std: std)
    }

    /// Checks the statistics fit `channels` channels: equal lengths, finite means, positive
    /// finite standard deviations. `file` names the data in the error.
    public func validate(channels: Int, file: String) throws(DataError) {
        guard mean.count == channels, std.count == channels else {
            throw DataError(file: file, field: "normalisation", expected: "\(channels) means and \(channels) stds",
                            got: "\(mean.count) means and \(std.count) stds")
        }
        guard mean.allSatisfy(\.isFinite), std.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw DataError(file: file, field: "normalisation", expected: "finite means and positive, finite stds",
                            got: "mean \(mean), std \(std)")
        }
    }

    /// 256 normalised values per channel, `table[c·256 + v] = (v/255 − mean[c]) / std[c]`,
    /// computed in Double and rounded once.
    func lookupTable() -> [Float] {
        var table = [Float](repeating: 0, count: mean.count * 256)
        for c in 0..<mean.count {
            let m = Double(mean[c]), s = Double(std[c])
            for v in 0..<256 { table[c * 256 + v] = Float((Double(v) / 255 - m) / s) }
        }
        return table
    }
}

/// Training-time augmentation, the torchvision CIFAR recipe: a random crop of the original size
/// from the image zero-padded by `padding` pixels on each side (the padding is black, pixel 0,
/// before normalisation), then a horizontal flip with probability ½ when `horizontalFlip`.
public struct Augmentation: Sendable, Codable, Equatable {
    /// Zero padding in pixels on each side before the random crop (0 = no crop).
    public var padding: Int
    /// Whether to mirror left–right with probability ½.
    public var horizontalFlip: Bool

    public init(padding: Int, horizontalFlip: Bool) {
        self.padding = padding
        self.horizontalFlip = horizontalFlip
    }

    /// No augmentation (evaluation).
    public static let none = Augmentation(padding: 0, horizontalFlip: false)
    /// Random 4-pixel-padded crop and horizontal flip (CIFAR training).
    public static let cifar = Augmentation(padding: 4, horizontalFlip: true)
}
