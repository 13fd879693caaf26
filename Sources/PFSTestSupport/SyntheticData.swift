import PFSData
import PFSTensor

/// Small, learnable datasets for tests that must not depend on files.
public enum SyntheticData {
    /// `count` images of C×H×W bytes in `classes` classes: each class has its own mean colour per
    /// channel plus seeded noise, so a network can learn it. Labels cycle 0, 1, …, classes − 1.
    public static func dataset(count: Int, classes: Int = 4, channels: Int = 3, height: Int = 8, width: Int = 8,
                               seed: UInt64 = 7) -> ImageDataset {
        var rng = RandomGenerator(seed: seed)
        let perImage = channels * height * width
        var pixels = [UInt8](repeating: 0, count: count * perImage)
        var labels = [Int](repeating: 0, count: count)
        for i in 0..<count {
            let label = i % classes
            labels[i] = label
            for c in 0..<channels {
                let mean = 40 + ((label * 53 + c * 97) % 176)
                for p in 0..<(height * width) {
                    let noise = rng.int(below: 61) - 30
                    pixels[i * perImage + c * height * width + p] = UInt8(max(0, min(255, mean + noise)))
                }
            }
        }
        // swiftlint:disable:next force_try
        return try! ImageDataset(pixels: pixels, labels: labels, channels: channels, height: height, width: width,
                                 classNames: (0..<classes).map { "class\($0)" }, source: "synthetic")
    }
}
