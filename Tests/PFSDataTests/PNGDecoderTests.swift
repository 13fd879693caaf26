import Foundation
@testable import PFSData
import Testing

/// PNG decoding of what the encoder never writes: files from another zlib (dynamic Huffman
/// blocks), Adam7 interlacing, 1/2/4/16-bit samples, palettes with and without transparency,
/// split IDAT chunks and ancillary chunks.
@Suite struct PNGDecoderTests {
    /// 37×21 RGB, 8-bit, written by Python's zlib at level 9 (one dynamic-Huffman block), every
    /// scanline with filter 0; pixel (x, y) is `rgb(x, y)`.
    static let zlibRGB = [
        "iVBORw0KGgoAAAANSUhEUgAAACUAAAAVCAIAAABOhrD5AAAEzUlEQVR42jXVobGtMBSF4aWjENEZxBaRTHQEKrNldBQiOoO8",
        "khJWCZRACZRACZRACY+TeZwG/rOSMB8ADMAITAazQTZYLFaLzYIOu8PhcHpcHrfHE4CAIWCMmCLmiJywJKwJWwYz9oyj4Cy4",
        "Cu6KpwIVQ8PYMDXMf7+YjJAJMhvJRhYjq5XNCq3sTg4np5PLy+3l8YIgQ5AxyBRljpKjLEnWJFsSZtmzHFnOIleRu8hTBVWG",
        "KmOTqcncJP/Ju4wTOL9/znAxXA03S1rulofj6Xg53p6PJzyHwDFwCpwjc+QSuSZuiUzcM4/MM/MqvAufQlQOlWPl1Dg35sbl",
        "j5igMzRDF6Or0c0ore5WD6un08vp7fTxCq+D1zHoFHQOmqMuUdeoW1Im3ZMeWc+sV9a76FMURYeqY9Wp6tw0N12arn+K/zF8",
        "MfPF7BdzX8x/sfDF4hdLXyx/sfLF6hdrur2995oXcAU3QxruhoflaXlZ3o6PIxwHz9Fz8pwDc+ASuEZukYzcE4/EM/HKvDOf",
        "TBQOhWPhVDlX5sqlcW3cGvme5wJZIRuERnYjh5HTymXltvI4gZPByehl8jJ7yUGWIGuQLQqj7FGOJGeSK8md5cmCLEORschU",
        "ZK6SqyxV1iZbEzbZ3/eyAhtAYDc4DE6Dy+K2eCzgMDiMDpPH7JE9loA1YAtgxB5xRJwJV8Kd8GS8ZzVkjAVTwVyQK5aKtWJr",
        "YMPecPz9YkLIjr7MyGX6MiuwfZmTyfVlXhbflwVh6MuinLEvS/KkvizLmPuyIrn0ZVW22pc1OZqc7z6CO3iAp+FleBs+lrAc",
        "LEfHyXF2zJ6L5+q5BTJwDzwiz8gr8k58EpE4ZI6ZU+ZcmAuXwrVyq2Tl3ng0no3Xe3879ICe0MvobfQxCquD1dHq5HR2mp0u",
        "Xlevm1cG3YMeQc+oV9Q76pMUSYekY9Yp65w1F12KrkW3qqy6Vz2ank2vpvf7Pv/H8MXMF7NfzH0x/8XCF4tfLH2x/MXKF6tf",
        "rOnz9k7wAm/wMYThYDhaTpazZXZcHFfHzZOeu+cReAZegXfkE4nIIXFMnBLnzJy5ZK6FWyEL98qj8qy8Gu/GpxHveV6QG/JA",
        "YGQwMhqZrMxWspXFyepkc0Ivu5fDyxnkCnIHeaIgyhBlTDIlmZPkLEuWNctWhEX2IkeVs8pV5W7yNEGT4X0vN/Dg9xsMRtOV",
        "sMi2K+Gwua6Ex+G7EgF36EpEDLErkTCnrkTGmrsSBXvpSlRctSvRgNaV+PvFBJCfEu8y05V4l9muxLvMdSXeZb4r8S4LXYl3",
        "WexKvMtSV+JdlrsS77LSlXiX1a7Eu6x1Jd5977c+gD8lDGfTlbBcbVfCcXddCc/LdyUCEboSkVPsSiQuqSuRydyVKDxLV6Ly",
        "qV2JxrF1Jd77G6Aj9KeE0Wy6ElY325VweriuhNfbdyWCDqErEXWOXYmka+pKZN1zV6LoVboSVVG7Ek2n1pV43+f/GL6Y+WL2",
        "i7kv5r9Y+GLxi6Uvlr9Y+WL1i71KvL3/2OLD1nzY2g9b92HrP2zDh238sE0ftvnDtnzY1g/bV4n3PGdIhvyUMLKZroSVw3Yl",
        "nNyuK+Fl8F2JIHPoSkRZY1ciyZ66Elmu3JUogtKVqDLVrkSTpXUl/uQfCXntq40q8psAAAAASUVORK5CYII=",
    ].joined()

