/// CRC-32 as used by PNG chunks and gzip (ISO 3309: reflected polynomial 0xEDB88320, initial and
/// final XOR 0xFFFFFFFF), table-driven.
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// CRC of `bytes[range]`.
    static func checksum(_ bytes: [UInt8], _ range: Range<Int>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            bytes.withUnsafeBufferPointer { b in
                for i in range { crc = t[Int((crc ^ UInt32(b[i])) & 0xFF)] ^ (crc >> 8) }
            }
        }
        return crc ^ 0xFFFF_FFFF
    }
}

/// Adler-32 (RFC 1950), the checksum that ends a zlib stream.
enum Adler32 {
    static func checksum(_ p: UnsafePointer<UInt8>, count: Int) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        var i = 0
        while i < count {
            // 5,552 is the most bytes that can be summed before b could overflow 32 bits.
            let end = min(count, i + 5552)
            while i < end {
                a &+= UInt32(p[i])
                b &+= a
                i += 1
            }
            a %= 65521
            b %= 65521
        }
        return (b << 16) | a
    }
}
