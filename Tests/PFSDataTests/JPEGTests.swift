import Foundation
@testable import PFSData
import Testing

/// JPEG decoding through TurboJPEG against Pillow's decode of the same files (Fixtures/jpeg,
/// written by Fixtures/make_jpeg_fixtures.py; each `NAME.png` is Pillow's decode of `NAME.jpg`,
/// saved losslessly), and the refusals: CMYK, truncated data, non-JPEG bytes.
///
/// Without libturbojpeg these tests check the refusal message instead, unless
/// `PFS_EXPECT_TURBOJPEG=1` (CI) demands the library.
@Suite struct JPEGTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/jpeg").path

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixtures + "/" + name)))
    }

    /// The decoder, or nil (recording an issue when CI expects one).
    static func decoder() -> TurboJPEG? {
        if TurboJPEG.shared == nil && ProcessInfo.processInfo.environment["PFS_EXPECT_TURBOJPEG"] == "1" {
            Issue.record("PFS_EXPECT_TURBOJPEG=1 but no TurboJPEG library could be loaded")
        }
        return TurboJPEG.shared
    }

    /// Largest sample difference allowed against Pillow: both run libjpeg-turbo's accurate
    /// integer IDCT and fancy upsampling, so any difference would come from a version change.
    static let tolerance = 1

    @Test(arguments: ["baseline-420", "baseline-444", "progressive", "gray"])
    func decodesLikePillow(name: String) throws {
        guard let decoder = Self.decoder() else { return }
        let image = try decoder.decode(try Self.bytes(name + ".jpg"), file: name + ".jpg")
        let reference = try PNGImage.decode(try Self.bytes(name + ".png"), file: name + ".png")
        #expect(image.width == reference.width && image.height == reference.height)
        #expect(image.channels == reference.channels && image.channels == (name == "gray" ? 1 : 3))
        let worst = zip(image.pixels, reference.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(worst <= Self.tolerance, "\(name): largest difference \(worst)")
    }

    @Test func damagedCMYKAndForeignFilesAreRefusedNamingTheFile() throws {
        guard let decoder = Self.decoder() else { return }
        let cases: [(String, String)] = [("cmyk.jpg", "colour space"), ("truncated.jpg", "image data"), ("truncated-header.jpg", "JPEG header"),
                                         ("text-named.jpg", "signature"), ("png-named.jpg", "signature")]
        for (name, field) in cases {
            let error = #expect(throws: DataError.self) { _ = try decoder.decode(try Self.bytes(name), file: name) }
            #expect(error?.file == name && error?.field == field, "\(name): \(String(describing: error))")
        }
        let empty = #expect(throws: DataError.self) { _ = try decoder.decode([], file: "empty.jpg") }
        #expect(empty?.field == "signature")
        // Decoding by content: a PNG named .jpg is a PNG; text is neither.
        let png = try ImageFile.decode(try Self.bytes("png-named.jpg"), file: "png-named.jpg")
        #expect(png.width == 37 && png.height == 23)
        let text = #expect(throws: DataError.self) { _ = try ImageFile.decode(try Self.bytes("text-named.jpg"), file: "t.jpg") }
        #expect(text?.expected.contains("PNG") == true && text?.expected.contains("JPEG") == true)
    }

    @Test func withoutTheLibraryAJPEGIsRefusedSayingWhatToInstall() {
        let error = TurboJPEG.unavailable(file: "a.jpg")
        #expect(error.file == "a.jpg" && error.expected.contains("apt-get install libturbojpeg0"))
        #expect(error.got.contains("libturbojpeg.so.0"))
    }

    @Test func aJPEGFolderLoadsLikeThePNGsOfTheSamePixels() throws {
        guard Self.decoder() != nil else { return }
        try withTemporaryDirectory { root in
            for (name, label) in [("baseline-420", "a"), ("baseline-444", "b")] {
                try writeFile(join(root, "jpg/\(label)/x.jpg"), try Self.bytes(name + ".jpg"))
                try writeFile(join(root, "png/\(label)/x.png"), try Self.bytes(name + ".png"))
            }
            let jpeg = try ImageFolder.load(root: join(root, "jpg"))
            let png = try ImageFolder.load(root: join(root, "png"))
            #expect(jpeg.count == 2 && jpeg.labels == png.labels && jpeg.channels == 3)
            let worst = zip(jpeg.pixels, png.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
            #expect(worst <= Self.tolerance)
            // A damaged file stops the load, naming it.
            try writeFile(join(root, "jpg/b/y.jpeg"), try Self.bytes("truncated.jpg"))
            let error = #expect(throws: DataError.self) { _ = try ImageFolder.load(root: join(root, "jpg")) }
            #expect(error?.file.hasSuffix("jpg/b/y.jpeg") == true)
        }
    }
}
