import Foundation
@testable import PFSData
import PFSTensor
import Testing

/// PNG encoding and decoding: exact round trips for every channel count on odd sizes, large
/// images (long matches, stored blocks), and corrupt files refused with errors naming the file.
@Suite struct PNGTests {
    static let name = "images/test.png"

    func noise(width: Int, height: Int, channels: Int, seed: UInt64) -> PNGImage {
        var rng = RandomGenerator(seed: seed)
        return PNGImage(width: width, height: height, channels: channels,
                        pixels: (0..<(width * height * channels)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
    }

    func gradient(width: Int, height: Int, channels: Int) -> PNGImage {
        var pixels: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<channels { pixels.append(UInt8(truncatingIfNeeded: x * (c + 1) + 3 * y + (x / 7) * c)) }
            }
        }
        return PNGImage(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// A PNG file built chunk by chunk: IHDR, `before` chunks, IDAT holding `zlib`, IEND.
    static func file(width: Int, height: Int, bitDepth: UInt8, colorType: UInt8, interlace: UInt8 = 0,
                     before: [(String, [UInt8])] = [], zlib: [UInt8]) -> [UInt8] {
        var header: [UInt8] = []
        header.appendBigEndian(UInt32(width))
        header.appendBigEndian(UInt32(height))
        header += [bitDepth, colorType, 0, 0, interlace]
        var png = PNGImage.signature
        png.appendChunk("IHDR", header)
        for (type, data) in before { png.appendChunk(type, data) }
        png.appendChunk("IDAT", zlib)
        png.appendChunk("IEND", [])
        return png
    }

    /// The error decoding `bytes` throws (an issue is recorded when it decodes).
    func failure(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> DataError? {
        let error = #expect(throws: DataError.self, sourceLocation: sourceLocation) {
            _ = try PNGImage.decode(bytes, file: Self.name)
        }
        #expect(error?.file == Self.name, sourceLocation: sourceLocation)
        return error
    }

    @Test(arguments: [1, 2, 3, 4])
    func roundTripIsExactOnOddSizes(channels: Int) throws {
        for (w, h) in [(1, 1), (7, 5), (13, 1), (1, 9), (31, 17)] {
            for image in [noise(width: w, height: h, channels: channels, seed: UInt64(w * 100 + h)),
                          gradient(width: w, height: h, channels: channels)] {
                let bytes = image.encode()
                #expect(Array(bytes.prefix(8)) == [137, 80, 78, 71, 13, 10, 26, 10])
                let decoded = try PNGImage.decode(bytes, file: Self.name)
                #expect(decoded == image, "\(w)×\(h)×\(channels)")
            }
        }
    }

    @Test func largeImagesRoundTrip() throws {
        // Compressible: long matches and distances beyond a row; several kinds of filter.
        let smooth = gradient(width: 301, height: 203, channels: 3)
        let smoothBytes = smooth.encode()
        #expect(smoothBytes.count < smooth.pixels.count / 4)
        #expect(try PNGImage.decode(smoothBytes, file: Self.name) == smooth)
        // Incompressible noise over 65,535 bytes: several stored blocks.
        let random = noise(width: 160, height: 150, channels: 3, seed: 99)
        #expect(try PNGImage.decode(random.encode(), file: Self.name) == random)
        // Data that is mostly one value (long runs of distance-1 matches).
        var flat = PNGImage(width: 257, height: 3, channels: 4, pixels: [UInt8](repeating: 200, count: 257 * 3 * 4))
        flat.pixels[500] = 1
        #expect(try PNGImage.decode(flat.encode(), file: Self.name) == flat)
    }

    @Test func deflateRoundTripsThroughInflate() throws {
        var rng = RandomGenerator(seed: 5)
        let inputs: [[UInt8]] = [
            [], [42], Array("abcabcabcabcabcabcabcabcabc".utf8),
            (0..<100_000).map { UInt8(truncatingIfNeeded: $0 % 251 + $0 / 40_000) },
            (0..<70_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
        ]
        for input in inputs {
            let compressed = Deflater.zlib(input)
            #expect(try Inflater.zlib(compressed) == input, "\(input.count) bytes")
        }
    }

    @Test func badSignatureIsRefused() throws {
        var bytes = gradient(width: 4, height: 4, channels: 3).encode()
        bytes[1] = UInt8(ascii: "J")
        let error = failure(bytes)
        #expect(error?.field == "signature")
        #expect(error?.got == "89 4A 4E 47 0D 0A 1A 0A")
        #expect(failure([])?.got == "an empty file")
        #expect(failure(Array("GIF89a".utf8))?.field == "signature")
    }

    @Test func badCRCIsRefused() throws {
        let bytes = gradient(width: 9, height: 7, channels: 3).encode()
        // IDAT data starts after the signature (8), IHDR (12 + 13) and IDAT's length and type (8).
        var data = bytes
        data[8 + 25 + 8 + 3] ^= 0x10
        let idat = failure(data)
        #expect(idat?.field.hasPrefix("CRC of IDAT chunk at byte 33") == true)
        #expect(idat?.got.hasSuffix("(corrupt data)") == true)

        var header = bytes
        header[8 + 8 + 2] ^= 0x01   // a byte of the width
        #expect(failure(header)?.field == "CRC of IHDR chunk at byte 8")

        var crc = bytes
        crc[crc.count - 1] ^= 0xFF   // IEND's own CRC
        #expect(failure(crc)?.field.hasPrefix("CRC of IEND chunk") == true)
    }

    @Test func truncatedFilesAreRefused() throws {
        let bytes = gradient(width: 11, height: 6, channels: 4).encode()
        // Cut inside a chunk header, IHDR's data, IDAT's header, IDAT's data and IEND.
        for cut in [12, 20, 40, bytes.count - 16, bytes.count - 1] {
            let error = failure(Array(bytes.prefix(cut)))
            #expect(error?.got.contains("truncated file") == true, "cut at \(cut): \(String(describing: error))")
        }
        #expect(failure(Array(bytes.prefix(5)))?.got == "89 50 4E 47 0D (5 bytes)")
        // Cut right after IHDR: no image data.
        #expect(failure(Array(bytes.prefix(33)))?.field == "IDAT chunk")
        // Without IEND at all (cut right after IDAT's CRC).
        let noEnd = failure(Array(bytes.prefix(bytes.count - 12)))
        #expect(noEnd?.field == "IEND chunk")
        #expect(noEnd?.got.contains("truncated file") == true)
        #expect(failure(Array(bytes.prefix(8)))?.field == "IHDR chunk")
    }

    @Test func corruptImageDataIsRefused() throws {
        let rowBytes = 5 * 3, raw = (0..<(4 * (rowBytes + 1))).map { UInt8($0 % (rowBytes + 1) == 0 ? 0 : $0 % 200) }
        // A zlib stream whose Adler-32 does not match (the chunk's CRC is right).
        var stream = Deflater.zlib(raw)
        stream[stream.count - 1] ^= 0x01
        let adler = failure(Self.file(width: 5, height: 4, bitDepth: 8, colorType: 2, zlib: stream))
        #expect(adler?.field == "IDAT data (zlib stream)" && adler?.expected.contains("Adler-32") == true)
        // Not a zlib stream at all.
        let garbage = failure(Self.file(width: 5, height: 4, bitDepth: 8, colorType: 2, zlib: [1, 2, 3, 4, 5, 6]))
        #expect(garbage?.field == "IDAT data (zlib stream)")
        // Too few scanlines, and too many.
        let short = failure(Self.file(width: 5, height: 4, bitDepth: 8, colorType: 2,
                                      zlib: Deflater.zlib(Array(raw.dropLast(rowBytes + 1)))))
        #expect(short?.field == "IDAT data size" && short?.got.contains("truncated image data") == true)
        let long = failure(Self.file(width: 5, height: 4, bitDepth: 8, colorType: 2, zlib: Deflater.zlib(raw + raw)))
        #expect(long?.field == "IDAT data size")
        // An unknown scanline filter type.
        var badFilter = raw
        badFilter[2 * (rowBytes + 1)] = 5
        let filter = failure(Self.file(width: 5, height: 4, bitDepth: 8, colorType: 2, zlib: Deflater.zlib(badFilter)))
        #expect(filter?.field == "filter type of scanline 2" && filter?.got == "5")
        // Header values outside the specification.
        let depth = failure(Self.file(width: 5, height: 4, bitDepth: 3, colorType: 2, zlib: Deflater.zlib(raw)))
        #expect(depth?.field == "IHDR bit depth" && depth?.got == "3")
        let type = failure(Self.file(width: 5, height: 4, bitDepth: 8, colorType: 5, zlib: Deflater.zlib(raw)))
        #expect(type?.field == "IHDR colour type")
        let empty = failure(Self.file(width: 0, height: 4, bitDepth: 8, colorType: 2, zlib: Deflater.zlib(raw)))
        #expect(empty?.field == "IHDR size")
    }
}
