import Foundation
@testable import PFSData
import PFSTensor
import Testing

/// Streaming image folders: the index and its split, the crop transforms against naive
/// references on crafted images, batches independent of the number of workers, resuming mid-epoch,
/// a memory bound smaller than the folder, and bad files.
@Suite struct StreamingTests {
    /// A crafted planar image: sample (c, y, x) = (3x + 5y + 7c + 11) mod 256.
    static func crafted(channels: Int, height: Int, width: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: channels * height * width)
        for c in 0..<channels { for y in 0..<height { for x in 0..<width {
            out[(c * height + y) * width + x] = UInt8((3 * x + 5 * y + 7 * c + 11) % 256)
        } } }
        return out
    }

    /// Naive bilinear resize of one window of one plane, half-pixel centres, in Double.
    static func naiveResize(_ image: [UInt8], height: Int, width: Int, plane c: Int, box: CropBox,
                            outHeight: Int, outWidth: Int) -> [UInt8] {
        func at(_ y: Int, _ x: Int) -> Double { Double(image[(c * height + box.top + y) * width + box.left + x]) }
        var out: [UInt8] = []
        for oy in 0..<outHeight {
            for ox in 0..<outWidth {
                let sy = min(max((Double(oy) + 0.5) * Double(box.height) / Double(outHeight) - 0.5, 0), Double(box.height - 1))
                let sx = min(max((Double(ox) + 0.5) * Double(box.width) / Double(outWidth) - 0.5, 0), Double(box.width - 1))
                let y0 = Int(sy), x0 = Int(sx), y1 = min(y0 + 1, box.height - 1), x1 = min(x0 + 1, box.width - 1)
                let fy = sy - Double(y0), fx = sx - Double(x0)
                let top = at(y0, x0) + (at(y0, x1) - at(y0, x0)) * fx
                let bottom = at(y1, x0) + (at(y1, x1) - at(y1, x0)) * fx
                out.append(UInt8(min(max((top + (bottom - top) * fy).rounded(), 0), 255)))
            }
        }
        return out
    }

    @Test func randomResizedCropWindowsFitTheirRanges() {
        var rng = RandomGenerator(seed: 5)
        for (h, w) in [(23, 37), (300, 5), (224, 224), (1, 1), (7, 500)] {
            for _ in 0..<200 {
                let box = RandomResizedCrop.box(height: h, width: w, scale: 0.08...1, ratio: 0.75...(4.0 / 3), using: &rng)
                #expect(box.top >= 0 && box.left >= 0 && box.height >= 1 && box.width >= 1)
                #expect(box.top + box.height <= h && box.left + box.width <= w, "\(h)×\(w): \(box)")
            }
        }
        // Windows of a large image: area and aspect inside the ranges (up to rounding).
        for _ in 0..<200 {
            let box = RandomResizedCrop.box(height: 400, width: 600, scale: 0.08...1, ratio: 0.75...(4.0 / 3), using: &rng)
            let area = Double(box.height * box.width) / 240_000, aspect = Double(box.width) / Double(box.height)
            let centred = box.top == (400 - box.height) / 2 && box.left == (600 - box.width) / 2
            if !centred || area < 0.99 {
                #expect(area >= 0.075 && area <= 1.01 && aspect >= 0.74 && aspect <= 1.35, "\(box)")
            }
        }
        // No window can fit: the centred window with the aspect clamped to the range.
        var never = RandomGenerator(seed: 1)
        #expect(RandomResizedCrop.box(height: 10, width: 40, scale: 2...3, ratio: 0.75...(4.0 / 3), using: &never)
                    == CropBox(top: 0, left: 13, height: 10, width: 13))       // 10 · 4/3 = 13 wide
        #expect(RandomResizedCrop.box(height: 30, width: 20, scale: 2...3, ratio: 0.75...(4.0 / 3), using: &never)
                    == CropBox(top: 1, left: 0, height: 27, width: 20))       // 20 / 0.75 = 27 high
        // Seeded: the same draws give the same window.
        var a = RandomGenerator(seed: 9), b = RandomGenerator(seed: 9)
        #expect(RandomResizedCrop.box(height: 50, width: 70, scale: 0.08...1, ratio: 0.75...(4.0 / 3), using: &a)
                    == RandomResizedCrop.box(height: 50, width: 70, scale: 0.08...1, ratio: 0.75...(4.0 / 3), using: &b))
    }

    @Test func cropsAndResizesMatchNaiveReferencesOnCraftedImages() {
        let (h, w) = (29, 41)
        let image = Self.crafted(channels: 3, height: h, width: w)
        // The random crop: the sampled window, resized, equals the naive resize of that window.
        var rng = RandomGenerator(seed: 3)
        for _ in 0..<5 {
            var replay = rng
            let transform = StreamTransform.randomResizedCrop(size: 17, scale: 0.08...1, ratio: 0.75...(4.0 / 3), flip: true)
            let (pixels, _) = transform.apply(image, channels: 3, height: h, width: w, using: &rng)
            let box = RandomResizedCrop.box(height: h, width: w, scale: 0.08...1, ratio: 0.75...(4.0 / 3), using: &replay)
            for c in 0..<3 {
                let naive = Self.naiveResize(image, height: h, width: w, plane: c, box: box, outHeight: 17, outWidth: 17)
                #expect(Array(pixels[(c * 289)..<((c + 1) * 289)]) == naive, "plane \(c) of \(box)")
            }
        }
        // Centre crop without scaling (shorter side = resize): exactly the centre window, offsets
        // round(4.5) = 4 and round(10.5) = 10 (halves to even, as torchvision).
        var unused = RandomGenerator(seed: 0)
        let exact = StreamTransform.centreCrop(resize: 29, size: 20).apply(image, channels: 3, height: h, width: w, using: &unused)
        #expect(!exact.flip)
        for c in 0..<3 { for y in 0..<20 { for x in 0..<20 {
            #expect(exact.pixels[(c * 20 + y) * 20 + x] == image[(c * h + y + 4) * w + x + 10])
        } } }
        // With scaling: the naive resize to 22 × ⌊41·22/29⌋ = 31, then its centre 16 × 16 (offsets 3 and 8).
        let scaled = StreamTransform.centreCrop(resize: 22, size: 16).apply(image, channels: 3, height: h, width: w, using: &unused)
        for c in 0..<3 {
            let resized = Self.naiveResize(image, height: h, width: w, plane: c, box: CropBox(top: 0, left: 0, height: h, width: w),
                                           outHeight: 22, outWidth: 31)
            for y in 0..<16 { for x in 0..<16 {
                #expect(scaled.pixels[(c * 16 + y) * 16 + x] == resized[(y + 3) * 31 + x + 8])
            } }
        }
    }

    /// Writes `perClass` PNGs of assorted sizes (gray and colour) into 3 class folders.
    static func folder(_ root: String, perClass: [Int] = [9, 7, 8]) throws {
        for (c, count) in perClass.enumerated() {
            for i in 0..<count {
                let (h, w) = (12 + (i * 5) % 11, 10 + (i * 7 + c) % 13)
                let channels = i % 4 == 3 ? 1 : 3
                let pixels = (0..<(h * w * channels)).map { UInt8(truncatingIfNeeded: $0 * 31 + i * 17 + c * 101) }
                try writeFile(join(root, "class\(c)/img\(i).png"), PNGImage(width: w, height: h, channels: channels, pixels: pixels).encode())
            }
        }
    }

    static func epoch(_ loader: StreamingBatchLoader) throws -> [Batch] {
        var batches: [Batch] = []
        while let batch = try loader.next() { batches.append(batch) }
        return batches
    }

    @Test func batchesDoNotDependOnWorkersAndResumeMidEpoch() throws {
        try withTemporaryDirectory { root in
            try Self.folder(root)
            let index = try ImageFolderIndex.scan(root)
            #expect(index.classNames == ["class0", "class1", "class2"] && index.count == 24)
            #expect(index.labels == [Int](repeating: 0, count: 9) + [Int](repeating: 1, count: 7) + [Int](repeating: 2, count: 8))
            func loader(workers: Int, window: Int, start: Int = 0) throws -> StreamingBatchLoader {
                try StreamingBatchLoader(index: index, batchSize: 5, shuffle: true, transform: .randomResizedCrop(
                    size: 9, scale: 0.08...1, ratio: 0.75...(4.0 / 3), flip: true), normalization: .imageNet, seed: 4,
                    epoch: 2, workers: workers, window: window, startBatch: start)
            }
            let one = try Self.epoch(try loader(workers: 1, window: 1))
            let many = try Self.epoch(try loader(workers: 3, window: 2))
            #expect(one.count == 5 && one.last?.labels.count == 4)
            #expect(one.map { bits($0.images) } == many.map { bits($0.images) })
            #expect(one.map(\.labels) == many.map(\.labels) && one.map(\.indices) == many.map(\.indices))
            #expect(Set(one.flatMap(\.indices)) == Set(0..<24))
            let resumed = try Self.epoch(try loader(workers: 2, window: 3, start: 2))
            #expect(resumed.map { bits($0.images) } == one.dropFirst(2).map { bits($0.images) })
            // Another epoch is another order and other crops.
            let other = try Self.epoch(try StreamingBatchLoader(index: index, batchSize: 5, shuffle: true,
                                                                transform: .imageNetTraining, normalization: .imageNet,
                                                                seed: 4, epoch: 3))
            #expect(other.map(\.indices) != one.map(\.indices))
        }
    }

    @Test func memoryStaysWithinTheWindowWhateverTheFolderSize() throws {
        try withTemporaryDirectory { root in
            try Self.folder(root, perClass: [30, 30, 30])
            let index = try ImageFolderIndex.scan(root)
            let loader = try StreamingBatchLoader(index: index, batchSize: 4, shuffle: false, transform: .centreCrop(resize: 12, size: 10),
                                                  normalization: .imageNet, seed: 1, epoch: 0, workers: 3, window: 2)
            let cap = 2 * loader.batchBytes
            var images = 0
            while let batch = try loader.next() { images += batch.labels.count }
            #expect(images == 90)
            #expect(90 * 3 * 10 * 10 * MemoryLayout<Float>.stride > 5 * cap)     // the folder is far larger than the cap
            #expect(loader.peakBytesInFlight <= cap && loader.peakBytesInFlight > 0)
        }
    }

    /// Dropping a loader mid-epoch (no cancel()) stops its workers: they hold no reference to it.
    @Test func anAbandonedLoaderIsFreedAndItsWorkersStop() throws {
        try withTemporaryDirectory { root in
            try Self.folder(root, perClass: [12, 12])
            let index = try ImageFolderIndex.scan(root)
            weak var abandoned: StreamingBatchLoader?
            do {
                let loader = try StreamingBatchLoader(index: index, batchSize: 2, shuffle: true, transform: .centreCrop(resize: 10, size: 8),
                                                      normalization: .imageNet, seed: 1, epoch: 0, workers: 3, window: 1)
                abandoned = loader
                #expect(try loader.next() != nil)
            }
            #expect(abandoned == nil)
        }
    }

    @Test func aBadFileStopsTheEpochAtItsBatchNamingIt() throws {
        try withTemporaryDirectory { root in
            try Self.folder(root)
            try writeText(join(root, "class1/zz-broken.png"), "not an image")
            let index = try ImageFolderIndex.scan(root)
            let loader = try StreamingBatchLoader(index: index, batchSize: 5, shuffle: false, transform: .centreCrop(resize: 10, size: 8),
                                                  normalization: .imageNet, seed: 1, epoch: 0, workers: 2)
            let position = try #require(index.files.firstIndex { $0.hasSuffix("zz-broken.png") })
            for _ in 0..<(position / 5) { #expect(try loader.next() != nil) }
            let error = #expect(throws: DataError.self) { _ = try loader.next() }
            #expect(error?.file.hasSuffix("class1/zz-broken.png") == true && error?.field == "signature")
        }
    }

    @Test func theIndexSplitIsStratifiedLikeTheInMemorySplit() throws {
        try withTemporaryDirectory { root in
            try Self.folder(root, perClass: [10, 20, 30])
            let index = try ImageFolderIndex.scan(root)
            let (train, validation) = try index.split(validationFraction: 0.1, seed: 3)
            #expect(validation.labels.filter { $0 == 0 }.count == 1 && validation.labels.filter { $0 == 2 }.count == 3)
            #expect(Set(train.files).isDisjoint(with: validation.files) && train.count + validation.count == 60)
            let memory = try ImageFolder.load(root: root, imageSize: (height: 4, width: 4)).split(validationFraction: 0.1, seed: 3)
            #expect(memory.validation.labels == validation.labels && memory.train.labels == train.labels)
            // The train/val layout: val takes the training classes.
            try Self.folder(join(root, "layout/train"), perClass: [2, 2])
            try Self.folder(join(root, "layout/val"), perClass: [1])
            let val = try ImageFolderIndex.scan(join(root, "layout"), part: "val")
            #expect(val.classNames == ["class0", "class1"] && val.count == 1)
        }
    }
}
