import Foundation
@testable import PFSData
import Testing

/// In-memory datasets: validation of the initialiser, subsets, the seeded stratified
/// train/validation split, bilinear resizing and measured normalisation statistics.
@Suite struct ImageDatasetTests {
    /// `count` 1×1×2 images whose two bytes spell the image's index, so every image of a split
    /// can be traced back; class sizes are uneven (label = i·i mod `classes`).
    func indexedDataset(count: Int, classes: Int) throws -> ImageDataset {
        try ImageDataset(pixels: (0..<count).flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] },
                         labels: (0..<count).map { ($0 * $0) % classes }, channels: 2, height: 1, width: 1,
                         classNames: (0..<classes).map { "k\($0)" }, source: "indexed")
    }

    /// The original indices of the images of a dataset built by `indexedDataset`.
    func indices(_ data: ImageDataset) -> [Int] {
        (0..<data.count).map { Int(data.pixels[2 * $0]) << 8 | Int(data.pixels[2 * $0 + 1]) }
    }

    @Test func initialiserRefusesInconsistentData() {
        let short = #expect(throws: DataError.self) {
            _ = try ImageDataset(pixels: [1, 2, 3], labels: [0, 0], channels: 1, height: 1, width: 2,
                             classNames: ["a"], source: "mem")
        }
        #expect(short?.file == "mem" && short?.field == "pixel count" && short?.got == "3 bytes")
        let label = #expect(throws: DataError.self) {
            _ = try ImageDataset(pixels: [1, 2], labels: [0, 2], channels: 1, height: 1, width: 1,
                             classNames: ["a", "b"], source: "mem")
        }
        #expect(label == DataError(file: "mem", field: "label of image 1", expected: "0…1", got: "2"))
        #expect(throws: DataError.self) {
            _ = try ImageDataset(pixels: [], labels: [], channels: 0, height: 1, width: 1, classNames: ["a"], source: "m")
        }
        #expect(throws: DataError.self) {
            _ = try ImageDataset(pixels: [1], labels: [0], channels: 1, height: 1, width: 1, classNames: [], source: "m")
        }
    }

    @Test func subsetCopiesImagesInTheGivenOrder() throws {
        let data = try indexedDataset(count: 10, classes: 3)
        let sub = data.subset([7, 2, 2, 9])
        #expect(indices(sub) == [7, 2, 2, 9])
        #expect(sub.labels == [49 % 3, 4 % 3, 4 % 3, 81 % 3])
        #expect(sub.classNames == data.classNames && sub.channels == 2)
    }

    @Test func splitIsDeterministicDisjointAndComplete() throws {
        let data = try indexedDataset(count: 257, classes: 5)
        let a = try data.split(validationFraction: 0.2, seed: 42)
        let b = try data.split(validationFraction: 0.2, seed: 42)
        #expect(a.train.pixels == b.train.pixels && a.train.labels == b.train.labels)
        #expect(a.validation.pixels == b.validation.pixels && a.validation.labels == b.validation.labels)

        let train = indices(a.train), validation = indices(a.validation)
        #expect(Set(train).isDisjoint(with: validation))
        #expect((train + validation).sorted() == Array(0..<257))
        // Both parts keep dataset order, and labels travel with their images.
        #expect(train == train.sorted() && validation == validation.sorted())
        #expect(a.train.labels == train.map { data.labels[$0] })
        #expect(a.validation.labels == validation.map { data.labels[$0] })

        let other = try data.split(validationFraction: 0.2, seed: 43)
        #expect(indices(other.validation) != validation)
        #expect(indices(other.validation).count == validation.count)
    }

    @Test(arguments: [0.0, 0.1, 0.25, 0.5, 0.9, 1.0])
    func splitTakesTheRoundedFractionOfEveryClass(fraction: Double) throws {
        let data = try indexedDataset(count: 211, classes: 7)
        let (train, validation) = try data.split(validationFraction: fraction, seed: 7)
        let counts = data.classCounts
        #expect(counts.filter { $0 > 0 }.count >= 3)
        for c in 0..<data.classCount {
            let want = Int((fraction * Double(counts[c])).rounded(.toNearestOrAwayFromZero))
            #expect(validation.classCounts[c] == want, "class \(c) of \(counts[c]) at fraction \(fraction)")
            #expect(train.classCounts[c] == counts[c] - want)
        }
    }

    @Test func splitOfTheBundledSampleIsStratified() throws {
        let data = try DataSource.bundled.load(.train)
        let (train, validation) = try data.split(validationFraction: 0.1, seed: 0)
        #expect(validation.classCounts == [16, 15, 15, 14, 15, 13, 16, 15, 15, 16])
        #expect(train.count == 1350 && validation.count == 150)
        #expect(zip(train.classCounts, validation.classCounts).map(+) == data.classCounts)
    }

    @Test func splitRefusesFractionsOutsideZeroOne() throws {
        let data = try indexedDataset(count: 10, classes: 2)
        for bad in [-0.1, 1.5, Double.nan] {
            let error = #expect(throws: DataError.self) { _ = try data.split(validationFraction: bad, seed: 1) }
            #expect(error?.file == "indexed" && error?.field == "validation fraction")
        }
    }

    @Test func bilinearResizeUsesHalfPixelCentres() throws {
        // Upscaling 1×2 → 1×4 samples at x = −0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
        let row = try ImageDataset(pixels: [0, 100], labels: [0], channels: 1, height: 1, width: 2,
                                   classNames: ["a"], source: "m")
        #expect(row.resized(height: 1, width: 4).pixels == [0, 25, 75, 100])
        // Downscaling 1×4 → 1×2 samples at x = 0.5 and 2.5: means of pairs, halves rounded up.
        let four = try ImageDataset(pixels: [10, 20, 30, 41], labels: [0], channels: 1, height: 1, width: 4,
                                    classNames: ["a"], source: "m")
        #expect(four.resized(height: 1, width: 2).pixels == [15, 36])
        // 2×2 → 3×3: the centre is the mean of the four corners; rows and columns are not mixed up.
        let square = try ImageDataset(pixels: [0, 40, 80, 120, 1, 2, 3, 4], labels: [0], channels: 2, height: 2,
                                      width: 2, classNames: ["a"], source: "m")
        let big = square.resized(height: 3, width: 3)
        #expect(big.height == 3 && big.width == 3 && big.pixels.count == 18)
        #expect(Array(big.pixels.prefix(9)) == [0, 20, 40, 40, 60, 80, 80, 100, 120])
        // Unchanged size is the same data.
        #expect(square.resized(height: 2, width: 2).pixels == square.pixels)
    }

    @Test func measuredNormalisationIsExact() throws {
        // Channel 0 holds 0 and 255 (mean ½, std ½); channel 1 is constant (std falls back to 1).
        let data = try ImageDataset(pixels: [0, 255, 51, 51, 255, 0, 51, 51], labels: [0, 0], channels: 2,
                                    height: 1, width: 2, classNames: ["a"], source: "m")
        let n = Normalization.measured(from: data)
        #expect(n.mean == [0.5, 0.2])
        #expect(n.std == [0.5, 1])
        #expect(throws: Never.self) { try n.validate(channels: 2, file: "m") }
        let wrong = #expect(throws: DataError.self) { _ = try n.validate(channels: 3, file: "m") }
        #expect(wrong?.field == "normalisation" && wrong?.got == "2 means and 2 stds")
    }
}
