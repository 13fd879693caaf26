/// Why a zlib/DEFLATE stream could not be decoded: what was expected there and what was found.
struct InflateError: Error {
    let expected: String
    let got: String
}

/// Base values and extra-bit counts of the DEFLATE length (257…285) and distance (0…29) codes
/// (RFC 1951 §3.2.5), shared by the inflater and the deflater.
enum DeflateTables {
    static let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59,
                                    67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3,
                                     4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769,
                                      1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distanceExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8,
                                       9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    /// Order in which a dynamic block lists the code lengths of the code-length alphabet.
    static let codeLengthOrder: [Int] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    /// Code lengths of the fixed literal/length code (block type 1).
    static let fixedLiteralLengths: [UInt8] = (0..<288).map { s in
        s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8
    }
}

/// A canonical Huffman code prepared for decoding: a direct lookup table for codes of up to
/// `fastBits` bits (indexed by the next bits of the stream, least significant first) and the
/// per-length counts and sorted symbols for the rare longer codes.
final class HuffmanDecoder {
    static let fastBits = 10
    static let maxBits = 15
    /// Entry = symbol << 4 | code length; 0 = no code of ≤ fastBits bits starts with these bits.
    let fast: UnsafeMutablePointer<UInt16>
    let counts: UnsafeMutablePointer<Int>      // codes per length, 0…15
    let symbols: UnsafeMutablePointer<UInt16>  // symbols ordered by (length, value)
    let capacity: Int

    init(maxSymbols: Int) {
        capacity = maxSymbols
        fast = .allocate(capacity: 1 << Self.fastBits)
        counts = .allocate(capacity: Self.maxBits + 1)
        symbols = .allocate(capacity: maxSymbols)
    }

    deinit {
        fast.deallocate()
        counts.deallocate()
        symbols.deallocate()
    }

    /// Builds the code from per-symbol code lengths (0 = unused). Over-subscribed codes are
    /// refused; incomplete ones are accepted (an unused code is refused when met in the stream).
    func build(lengths: UnsafePointer<UInt8>, count n: Int, name: String) throws(InflateError) {
        precondition(n <= capacity)
        counts.update(repeating: 0, count: Self.maxBits + 1)
        for s in 0..<n { counts[Int(lengths[s])] += 1 }
        counts[0] = 0
        var left = 1
        for len in 1...Self.maxBits {
            left <<= 1
            left -= counts[len]
            if left < 0 {
                throw InflateError(expected: "a valid \(name) Huffman code", got: "an over-subscribed code")
            }
        }
        var offsets = [Int](repeating: 0, count: Self.maxBits + 2)
        for len in 1...Self.maxBits { offsets[len + 1] = offsets[len] + counts[len] }
        for s in 0..<n where lengths[s] != 0 {
            let len = Int(lengths[s])
            symbols[offsets[len]] = UInt16(s)
            offsets[len] += 1
        }
        // Canonical codes: first code of each length, then consecutive values in symbol order.
        var nextCode = [Int](repeating: 0, count: Self.maxBits + 1)
        var code = 0
        for len in 1...Self.maxBits {
            code = (code + counts[len - 1]) << 1
            nextCode[len] = code
        }
        fast.update(repeating: 0, count: 1 << Self.fastBits)
        for s in 0..<n where lengths[s] != 0 {
            let len = Int(lengths[s])
            let c = nextCode[len]
            nextCode[len] += 1
            guard len <= Self.fastBits else { continue }
            var reversed = 0
            for b in 0..<len where (c >> b) & 1 != 0 { reversed |= 1 << (len - 1 - b) }
            let entry = UInt16(s << 4 | len)
            var i = reversed
            while i < 1 << Self.fastBits {
                fast[i] = entry
                i += 1 << len
            }
        }
    }
}

/// zlib (RFC 1950) and DEFLATE (RFC 1951) decompression: stored, fixed-Huffman and
/// dynamic-Huffman blocks, back-references across block boundaries, and the Adler-32 check.
final class Inflater {
    private let input: UnsafeMutablePointer<UInt8>
    private let inputCount: Int
    private var position = 0          // next input byte to load into the bit buffer
    private var bitBuffer: UInt64 = 0 // unread bits, least significant first
    private var bitCount = 0

    private var output: UnsafeMutablePointer<UInt8>
    private var outputCount = 0
    private var outputCapacity: Int
    private let outputLimit: Int

