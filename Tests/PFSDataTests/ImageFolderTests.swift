import Foundation
@testable import PFSData
import Testing

/// Image folders (`root/CLASS/*.png`): sorted classes, labels, pixel layout, gray/colour/alpha
/// mixing, resizing, and errors that name the folder or file at fault.
@Suite struct ImageFolderTests {
    /// A `width`×`height` image of `channels` channels whose samples follow a pattern in 1…255.
    func patterned(width: Int, height: Int, channels: Int, seed: Int) -> PNGImage {
        let n = width * height * channels
        return PNGImage(width: width, height: height, channels: channels,
                        pixels: (0..<n).map { UInt8(1 + ($0 * 13 + seed * 29) % 255) })
    }

    /// A uniform image: every pixel is `value`.
    func uniform(width: Int, height: Int, _ value: [UInt8]) -> PNGImage {
        PNGImage(width: width, height: height, channels: value.count,
                 pixels: Array((0..<(width * height)).map { _ in value }.joined()))
    }

    func write(_ image: PNGImage, _ path: String) throws { try writeFile(path, image.encode()) }

    /// The (C, H, W) planes of an interleaved image, alpha dropped.
    func planes(_ image: PNGImage, channels: Int) -> [UInt8] {
        (0..<channels).flatMap { c in (0..<(image.width * image.height)).map { image.pixels[$0 * image.channels + c] } }
    }

    @Test func mixedSizesAndColourTypesLoadWithAnImageSize() throws {
        try withTemporaryDirectory { root in
            let a = patterned(width: 5, height: 4, channels: 3, seed: 1)
            let d = patterned(width: 5, height: 4, channels: 3, seed: 2)
            try write(a, join(root, "cat/a.png"))
            try write(uniform(width: 7, height: 3, [10, 20, 30, 40]), join(root, "cat/b.PNG"))
            try write(uniform(width: 4, height: 6, [77]), join(root, "ant/c.png"))
            try write(d, join(root, "dog/d.png"))
            try writeText(join(root, "dog/notes.txt"), "ignored")
            try writeText(join(root, "dog/.hidden.png"), "hidden files are skipped")
            try writeText(join(root, "README"), "a file beside the class folders is not a class")

            #expect(try ImageFolder.classFolders(in: root) == ["ant", "cat", "dog"])
            let data = try ImageFolder.load(root: root, imageSize: (height: 4, width: 5))
            #expect(data.classNames == ["ant", "cat", "dog"])
            #expect(data.labels == [0, 1, 1, 2])
            #expect(data.channels == 3 && data.height == 4 && data.width == 5)
            #expect(data.source == root)
            let size = 3 * 4 * 5
            func image(_ i: Int) -> [UInt8] { Array(data.pixels[(i * size)..<((i + 1) * size)]) }
            // The gray image is replicated to 3 channels; resizing a uniform image keeps its value.
            #expect(image(0) == [UInt8](repeating: 77, count: size))
            #expect(image(1) == planes(a, channels: 3))
            // Alpha is dropped.
            #expect(image(2) == [UInt8](repeating: 10, count: 20) + [UInt8](repeating: 20, count: 20)
                    + [UInt8](repeating: 30, count: 20))
            #expect(image(3) == planes(d, channels: 3))
        }
    }

    @Test func grayImagesOfOneSizeStayOneChannel() throws {
        try withTemporaryDirectory { root in
            let images = (0..<3).map { patterned(width: 3, height: 5, channels: 1, seed: $0) }
            try write(images[0], join(root, "b/x1.png"))
            try write(images[1], join(root, "b/x0.png"))
            try write(images[2], join(root, "a/z.png"))
            // Gray+alpha counts as gray; its alpha is dropped.
            let withAlpha = patterned(width: 3, height: 5, channels: 2, seed: 9)
            try write(withAlpha, join(root, "c/w.png"))
            let data = try ImageFolder.load(root: root)
            #expect(data.channels == 1 && data.height == 5 && data.width == 3)
            #expect(data.labels == [0, 1, 1, 2])
            // Files in name order within a class: a/z, b/x0, b/x1, c/w.
            #expect(data.pixels == images[2].pixels + images[1].pixels + images[0].pixels
                    + planes(withAlpha, channels: 1))
        }
    }

    @Test func differentSizesWithoutAnImageSizeNameTheOddFile() throws {
        try withTemporaryDirectory { root in
            try write(uniform(width: 4, height: 4, [1, 2, 3]), join(root, "a/1.png"))
            try write(uniform(width: 4, height: 5, [1, 2, 3]), join(root, "a/2.png"))
            let error = #expect(throws: DataError.self) { _ = try ImageFolder.load(root: root) }
            #expect(error?.file == join(root, "a/2.png"))
            #expect(error?.field == "image size" && error?.got == "4×5")
            #expect(error?.expected.contains(join(root, "a/1.png")) == true)
        }
    }

    @Test func emptyFoldersAreRefused() throws {
        try withTemporaryDirectory { root in
            let noClasses = #expect(throws: DataError.self) { _ = try ImageFolder.load(root: root) }
            #expect(noClasses == DataError(file: root, field: "class folders",
                                           expected: "one sub-folder of images (.png, .jpg) per class", got: "no sub-folders"))

            try write(uniform(width: 2, height: 2, [9]), join(root, "full/a.png"))
            try makeDirectory(join(root, "empty"))
            try writeText(join(root, "other/readme.txt"), "no images here")
            let emptyClass = #expect(throws: DataError.self) { _ = try ImageFolder.load(root: root) }
            #expect(emptyClass?.file == join(root, "empty"))
            #expect(emptyClass?.field == "images" && emptyClass?.got == "none")

            let missing = #expect(throws: DataError.self) { _ = try ImageFolder.load(root: join(root, "nope")) }
            #expect(missing?.file == join(root, "nope") && missing?.got == "nothing at that path")
            let file = #expect(throws: DataError.self) { _ = try ImageFolder.load(root: join(root, "full/a.png")) }
            #expect(file?.got == "a file")

            let badSize = #expect(throws: DataError.self) {
                _ = try ImageFolder.load(root: root, imageSize: (height: 0, width: 3))
            }
            #expect(badSize?.field == "image size")
        }
    }

    @Test func corruptOrNonPNGFileIsNamed() throws {
        try withTemporaryDirectory { root in
            try write(uniform(width: 3, height: 3, [1, 2, 3]), join(root, "a/good.png"))
            try writeText(join(root, "b/fake.png"), "GIF89a this is not a PNG at all")
            let fake = #expect(throws: DataError.self) { _ = try ImageFolder.load(root: root) }
            #expect(fake?.file == join(root, "b/fake.png"))
            #expect(fake?.field == "signature")

            var truncated = uniform(width: 3, height: 3, [1, 2, 3]).encode()
            truncated.removeLast(20)
            try FileManager.default.removeItem(atPath: join(root, "b/fake.png"))
            try writeFile(join(root, "b/cut.png"), truncated)
            let cut = #expect(throws: DataError.self) { _ = try ImageFolder.load(root: root, imageSize: (8, 8)) }
            #expect(cut?.file == join(root, "b/cut.png"))
            #expect(cut?.got.contains("truncated") == true)
        }
    }
}
