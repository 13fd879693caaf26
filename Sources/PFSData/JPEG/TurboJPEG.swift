#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// JPEG decoding by libjpeg-turbo's TurboJPEG API, opened at run time with `dlopen` — the way the
/// system BLAS is — so the package still builds and runs with only the Swift toolchain.
///
/// `PFS_TURBOJPEG_LIBRARY` (a path or soname) is tried first, then `libturbojpeg.so.0` and
/// `libturbojpeg.so` (Linux: `apt-get install libturbojpeg0`), then `libturbojpeg.0.dylib` and
/// Homebrew's path on macOS. When none loads, ``shared`` is `nil` and decoding a JPEG is refused
/// with an error that says what to install (``unavailable(file:)``).
///
/// **What decodes.** Baseline and progressive JPEGs, any chroma subsampling, 8-bit samples:
/// YCbCr and RGB JPEGs become RGB (C = 3), gray ones gray (C = 1). Decoding uses the accurate
/// integer IDCT and libjpeg's default (fancy) upsampling, as Pillow does, so pixels match Pillow's
/// decode of the same file. EXIF orientation is ignored: pixels are returned in stored order,
/// as Pillow's `Image.open` returns them without `ImageOps.exif_transpose`.
///
/// **What is refused** (a ``DataError`` naming the file): bytes that do not start with a JPEG
/// start-of-image marker; CMYK and YCCK JPEGs (convert them to RGB first); images above
/// ``PNGImage/maximumPixelCount`` pixels; and corrupt or truncated data — a warning from the
/// decoder (e.g. "premature end of data") is an error, so a damaged file never becomes a
/// silently grey-filled training image.
public final class TurboJPEG: @unchecked Sendable {
    /// The loaded library (path or soname).
    public let library: String

    typealias InitDecompress = @convention(c) () -> UnsafeMutableRawPointer?
    typealias DecompressHeader3 = @convention(c) (
        UnsafeMutableRawPointer?, UnsafePointer<UInt8>?, UInt, UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?,
        UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?) -> Int32
    typealias Decompress2 = @convention(c) (
        UnsafeMutableRawPointer?, UnsafePointer<UInt8>?, UInt, UnsafeMutablePointer<UInt8>?, Int32, Int32, Int32, Int32,
        Int32) -> Int32
    typealias Destroy = @convention(c) (UnsafeMutableRawPointer?) -> Int32
    typealias ErrorString = @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutablePointer<CChar>?

    private let initDecompress: InitDecompress
    private let decompressHeader3: DecompressHeader3
    private let decompress2: Decompress2
    private let destroy: Destroy
    private let errorString: ErrorString

    // TurboJPEG constants (turbojpeg.h, API 2.x).
    static let pixelFormatRGB: Int32 = 0, pixelFormatGray: Int32 = 6
    static let colourSpaceGray: Int32 = 2, colourSpaceCMYK: Int32 = 3, colourSpaceYCCK: Int32 = 4
    static let flagAccurateDCT: Int32 = 4096, flagStopOnWarning: Int32 = 8192

    /// The TurboJPEG library of this process, or `nil` when none could be loaded.
    public static let shared: TurboJPEG? = load()

    /// Libraries tried, in order, when `PFS_TURBOJPEG_LIBRARY` is not set.
    public static let candidateLibraries = ["libturbojpeg.so.0", "libturbojpeg.so", "libturbojpeg.0.dylib",
                                            "/opt/homebrew/lib/libturbojpeg.0.dylib", "/usr/local/lib/libturbojpeg.0.dylib"]

    private init(library: String, handle: UnsafeMutableRawPointer) throws {
        func symbol<T>(_ name: String, _ type: T.Type) throws -> T {
            guard let pointer = dlsym(handle, name) else { throw DataError(file: library, field: name, expected: "the symbol", got: "none") }
            return unsafeBitCast(pointer, to: type)
        }
        self.library = library
        initDecompress = try symbol("tjInitDecompress", InitDecompress.self)
        decompressHeader3 = try symbol("tjDecompressHeader3", DecompressHeader3.self)
        decompress2 = try symbol("tjDecompress2", Decompress2.self)
        destroy = try symbol("tjDestroy", Destroy.self)
        errorString = try symbol("tjGetErrorStr2", ErrorString.self)
    }