    /// 29×19 RGBA, 8-bit, Adam7-interlaced, also from Python's zlib (dynamic Huffman); pixel (x, y)
    /// is `rgba(x, y)`.
    static let zlibAdam7RGBA = [
        "iVBORw0KGgoAAAANSUhEUgAAAB0AAAATCAYAAAEbnjbpAAAFAElEQVR42i2WrZG2MBDHV6MQaAYRgcygI1BMZDSKEpCRTwlb",
        "AiUgUgAlUAIlbAn3C9zN7HvvHeTZzf9rT4SvX8c/E99T/UGcSOfsN7kiyWV+pbyhRSYNv6QmcyNyjSJz4PvK86txeR5duIKT",
        "eXX1DbVr1DwH5Q2OzhLl18RwdTHLGMs8RfuFKFeKQVZ+d9FEGi1zR5OR05Nm4fSctPxWDTLQZ2POoxd5aD7QfFv4uc68SSxH",
        "F+3powxjDFuI+VhieVI0OcSFp3Nl6J1so8tHcPYsLgyJCz6iNnSat17lGLU8QcOwqG2J/oPwgIEOHj4MNQQt26L5SO9ATMfp",
        "jamBJx+8eP2/KHzSML33Zxbg4xM5VC4+9am32QAZoPPROLu6bz5hvmF8kbRtcuEXXGFWuRaXnwSqiZlX3jsA86KeJsIUN6Zm",
        "br6NgEwdE88B96Fk4XniObWt/PzI+1WGRsLciYFp/oHpMUqB1PBMYhIkV3znRcqWBNbFjlUqILFSGbYm5l/3YX7R+QFzaM3D",
        "BLUhGvhz5xiOFDMUl2eFh5a2HukkaodJpetJ3bBpqK+lPF0TrO6UwuxZ5eWhITUa9kZFO7Wz13L3mm3U0E4qflJLULNDjS4a",
        "zqRyr7CQJNrOqApQJ+PefQzWR2sZ1QNSYtw9xKBLtHOJ+QYkW2ORHclo48rZOLk7l6131vYu+NGVNDnZJ5cVGZ3I6F5cseSk",
        "XfGKynvIbg4avHIo+55DcMohUXg9g8vvoYUP5aBfXZATZG/GNKqFTw+qidrhUxn1pG5QNfhsKc+oqfJ5A44BTgs4HnAS4OyA",
        "o4BzAs4NOAY4LeB4wEmAs1dwDNTbRvJLSSccwm+92DlKvqeXktIGCX4Rg5K8Q4euUuBRg0f0UAKPdOpfSsKN6I2OUJJ9YBK6",
        "QUlROp4rdvK4NDUvJfAYw9kDeR+LjVDC/aAkJJy749yXEu54ryirxS0DlHgcM0NLAuENhHcQ/kGP4p4Dik4cdEHTjYseqDJQ",
        "F1BvQX2AMo+jZmhLuGqDuh1n/WBCcdcBEycOu6Dxri7zn9ZL+vT+Cun3TV51H85P+/UG8ny3qB54xTV8t6kxV29U/ZD3zxP1",
        "ZuH4ble9Iffnj2DVIwkFbdReM7fKnTqosyNIqZt6CBmjhGpHJTNgnprBPlEbtdfQoZQ6Fs5TF3XDxUMZJSvnKZrV1JfMf+0g",
        "Fs6GKEAVN9HwEBHWEQg9asCsQ49iRrGZqEhExoZS9okIITbItXAEKWfdCyjmRjnPIsESqkE9bSJWVjG/8nnMRpChHCEWG803",
        "Gn64qaFhYdu0KGtAVZ5bzigsoa6NlbKj6x83VHR9TEozzRcxe3PTh5g1FCdovSWjB27p2VgzKyhVBZ5fcoZbYiY9C24z+RwX",
        "SNHs4ZYkteq8jbDAfZlELQqvx+fCcE1wHuAMXu1L2IAj8wC3uNJq0ibWGmmb9xomN+p9yAVDwYJyW7blgHo9qp1RcGLZbuTE",
        "jnp/ZIWySQ+Ue6LiC/XeLOIHBRvKFbKjRb0DqvUoeCZDEkt6Q707++xHlmjdwFa3OPVapzajsA5OR/rda53ajBB2rFSkP2Id",
        "CusIzXA/56t1ajPK19W+cH55rVOb8ecC56lj5TxFs1hXRMY6NrPtMXvBOjR714VV0x9YBePLax1grasD6/DXBTRMr3XMk8ms",
        "kYJ1aPYGgtV1oliFlSKvdbBLDYc/diG/Y9H+OaoAAAAASUVORK5CYII=",
    ].joined()