    private let literals = HuffmanDecoder(maxSymbols: 288)
    private let distances = HuffmanDecoder(maxSymbols: 32)
    private let codeLengths = HuffmanDecoder(maxSymbols: 19)

    /// Decompresses a zlib stream. `outputLimit` bounds the result (a stream that would produce
    /// more is refused); `expectedSize`, when known, sizes the output buffer at once.
    static func zlib(_ bytes: [UInt8], expectedSize: Int? = nil,
                     outputLimit: Int = 1 << 31) throws(InflateError) -> [UInt8] {
        let inflater = Inflater(bytes, capacity: min(expectedSize ?? max(1024, bytes.count * 4), outputLimit),
                                limit: outputLimit)
        return try inflater.run(zlibWrapped: true)
    }

    /// Decompresses raw DEFLATE data (no zlib header or checksum).
    static func raw(_ bytes: [UInt8], outputLimit: Int = 1 << 31) throws(InflateError) -> [UInt8] {
        let inflater = Inflater(bytes, capacity: min(max(1024, bytes.count * 4), outputLimit), limit: outputLimit)
        return try inflater.run(zlibWrapped: false)
    }

    private init(_ bytes: [UInt8], capacity: Int, limit: Int) {
        inputCount = bytes.count
        let copy = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, bytes.count))
        bytes.withUnsafeBufferPointer { b in
            if let base = b.baseAddress { copy.initialize(from: base, count: b.count) }
        }
        input = copy
        outputCapacity = max(1, capacity)
        output = .allocate(capacity: outputCapacity)
        outputLimit = limit
    }

    deinit {
        input.deallocate()
        output.deallocate()
    }

    private func run(zlibWrapped: Bool) throws(InflateError) -> [UInt8] {
        if zlibWrapped {
            guard inputCount >= 2 else {
                throw InflateError(expected: "a 2-byte zlib header", got: "\(inputCount) bytes of data")
            }
            let cmf = Int(input[0]), flg = Int(input[1])
            guard cmf & 0x0F == 8 else {
                throw InflateError(expected: "zlib compression method 8 (deflate)", got: "method \(cmf & 0x0F)")
            }
            guard cmf >> 4 <= 7 else {
                throw InflateError(expected: "a zlib window size of at most 32 KiB (CINFO ≤ 7)", got: "CINFO \(cmf >> 4)")
            }
            guard (cmf << 8 | flg) % 31 == 0 else {
                throw InflateError(expected: "a zlib header whose check bits make it a multiple of 31",
                                   got: "header bytes 0x\(hex(cmf, 2)) 0x\(hex(flg, 2))")
            }
            guard flg & 0x20 == 0 else {
                throw InflateError(expected: "no preset dictionary", got: "the FDICT flag set")
            }
            position = 2
        }
        var final = false
        while !final {
            try checkNotPastEnd()
            final = try bits(1) == 1
            switch try bits(2) {
            case 0: try storedBlock()
            case 1:
                try DeflateTables.fixedLiteralLengths.withUnsafeBufferPointerTyped { p throws(InflateError) in
                    try literals.build(lengths: p.baseAddress!, count: 288, name: "fixed literal/length")
                }
                var five = [UInt8](repeating: 5, count: 32)
                try five.withUnsafeMutableBufferPointerTyped { p throws(InflateError) in
                    try distances.build(lengths: p.baseAddress!, count: 32, name: "fixed distance")
                }
                try huffmanBlock()
            case 2:
                try readDynamicTables()
                try huffmanBlock()
            default:
                throw InflateError(expected: "a deflate block type 0, 1 or 2", got: "the reserved type 3")
            }
        }
        if zlibWrapped {
            alignToByte()
            guard position + 4 <= inputCount else {
                throw InflateError(expected: "a 4-byte Adler-32 checksum after the compressed data",
                                   got: "\(max(0, inputCount - position)) bytes (truncated data)")
            }
            let stored = UInt32(input[position]) << 24 | UInt32(input[position + 1]) << 16
                | UInt32(input[position + 2]) << 8 | UInt32(input[position + 3])
            let computed = Adler32.checksum(output, count: outputCount)
            guard stored == computed else {
                throw InflateError(expected: "Adler-32 0x\(hex(Int(computed), 8)) of the decompressed data",
                                   got: "0x\(hex(Int(stored), 8)) stored in the stream")
            }
        }
        return Array(UnsafeBufferPointer(start: output, count: outputCount))
    }

    // MARK: Bits

    /// Loads whole bytes until at least 57 bits are buffered; past the end of the input zeros are
    /// loaded, and ``checkNotPastEnd()`` notices if any of them is consumed.
    @inline(__always) private func refill() {
        while bitCount <= 56 {
            let byte: UInt64 = position < inputCount ? UInt64(input[position]) : 0
            bitBuffer |= byte << UInt64(bitCount)
            bitCount += 8
            position += 1
        }
    }

    @inline(__always) private func bits(_ n: Int) throws(InflateError) -> Int {
        if n == 0 { return 0 }
        if bitCount < n { refill() }
        let v = Int(bitBuffer & ((1 << UInt64(n)) - 1))
        bitBuffer >>= UInt64(n)
        bitCount -= n
        return v
    }

    /// Throws when more bits have been consumed than the input holds.
    @inline(__always) private func checkNotPastEnd() throws(InflateError) {
        if position > inputCount && position * 8 - bitCount > inputCount * 8 {
            throw InflateError(expected: "more compressed data", got: "the end of the data (truncated stream)")
        }
    }

    /// Drops the bits up to the next byte boundary and returns unread whole bytes to the input.
    private func alignToByte() {
        let drop = bitCount % 8
        bitBuffer >>= UInt64(drop)
        bitCount -= drop
        position -= bitCount / 8
        bitBuffer = 0
        bitCount = 0
    }

    @inline(__always) private func decode(_ code: HuffmanDecoder) throws(InflateError) -> Int {
        if bitCount < HuffmanDecoder.maxBits { refill() }
        let entry = Int(code.fast[Int(bitBuffer & UInt64((1 << HuffmanDecoder.fastBits) - 1))])
        if entry != 0 {
            let len = entry & 15
            bitBuffer >>= UInt64(len)
            bitCount -= len
            return entry >> 4
        }
        return try decodeSlow(code)
    }

    /// Bit-by-bit canonical decoding, for codes longer than the lookup table.
    private func decodeSlow(_ code: HuffmanDecoder) throws(InflateError) -> Int {
        var value = 0, first = 0, index = 0
        for len in 1...HuffmanDecoder.maxBits {
            value |= Int((bitBuffer >> UInt64(len - 1)) & 1)
            let count = code.counts[len]
            if value - first < count {
                bitBuffer >>= UInt64(len)
                bitCount -= len
                return Int(code.symbols[index + value - first])
            }
            index += count
            first = (first + count) << 1
            value <<= 1
        }
        throw InflateError(expected: "a valid Huffman code", got: "a bit sequence that codes no symbol")
    }

    // MARK: Output

    @inline(__always) private func reserve(_ n: Int) throws(InflateError) {
        if outputCount + n <= outputCapacity { return }
        guard outputCount + n <= outputLimit else {
            throw InflateError(expected: "at most \(grouped(outputLimit)) bytes of decompressed data",
                               got: "more")
        }
        var newCapacity = outputCapacity
        while newCapacity < outputCount + n { newCapacity = min(outputLimit, newCapacity * 2) }
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        grown.moveInitialize(from: output, count: outputCount)
        output.deallocate()
        output = grown
        outputCapacity = newCapacity
    }

    // MARK: Blocks

    private func storedBlock() throws(InflateError) {
        alignToByte()
        guard position + 4 <= inputCount else {
            throw InflateError(expected: "a stored block header (LEN, NLEN)", got: "the end of the data (truncated stream)")
        }
        let len = Int(input[position]) | Int(input[position + 1]) << 8
        let nlen = Int(input[position + 2]) | Int(input[position + 3]) << 8
        guard len == nlen ^ 0xFFFF else {
            throw InflateError(expected: "a stored block with NLEN = ~LEN", got: "LEN \(len), NLEN \(nlen)")
        }
        position += 4
        guard position + len <= inputCount else {
            throw InflateError(expected: "\(grouped(len)) bytes of stored data",
                               got: "\(grouped(inputCount - position)) bytes (truncated stream)")
        }
        try reserve(len)
        (output + outputCount).update(from: input + position, count: len)
        outputCount += len
        position += len
    }

    private func readDynamicTables() throws(InflateError) {
        let hlit = try bits(5) + 257, hdist = try bits(5) + 1, hclen = try bits(4) + 4
        guard hlit <= 286, hdist <= 30 else {
            throw InflateError(expected: "at most 286 literal/length and 30 distance codes",
                               got: "\(hlit) and \(hdist)")
        }
        var lengths = [UInt8](repeating: 0, count: 19 + 286 + 30)
        for i in 0..<hclen { lengths[DeflateTables.codeLengthOrder[i]] = UInt8(try bits(3)) }
        try lengths.withUnsafeMutableBufferPointerTyped { p throws(InflateError) in
            try codeLengths.build(lengths: p.baseAddress!, count: 19, name: "code-length")
        }
        // The literal/length and distance code lengths form one sequence (repeats may cross).
        var all = [UInt8](repeating: 0, count: hlit + hdist)
        var i = 0
        while i < hlit + hdist {
            try checkNotPastEnd()
            let sym = try decode(codeLengths)
            var value: UInt8 = 0, repeatCount = 1
            switch sym {
            case 0...15: value = UInt8(sym)
            case 16:
                guard i > 0 else {
                    throw InflateError(expected: "a code length before a repeat code (16)", got: "a repeat at the start")
                }
                value = all[i - 1]
                repeatCount = 3 + (try bits(2))
            case 17: repeatCount = 3 + (try bits(3))
            default: repeatCount = 11 + (try bits(7))
            }
            guard i + repeatCount <= hlit + hdist else {
                throw InflateError(expected: "\(hlit + hdist) code lengths", got: "a repeat running past them")
            }
            for _ in 0..<repeatCount { all[i] = value; i += 1 }
        }
        guard all[256] != 0 else {
            throw InflateError(expected: "a code for the end-of-block symbol 256", got: "none")
        }
        try all.withUnsafeMutableBufferPointerTyped { p throws(InflateError) in
            try literals.build(lengths: p.baseAddress!, count: hlit, name: "literal/length")
            try distances.build(lengths: p.baseAddress! + hlit, count: hdist, name: "distance")
        }
    }

    private func huffmanBlock() throws(InflateError) {
        while true {
            let sym = try decode(literals)
            if position > inputCount { try checkNotPastEnd() }
            if sym < 256 {
                if outputCount == outputCapacity { try reserve(1) }
                output[outputCount] = UInt8(sym)
                outputCount += 1
                continue
            }
            if sym == 256 { return }
            let li = sym - 257
            guard li < 29 else { throw InflateError(expected: "a length code 257…285", got: "\(sym)") }
            let length = DeflateTables.lengthBase[li] + (try bits(DeflateTables.lengthExtra[li]))
            let dsym = try decode(distances)
            guard dsym < 30 else { throw InflateError(expected: "a distance code 0…29", got: "\(dsym)") }
            let distance = DeflateTables.distanceBase[dsym] + (try bits(DeflateTables.distanceExtra[dsym]))
            if position > inputCount { try checkNotPastEnd() }
            guard distance <= outputCount else {
                throw InflateError(expected: "a back-reference within the \(grouped(outputCount)) bytes decoded so far",
                                   got: "distance \(grouped(distance))")
            }
            try reserve(length)
            let out = output
            var from = outputCount - distance, to = outputCount
            let end = outputCount + length
            while to < end {   // byte by byte: the source may overlap what is being written
                out[to] = out[from]
                to += 1
                from += 1
            }
            outputCount = end
        }
    }
}

@usableFromInline func hex(_ v: Int, _ digits: Int) -> String {
    let s = String(v, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, digits - s.count)) + s
}

extension Array {
    /// `withUnsafeBufferPointer` for bodies with a typed error.
    func withUnsafeBufferPointerTyped<R, E: Error>(_ body: (UnsafeBufferPointer<Element>) throws(E) -> R) throws(E) -> R {
        let result: Result<R, E> = withUnsafeBufferPointer { p in
            do throws(E) { return .success(try body(p)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// `withUnsafeMutableBufferPointer` for bodies with a typed error.
    mutating func withUnsafeMutableBufferPointerTyped<R, E: Error>(
        _ body: (UnsafeMutableBufferPointer<Element>) throws(E) -> R
    ) throws(E) -> R {
        let result: Result<R, E> = withUnsafeMutableBufferPointer { p in
            do throws(E) { return .success(try body(p)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}
