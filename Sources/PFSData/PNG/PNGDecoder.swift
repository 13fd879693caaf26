/// The PNG decoding behind ``PNGImage/decode(_:file:)``: chunk parsing and checks, then inflating,
/// unfiltering and converting the scanlines of each interlace pass to 8-bit samples.
struct PNGDecoder {
    let bytes: [UInt8]
    let file: String

    // IHDR
    var width = 0, height = 0, bitDepth = 0, colorType = 0, interlaced = false
    // PLTE (RGB triples) and its transparency (tRNS), for colour type 3
    var palette: [UInt8] = []
    var paletteAlpha: [UInt8]?

    init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
    }

    func error(_ field: String, _ expected: String, _ got: String) -> DataError {
        DataError(file: file, field: field, expected: expected, got: got)
    }

    /// Samples per pixel in the file (palette indices count as one).
    var samplesPerPixel: Int {
        switch colorType {
        case 0, 3: return 1
        case 2: return 3
        case 4: return 2
        default: return 4
        }
    }

    /// Channels of the decoded 8-bit image.
    var outputChannels: Int {
        colorType == 3 ? (paletteAlpha == nil ? 3 : 4) : samplesPerPixel
    }

    mutating func decode() throws(DataError) -> PNGImage {
        let idat = try readChunks()
        let passes = interlaced ? Self.adam7 : [Pass(x: 0, y: 0, dx: 1, dy: 1)]
        let bitsPerPixel = samplesPerPixel * bitDepth
        var expectedSize = 0
        for pass in passes {
            let (pw, ph) = pass.size(width, height)
            if pw > 0 && ph > 0 { expectedSize += ph * (1 + (pw * bitsPerPixel + 7) / 8) }
        }
        var raw: [UInt8]
        do {
            raw = try Inflater.zlib(idat, expectedSize: expectedSize, outputLimit: expectedSize)
        } catch {
            if error.got == "more" {
                throw self.error("IDAT data size", "\(grouped(expectedSize)) bytes of scanlines for \(width)×\(height)",
                                 "more (too much image data)")
            }
            throw self.error("IDAT data (zlib stream)", error.expected, error.got)
        }
        guard raw.count == expectedSize else {
            throw error("IDAT data size", "\(grouped(expectedSize)) bytes of scanlines for \(width)×\(height)",
                        "\(grouped(raw.count)) bytes (truncated image data)")
        }
        let channels = outputChannels
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        let me = self
        try raw.withUnsafeMutableBufferPointerTyped { (rawBuffer) throws(DataError) in
            try pixels.withUnsafeMutableBufferPointerTyped { (out) throws(DataError) in
                var offset = 0
                for (index, pass) in passes.enumerated() {
                    let (pw, ph) = pass.size(me.width, me.height)
                    guard pw > 0 && ph > 0 else { continue }
                    let rowBytes = (pw * bitsPerPixel + 7) / 8
                    try me.unfilter(rawBuffer.baseAddress! + offset, rows: ph, rowBytes: rowBytes,
                                    bpp: max(1, bitsPerPixel / 8), pass: index, interlaced: me.interlaced)
                    for j in 0..<ph {
                        let row = UnsafePointer(rawBuffer.baseAddress! + offset + j * (rowBytes + 1) + 1)
                        try me.convertRow(row, count: pw, into: out.baseAddress!, y: pass.y + j * pass.dy,
                                          x0: pass.x, dx: pass.dx, channels: channels)
                    }
                    offset += ph * (rowBytes + 1)
                }
            }
        }
        return PNGImage(width: width, height: height, channels: channels, pixels: pixels)
    }

    // MARK: Chunks

    /// Walks the chunks, checking each CRC, reads IHDR, PLTE and tRNS, and returns the
    /// concatenated IDAT data.
    mutating func readChunks() throws(DataError) -> [UInt8] {
        let n = bytes.count
        guard n >= 8, Array(bytes[0..<8]) == Self.signature else {
            let head = bytes.prefix(8).map { hex(Int($0), 2) }.joined(separator: " ")
            throw error("signature", "the PNG signature 89 50 4E 47 0D 0A 1A 0A",
                        n == 0 ? "an empty file" : head + (n < 8 ? " (\(n) bytes)" : ""))
        }
        var pos = 8
        var sawHeader = false, sawEnd = false
        var idat: [UInt8] = []
        var idatChunks = 0
        while pos < n {
            guard pos + 8 <= n else {
                throw error("chunk at byte \(grouped(pos))", "a chunk header (length and type, 8 bytes)",
                            "\(n - pos) bytes (truncated file)")
            }
            let length = Int(bytes.bigEndian32(at: pos))
            let typeBytes = Array(bytes[(pos + 4)..<(pos + 8)])
            let isLetters = typeBytes.allSatisfy { (65...90).contains($0) || (97...122).contains($0) }
            guard isLetters, length <= 0x7FFF_FFFF else {
                throw error("chunk at byte \(grouped(pos))", "a chunk type of four letters and a length below 2³¹",
                            "type bytes \(typeBytes.map { hex(Int($0), 2) }.joined(separator: " ")), length \(length)")
            }
            let name = String(decoding: typeBytes, as: UTF8.self)
            let where_ = "\(name) chunk at byte \(grouped(pos))"
            guard pos + 12 + length <= n else {
                throw error(where_, "\(grouped(length)) data bytes and a 4-byte CRC",
                            "\(grouped(n - pos - 8)) bytes (truncated file)")
            }
            let stored = bytes.bigEndian32(at: pos + 8 + length)
            let computed = CRC32.checksum(bytes, (pos + 4)..<(pos + 8 + length))
            guard stored == computed else {
                throw error("CRC of \(where_)", "0x\(hex(Int(computed), 8)) (computed over type and data)",
                            "0x\(hex(Int(stored), 8)) (corrupt data)")
            }
            let data = (pos + 8)..<(pos + 8 + length)
            if !sawHeader && name != "IHDR" {
                throw error("first chunk", "IHDR", name)
            }
            switch name {
            case "IHDR":
                guard !sawHeader else { throw error(where_, "a single IHDR chunk", "a second one") }
                try readHeader(data, where_)
                sawHeader = true
            case "PLTE":
                guard length % 3 == 0, (3...768).contains(length) else {
                    throw error(where_, "1…256 RGB entries (a multiple of 3 bytes, at most 768)", "\(length) bytes")
                }
                palette = Array(bytes[data])
            case "tRNS":
                if colorType == 3 {
                    guard !palette.isEmpty, length <= palette.count / 3 else {
                        throw error(where_, "at most one alpha value per palette entry after PLTE",
                                    "\(length) values for \(palette.count / 3) entries")
                    }
                    var alpha = [UInt8](repeating: 255, count: palette.count / 3)
                    for i in 0..<length { alpha[i] = bytes[data.lowerBound + i] }
                    paletteAlpha = alpha
                }
            case "IDAT":
                idat.append(contentsOf: bytes[data])
                idatChunks += 1
            case "IEND":
                sawEnd = true
            default:
                if typeBytes[0] & 0x20 == 0 {
                    throw error(where_, "only the critical chunks IHDR, PLTE, IDAT, IEND",
                                "the unknown critical chunk \(name) (unsupported)")
                }
            }
            pos += 12 + length
            if sawEnd { break }
        }
        guard sawHeader else { throw error("IHDR chunk", "an IHDR chunk after the signature", "none") }
        guard idatChunks > 0 else { throw error("IDAT chunk", "at least one IDAT chunk of image data", "none") }
        guard sawEnd else {
            throw error("IEND chunk", "an IEND chunk closing the file", "the end of the file at byte \(grouped(n)) (truncated file)")
        }
        if colorType == 3 && palette.isEmpty {
            throw error("PLTE chunk", "a palette for colour type 3 (indexed colour)", "none")
        }
        return idat
    }

    mutating func readHeader(_ data: Range<Int>, _ where_: String) throws(DataError) {
        guard data.count == 13 else { throw error(where_, "13 data bytes", "\(data.count)") }
        let p = data.lowerBound
        width = Int(bytes.bigEndian32(at: p))
        height = Int(bytes.bigEndian32(at: p + 4))
        bitDepth = Int(bytes[p + 8])
        colorType = Int(bytes[p + 9])
        let compression = Int(bytes[p + 10]), filter = Int(bytes[p + 11]), interlace = Int(bytes[p + 12])
        guard width >= 1, height >= 1, width <= 0x7FFF_FFFF, height <= 0x7FFF_FFFF else {
            throw error("IHDR size", "a width and height of 1…2³¹−1", "\(width)×\(height)")
        }
        guard width * height <= PNGImage.maximumPixelCount else {
            throw error("IHDR size", "at most \(grouped(PNGImage.maximumPixelCount)) pixels",
                        "\(width)×\(height) (unsupported)")
        }
        let allowed: [Int: [Int]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
        guard let depths = allowed[colorType] else {
            throw error("IHDR colour type", "0 (gray), 2 (RGB), 3 (palette), 4 (gray+alpha) or 6 (RGBA)", "\(colorType)")
        }
        guard depths.contains(bitDepth) else {
            throw error("IHDR bit depth", "one of \(depths.map(String.init).joined(separator: ", ")) for colour type \(colorType)",
                        "\(bitDepth)")
        }
        guard compression == 0 else { throw error("IHDR compression method", "0 (deflate)", "\(compression)") }
        guard filter == 0 else { throw error("IHDR filter method", "0 (adaptive, five filter types)", "\(filter)") }
        guard interlace <= 1 else { throw error("IHDR interlace method", "0 (none) or 1 (Adam7)", "\(interlace)") }
        interlaced = interlace == 1
    }

    // MARK: Scanlines

    struct Pass {
        let x: Int, y: Int, dx: Int, dy: Int
        /// Width and height of this pass's sub-image.
        func size(_ width: Int, _ height: Int) -> (Int, Int) {
            (width > x ? (width - x + dx - 1) / dx : 0, height > y ? (height - y + dy - 1) / dy : 0)
        }
    }

    /// The seven Adam7 passes: first pixel and step in each direction.
    static let adam7: [Pass] = [
        Pass(x: 0, y: 0, dx: 8, dy: 8), Pass(x: 4, y: 0, dx: 8, dy: 8), Pass(x: 0, y: 4, dx: 4, dy: 8),
        Pass(x: 2, y: 0, dx: 4, dy: 4), Pass(x: 0, y: 2, dx: 2, dy: 4), Pass(x: 1, y: 0, dx: 2, dy: 2),
        Pass(x: 0, y: 1, dx: 1, dy: 2),
    ]

    /// Reverses the scanline filters of one pass in place. `base` points at the first row's filter
    /// byte; rows are `1 + rowBytes` bytes apart.
    func unfilter(_ base: UnsafeMutablePointer<UInt8>, rows: Int, rowBytes: Int, bpp: Int,
                  pass: Int, interlaced: Bool) throws(DataError) {
        for j in 0..<rows {
            let filter = base[j * (rowBytes + 1)]
            let cur = base + j * (rowBytes + 1) + 1
            let up: UnsafeMutablePointer<UInt8>? = j > 0 ? base + (j - 1) * (rowBytes + 1) + 1 : nil
            switch filter {
            case 0:
                break
            case 1:
                if rowBytes > bpp { for i in bpp..<rowBytes { cur[i] &+= cur[i - bpp] } }
            case 2:
                if let up { for i in 0..<rowBytes { cur[i] &+= up[i] } }
            case 3:
                if let up {
                    for i in 0..<min(bpp, rowBytes) { cur[i] &+= up[i] >> 1 }
                    if rowBytes > bpp {
                        for i in bpp..<rowBytes { cur[i] &+= UInt8((Int(cur[i - bpp]) + Int(up[i])) >> 1) }
                    }
                } else if rowBytes > bpp {
                    for i in bpp..<rowBytes { cur[i] &+= cur[i - bpp] >> 1 }
                }
            case 4:
                if let up {
                    for i in 0..<min(bpp, rowBytes) { cur[i] &+= up[i] }   // Paeth(0, b, 0) = b
                    if rowBytes > bpp {
                        for i in bpp..<rowBytes {
                            cur[i] &+= UInt8(paeth(Int(cur[i - bpp]), Int(up[i]), Int(up[i - bpp])))
                        }
                    }
                } else if rowBytes > bpp {
                    for i in bpp..<rowBytes { cur[i] &+= cur[i - bpp] }   // Paeth(a, 0, 0) = a
                }
            default:
                let passText = interlaced ? " of Adam7 pass \(pass + 1)" : ""
                throw error("filter type of scanline \(j)\(passText)", "0…4 (None, Sub, Up, Average, Paeth)",
                            "\(filter)")
            }
        }
    }

    /// Converts one unfiltered scanline of `count` pixels to 8-bit output samples, writing pixel
    /// `i` to column `x0 + i·dx` of row `y`.
    func convertRow(_ row: UnsafePointer<UInt8>, count: Int, into out: UnsafeMutablePointer<UInt8>,
                    y: Int, x0: Int, dx: Int, channels: Int) throws(DataError) {
        let rowStart = out + (y * width + x0) * channels
        let step = dx * channels
        if colorType == 3 {
            let entries = palette.count / 3
            try palette.withUnsafeBufferPointerTyped { (pal) throws(DataError) in
                for i in 0..<count {
                    let index = sample(row, i)
                    guard index < entries else {
                        throw error("palette index at row \(y), column \(x0 + i * dx)",
                                    "an index below the palette size \(entries)", "\(index)")
                    }
                    let o = rowStart + i * step
                    o[0] = pal[3 * index]
                    o[1] = pal[3 * index + 1]
                    o[2] = pal[3 * index + 2]
                    if channels == 4 { o[3] = paletteAlpha![index] }
                }
            }
            return
        }
        switch bitDepth {
        case 8:
            if dx == 1 {
                rowStart.update(from: row, count: count * channels)
            } else {
                for i in 0..<count { (rowStart + i * step).update(from: row + i * channels, count: channels) }
            }
        case 16:
            for i in 0..<count {
                let o = rowStart + i * step, r = row + 2 * i * channels
                for s in 0..<channels {
                    let v = Int(r[2 * s]) << 8 | Int(r[2 * s + 1])
                    o[s] = UInt8((v * 255 + 32767) / 65535)
                }
            }
        default:   // gray, 1/2/4 bits
            let scale = 255 / ((1 << bitDepth) - 1)
            for i in 0..<count { rowStart[i * step] = UInt8(sample(row, i) * scale) }
        }
    }

    /// The `i`-th sample of a row of 1/2/4/8-bit samples (most significant bits first).
    @inline(__always) func sample(_ row: UnsafePointer<UInt8>, _ i: Int) -> Int {
        if bitDepth == 8 { return Int(row[i]) }
        let bit = i * bitDepth
        let shift = 8 - bitDepth - (bit & 7)
        return (Int(row[bit >> 3]) >> shift) & ((1 << bitDepth) - 1)
    }

    static let signature = PNGImage.signature
}