    static func rgb(_ x: Int, _ y: Int) -> [UInt8] {
        [UInt8(((x + y) % 16) * 16), UInt8(((x / 3) * 10) % 256), UInt8(((y * y) % 7) * 36)]
    }

    static func rgba(_ x: Int, _ y: Int) -> [UInt8] { rgb(x, y) + [UInt8(((x * y) % 5) * 60)] }

    func decode(_ base64: String) throws -> PNGImage {
        let bytes = try #require(Data(base64Encoded: base64))
        return try PNGImage.decode([UInt8](bytes), file: "external.png")
    }

    @Test func decodesADynamicHuffmanStreamFromAnotherEncoder() throws {
        let image = try decode(Self.zlibRGB)
        #expect(image.width == 37 && image.height == 21 && image.channels == 3)
        let want = (0..<21).flatMap { y in (0..<37).flatMap { x in Self.rgb(x, y) } }
        #expect(image.pixels == want)
    }

    @Test func decodesAdam7Interlacing() throws {
        let image = try decode(Self.zlibAdam7RGBA)
        #expect(image.width == 29 && image.height == 19 && image.channels == 4)
        let want = (0..<19).flatMap { y in (0..<29).flatMap { x in Self.rgba(x, y) } }
        #expect(image.pixels == want)
    }

    /// Scanlines (filter byte 0 each) of `samples` packed at `depth` bits, most significant first.
    func packed(_ samples: [[Int]], depth: Int) -> [UInt8] {
        var out: [UInt8] = []
        for row in samples {
            out.append(0)
            var byte = 0, used = 0
            for s in row {
                byte = byte << depth | s
                used += depth
                if used == 8 { out.append(UInt8(byte)); byte = 0; used = 0 }
            }
            if used > 0 { out.append(UInt8(byte << (8 - used))) }
        }
        return out
    }

    @Test(arguments: [1, 2, 4])
    func lowBitDepthGrayIsScaledTo8Bits(depth: Int) throws {
        let width = 11, height = 3, levels = 1 << depth
        let samples = (0..<height).map { y in (0..<width).map { x in (x * 3 + y * 5) % levels } }
        let png = PNGTests.file(width: width, height: height, bitDepth: UInt8(depth), colorType: 0,
                                zlib: Deflater.zlib(packed(samples, depth: depth)))
        let image = try PNGImage.decode(png, file: "low.png")
        #expect(image.channels == 1 && image.width == width && image.height == height)
        #expect(image.pixels == samples.joined().map { UInt8($0 * 255 / (levels - 1)) })
        #expect(image.pixels.contains(255) && image.pixels.contains(0))
    }

