/// An 8-bit image decoded from or to be encoded as PNG.
///
/// Decoding (written from scratch, no system codec) accepts every standard PNG: colour types gray,
/// RGB, palette, gray+alpha and RGBA; bit depths 1, 2, 4, 8 and 16; all five scanline filters; Adam7
/// interlacing; CRC-checked chunks and an Adler-32-checked zlib stream. The result is always 8-bit:
/// 16-bit samples are rounded to `round(v · 255 / 65535)`, gray samples of 1/2/4 bits are scaled to
/// 0…255 (×255, ×85, ×17), palette images become RGB, or RGBA when a tRNS chunk gives the palette
/// transparency. tRNS of gray and RGB images (a single transparent colour) is ignored, and so are
/// all other ancillary chunks (gamma, colour profiles, text).
///
/// Encoding writes 8-bit gray (1 channel), gray+alpha (2), RGB (3) or RGBA (4), non-interlaced, each
/// scanline with the filter whose output has the smallest sum of absolute signed bytes, compressed
/// with ``Deflater`` (fixed-Huffman LZ77, or stored blocks for incompressible data).
public struct PNGImage: Sendable, Equatable {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// Samples per pixel: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.
    public var channels: Int
    /// Samples, (H, W, C) interleaved, 8-bit.
    public var pixels: [UInt8]

    /// Wraps interleaved 8-bit samples; `pixels.count` must be `height · width · channels`.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(width >= 1 && height >= 1, "PNGImage: size must be positive, got \(width)×\(height)")
        precondition((1...4).contains(channels), "PNGImage: channels must be 1…4, got \(channels)")
        precondition(pixels.count == width * height * channels,
                     "PNGImage: \(width)×\(height)×\(channels) needs \(width * height * channels) samples, got \(pixels.count)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    static let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]

    /// The largest image decoded, in pixels (2¹⁸ × 2¹⁰), a guard against corrupt or hostile headers.
    public static let maximumPixelCount = 1 << 28

    // MARK: - Decoding

    /// Decodes a PNG file's bytes. `file` names it in errors, which state the chunk or field at
    /// fault: bad signature, truncated chunk, CRC mismatch, unsupported or invalid header values,
    /// missing IHDR/PLTE/IDAT/IEND, a zlib stream that is corrupt, truncated or fails its Adler-32
    /// check, an unknown filter type, a palette index beyond the palette.
    public static func decode(_ bytes: [UInt8], file: String) throws(DataError) -> PNGImage {
        var decoder = PNGDecoder(bytes: bytes, file: file)
        return try decoder.decode()
    }

    // MARK: - Encoding

    /// The image as PNG bytes (8-bit, non-interlaced; see the type's description).
    public func encode() -> [UInt8] {
        let colorType: UInt8 = [0, 4, 2, 6][channels - 1]
        let rowBytes = width * channels
        let bpp = channels
        var filtered = [UInt8](repeating: 0, count: height * (rowBytes + 1))
        var candidate = [UInt8](repeating: 0, count: rowBytes)
        let zeros = [UInt8](repeating: 0, count: rowBytes)
        pixels.withUnsafeBufferPointer { src in
            filtered.withUnsafeMutableBufferPointer { dst in
                candidate.withUnsafeMutableBufferPointer { cand in
                    zeros.withUnsafeBufferPointer { zero in
                        let s = src.baseAddress!, c = cand.baseAddress!
                        for y in 0..<height {
                            let cur = s + y * rowBytes
                            let up = y > 0 ? s + (y - 1) * rowBytes : zero.baseAddress!
                            let out = dst.baseAddress! + y * (rowBytes + 1)
                            var bestCost = Int.max
                            for filter in 0...4 {
                                for i in 0..<rowBytes {
                                    let a = i >= bpp ? Int(cur[i - bpp]) : 0
                                    let b = Int(up[i])
                                    let cc = i >= bpp ? Int(up[i - bpp]) : 0
                                    let predictor: Int
                                    switch filter {
                                    case 0: predictor = 0
                                    case 1: predictor = a
                                    case 2: predictor = b
                                    case 3: predictor = (a + b) >> 1
                                    default: predictor = paeth(a, b, cc)
                                    }
                                    c[i] = UInt8(truncatingIfNeeded: Int(cur[i]) - predictor)
                                }
                                var cost = 0
                                for i in 0..<rowBytes { cost += abs(Int(Int8(bitPattern: c[i]))) }
                                if cost < bestCost {
                                    bestCost = cost
                                    out[0] = UInt8(filter)
                                    (out + 1).update(from: c, count: rowBytes)
                                }
                            }
                        }
                    }
                }
            }
        }
        var png = Self.signature
        var header: [UInt8] = []
        header.appendBigEndian(UInt32(width))
        header.appendBigEndian(UInt32(height))
        header.append(contentsOf: [8, colorType, 0, 0, 0])
        png.appendChunk("IHDR", header)
        png.appendChunk("IDAT", Deflater.zlib(filtered))
        png.appendChunk("IEND", [])
        return png
    }
}

/// The Paeth predictor of the PNG specification: whichever of left, up, upper-left is closest to
/// left + up − upper-left (ties: left, then up).
@inline(__always) func paeth(_ a: Int, _ b: Int, _ c: Int) -> Int {
    let p = a + b - c
    let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
    if pa <= pb && pa <= pc { return a }
    return pb <= pc ? b : c
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ v: UInt32) {
        append(contentsOf: [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)])
    }

    /// Appends a chunk: length, type, data, CRC of type + data.
    mutating func appendChunk(_ type: String, _ data: [UInt8]) {
        appendBigEndian(UInt32(data.count))
        let start = count
        append(contentsOf: Array(type.utf8))
        append(contentsOf: data)
        appendBigEndian(CRC32.checksum(self, start..<count))
    }

    func bigEndian32(at i: Int) -> UInt32 {
        UInt32(self[i]) << 24 | UInt32(self[i + 1]) << 16 | UInt32(self[i + 2]) << 8 | UInt32(self[i + 3])
    }
}