    static func load() -> TurboJPEG? {
        let override = ProcessInfo.processInfo.environment["PFS_TURBOJPEG_LIBRARY"].flatMap { $0.isEmpty ? nil : $0 }
        for name in (override.map { [$0] } ?? []) + candidateLibraries {
            guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) else { continue }
            if let library = try? TurboJPEG(library: name, handle: handle) { return library }
            dlclose(handle)
        }
        return nil
    }

    /// The error for a JPEG met when no decoder could be loaded: what to install.
    public static func unavailable(file: String) -> DataError {
        let tried = (ProcessInfo.processInfo.environment["PFS_TURBOJPEG_LIBRARY"].map { [$0] } ?? []) + candidateLibraries
        return DataError(file: file, field: "JPEG decoder",
                         expected: "libjpeg-turbo's TurboJPEG library (Debian/Ubuntu: apt-get install libturbojpeg0; "
                             + "macOS: brew install jpeg-turbo; or set PFS_TURBOJPEG_LIBRARY to its path)",
                         got: "none could be loaded (tried \(tried.joined(separator: ", ")))")
    }

    /// Whether `bytes` start with a JPEG start-of-image marker (FF D8 FF).
    public static func isJPEG(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF
    }

    /// Decodes a JPEG file's bytes to 8-bit interleaved pixels (the image type PNG decoding uses):
    /// C = 3 (RGB) or 1 (gray). `file` names it in errors.
    public func decode(_ bytes: [UInt8], file: String) throws(DataError) -> PNGImage {
        guard Self.isJPEG(bytes) else {
            throw DataError(file: file, field: "signature", expected: "a JPEG file (starting FF D8 FF)",
                            got: bytes.prefix(4).map { String(format: "%02X", $0) }.joined(separator: " ")
                                + (bytes.count < 4 ? " (\(bytes.count) bytes)" : ""))
        }
        guard let handle = initDecompress() else {
            throw DataError(file: file, field: "JPEG decoder", expected: "a TurboJPEG decompressor", got: "none (out of memory?)")
        }
        defer { _ = destroy(handle) }
        func message() -> String { errorString(handle).map { String(cString: $0) } ?? "an unknown error" }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colourSpace: Int32 = 0
        let header = bytes.withUnsafeBufferPointer {
            decompressHeader3(handle, $0.baseAddress, UInt($0.count), &width, &height, &subsampling, &colourSpace)
        }
        guard header == 0 else {
            throw DataError(file: file, field: "JPEG header", expected: "a valid JPEG header", got: message())
        }
        guard colourSpace != Self.colourSpaceCMYK && colourSpace != Self.colourSpaceYCCK else {
            throw DataError(file: file, field: "colour space", expected: "a gray, RGB or YCbCr JPEG (convert CMYK images to RGB)",
                            got: colourSpace == Self.colourSpaceCMYK ? "CMYK" : "YCCK (Adobe CMYK)")
        }
        let w = Int(width), h = Int(height)
        guard w >= 1, h >= 1, w * h <= PNGImage.maximumPixelCount else {
            throw DataError(file: file, field: "image size",
                            expected: "1 … \(grouped(PNGImage.maximumPixelCount)) pixels", got: "\(w)×\(h) (width×height)")
        }
        let gray = colourSpace == Self.colourSpaceGray
        let channels = gray ? 1 : 3
        var pixels = [UInt8](repeating: 0, count: w * h * channels)
        let status = bytes.withUnsafeBufferPointer { source in
            pixels.withUnsafeMutableBufferPointer { out in
                decompress2(handle, source.baseAddress, UInt(source.count), out.baseAddress, width, Int32(w * channels), height,
                            gray ? Self.pixelFormatGray : Self.pixelFormatRGB, Self.flagAccurateDCT | Self.flagStopOnWarning)
            }
        }
        guard status == 0 else {
            throw DataError(file: file, field: "image data", expected: "complete, valid JPEG data", got: message())
        }
        return PNGImage(width: w, height: h, channels: channels, pixels: pixels)
    }
}