    @Test func sixteenBitSamplesAreRounded() throws {
        // Gray+alpha, 16 bits: (gray, alpha) pairs, 3×1.
        let values: [Int] = [0, 65535, 128, 129, 257, 32896]
        var scanline: [UInt8] = [0]
        for v in values { scanline += [UInt8(v >> 8), UInt8(v & 0xFF)] }
        let png = PNGTests.file(width: 3, height: 1, bitDepth: 16, colorType: 4, zlib: Deflater.zlib(scanline))
        let image = try PNGImage.decode(png, file: "deep.png")
        #expect(image.channels == 2)
        #expect(image.pixels == [0, 255, 0, 1, 1, 128])
    }

    @Test func palettesBecomeRGBOrRGBA() throws {
        let palette: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255]
        let indices = packed([[0, 1, 2], [2, 2, 1]], depth: 2)
        let plain = PNGTests.file(width: 3, height: 2, bitDepth: 2, colorType: 3, before: [("PLTE", palette)],
                                  zlib: Deflater.zlib(indices))
        let rgb = try PNGImage.decode(plain, file: "p.png")
        #expect(rgb.channels == 3)
        #expect(rgb.pixels == [255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 255, 0])

        // tRNS gives entry 0 alpha 128; the others stay opaque. A text chunk is ignored.
        let text: [UInt8] = Array("Comment\u{0}hello".utf8)
        let withAlpha = PNGTests.file(width: 3, height: 2, bitDepth: 2, colorType: 3,
                                      before: [("PLTE", palette), ("tRNS", [128]), ("tEXt", text)],
                                      zlib: Deflater.zlib(indices))
        let rgba = try PNGImage.decode(withAlpha, file: "p.png")
        #expect(rgba.channels == 4)
        #expect(rgba.pixels == [255, 0, 0, 128, 0, 255, 0, 255, 0, 0, 255, 255,
                                0, 0, 255, 255, 0, 0, 255, 255, 0, 255, 0, 255])

        // An index beyond the palette, and a missing palette.
        let beyond = PNGTests.file(width: 3, height: 2, bitDepth: 2, colorType: 3, before: [("PLTE", palette)],
                                   zlib: Deflater.zlib(packed([[0, 1, 2], [2, 3, 1]], depth: 2)))
        let error = #expect(throws: DataError.self) { _ = try PNGImage.decode(beyond, file: "p.png") }
        #expect(error == DataError(file: "p.png", field: "palette index at row 1, column 1",
                                   expected: "an index below the palette size 3", got: "3"))
        let none = PNGTests.file(width: 3, height: 2, bitDepth: 2, colorType: 3, zlib: Deflater.zlib(indices))
        #expect(throws: DataError.self) { _ = try PNGImage.decode(none, file: "p.png") }
    }

    @Test func idatMaySpanSeveralChunksAndUnknownCriticalChunksAreRefused() throws {
        let image = PNGImage(width: 6, height: 5, channels: 3, pixels: (0..<90).map { UInt8($0 * 2) })
        let encoded = image.encode()
        // Re-split the single IDAT chunk (at byte 33) into three.
        let length = Int(encoded.bigEndian32(at: 33))
        let stream = Array(encoded[41..<(41 + length)])
        var split = Array(encoded[0..<33])
        let a = stream.count / 3, b = 2 * stream.count / 3
        split.appendChunk("IDAT", Array(stream[0..<a]))
        split.appendChunk("IDAT", Array(stream[a..<b]))
        split.appendChunk("IDAT", Array(stream[b...]))
        split.appendChunk("IEND", [])
        #expect(try PNGImage.decode(split, file: "s.png") == image)

        var critical = Array(encoded[0..<33])
        critical.appendChunk("ABCD", [1, 2, 3])
        critical += encoded[33...]
        let error = #expect(throws: DataError.self) { _ = try PNGImage.decode(critical, file: "s.png") }
        #expect(error?.file == "s.png" && error?.got.contains("ABCD") == true)
    }
}
