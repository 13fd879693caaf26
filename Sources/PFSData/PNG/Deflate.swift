/// A small zlib/DEFLATE compressor for the PNG encoder: greedy LZ77 matching over a 32 KiB window
/// (hash chains on 3-byte prefixes) coded with the fixed Huffman code, falling back to stored
/// blocks when that would be smaller (incompressible data).
enum Deflater {
    /// A zlib stream (header 0x78 0x01, deflate data, Adler-32) holding `data`.
    static func zlib(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        let compressed = fixedHuffman(data)
        let storedSize = data.count + 5 * max(1, (data.count + 65534) / 65535)
        out.append(contentsOf: compressed.count < storedSize ? compressed : stored(data))
        let adler = data.withUnsafeBufferPointer { p in
            p.baseAddress.map { Adler32.checksum($0, count: p.count) } ?? 1
        }
        out.append(contentsOf: [UInt8(adler >> 24), UInt8((adler >> 16) & 0xFF), UInt8((adler >> 8) & 0xFF),
                                UInt8(adler & 0xFF)])
        return out
    }

    /// Stored (uncompressed) blocks of at most 65,535 bytes.
    static func stored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 5 * (data.count / 65535 + 1))
        var start = 0
        repeat {
            let len = min(65535, data.count - start)
            let final: UInt8 = start + len == data.count ? 1 : 0
            out.append(final)   // BFINAL, BTYPE 00, then padding to the byte boundary
            out.append(contentsOf: [UInt8(len & 0xFF), UInt8(len >> 8),
                                    UInt8(~len & 0xFF), UInt8((~len >> 8) & 0xFF)])
            out.append(contentsOf: data[start..<(start + len)])
            start += len
        } while start < data.count
        return out
    }

    /// One fixed-Huffman block (BTYPE 01) with greedy LZ77 matches.
    static func fixedHuffman(_ data: [UInt8]) -> [UInt8] {
        var writer = BitWriter()
        writer.write(1, bits: 1)   // BFINAL
        writer.write(1, bits: 2)   // BTYPE = 01 (fixed Huffman)
        let n = data.count
        let hashBits = 15, windowSize = 32768, maxChain = 48
        var head = [Int32](repeating: -1, count: 1 << hashBits)
        var previous = [Int32](repeating: -1, count: max(1, n))
        data.withUnsafeBufferPointer { d in
            head.withUnsafeMutableBufferPointer { head in
                previous.withUnsafeMutableBufferPointer { prev in
                    @inline(__always) func hash(_ i: Int) -> Int {
                        let v = Int(d[i]) << 16 | Int(d[i + 1]) << 8 | Int(d[i + 2])
                        return ((v &* 0x9E37_79B1) >> 16) & ((1 << hashBits) - 1)
                    }
                    @inline(__always) func insert(_ i: Int) {
                        guard i + 2 < n else { return }
                        let h = hash(i)
                        prev[i] = head[h]
                        head[h] = Int32(i)
                    }
                    var i = 0
                    while i < n {
                        var bestLength = 0, bestDistance = 0
                        if i + 2 < n {
                            var candidate = Int(head[hash(i)])
                            var chain = 0
                            let maxLength = min(258, n - i)
                            while candidate >= 0 && i - candidate <= windowSize && chain < maxChain {
                                if d[candidate + bestLength] == d[i + bestLength] || bestLength == 0 {
                                    var l = 0
                                    while l < maxLength && d[candidate + l] == d[i + l] { l += 1 }
                                    if l > bestLength {
                                        bestLength = l
                                        bestDistance = i - candidate
                                        if l == maxLength { break }
                                    }
                                }
                                candidate = Int(prev[candidate])
                                chain += 1
                            }
                        }
                        if bestLength >= 3 {
                            writer.writeLength(bestLength)
                            writer.writeDistance(bestDistance)
                            for k in 0..<bestLength { insert(i + k) }
                            i += bestLength
                        } else {
                            writer.writeLiteral(Int(d[i]))
                            insert(i)
                            i += 1
                        }
                    }
                }
            }
        }
        writer.writeLiteral(256)
        writer.flush()
        return writer.bytes
    }
}

/// Writes bits least significant first into bytes, and the fixed Huffman codes of RFC 1951.
struct BitWriter {
    var bytes: [UInt8] = []
    private var buffer: UInt64 = 0
    private var count = 0

    /// Fixed literal/length codes with their bits already reversed for LSB-first output.
    static let fixedCodes: [(code: UInt32, length: Int)] = {
        var codes: [(UInt32, Int)] = []
        var nextCode = [Int](repeating: 0, count: 10)
        let lengths = DeflateTables.fixedLiteralLengths
        var counts = [Int](repeating: 0, count: 10)
        for l in lengths { counts[Int(l)] += 1 }
        var code = 0
        for len in 1...9 {
            code = (code + counts[len - 1]) << 1
            nextCode[len] = code
        }
        for s in 0..<288 {
            let len = Int(lengths[s])
            let c = nextCode[len]
            nextCode[len] += 1
            codes.append((reverse(UInt32(c), len), len))
        }
        return codes
    }()

    static func reverse(_ code: UInt32, _ length: Int) -> UInt32 {
        var r: UInt32 = 0
        for b in 0..<length where (code >> UInt32(b)) & 1 != 0 { r |= 1 << UInt32(length - 1 - b) }
        return r
    }

    mutating func write(_ value: UInt32, bits n: Int) {
        buffer |= UInt64(value) << UInt64(count)
        count += n
        while count >= 8 {
            bytes.append(UInt8(buffer & 0xFF))
            buffer >>= 8
            count -= 8
        }
    }

    mutating func writeLiteral(_ symbol: Int) {
        let c = Self.fixedCodes[symbol]
        write(c.code, bits: c.length)
    }

    /// A match length 3…258: its length symbol and extra bits.
    mutating func writeLength(_ length: Int) {
        var i = DeflateTables.lengthBase.count - 1
        while DeflateTables.lengthBase[i] > length { i -= 1 }
        writeLiteral(257 + i)
        let extra = DeflateTables.lengthExtra[i]
        if extra > 0 { write(UInt32(length - DeflateTables.lengthBase[i]), bits: extra) }
    }

    /// A distance 1…32,768: its 5-bit fixed code and extra bits.
    mutating func writeDistance(_ distance: Int) {
        var i = DeflateTables.distanceBase.count - 1
        while DeflateTables.distanceBase[i] > distance { i -= 1 }
        write(Self.reverse(UInt32(i), 5), bits: 5)
        let extra = DeflateTables.distanceExtra[i]
        if extra > 0 { write(UInt32(distance - DeflateTables.distanceBase[i]), bits: extra) }
    }

    /// Writes out a last partial byte.
    mutating func flush() {
        if count > 0 { bytes.append(UInt8(buffer & 0xFF)) }
        buffer = 0
        count = 0
    }
}
