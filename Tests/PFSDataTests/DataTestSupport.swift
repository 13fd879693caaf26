import Foundation
@testable import PFSData
import PFSTensor
import Testing

// Helpers shared by the PFSData tests: temporary directories, file writers, CIFAR records and
// the capture of thrown `DataError`s.

/// Runs `body` with the path of a fresh, empty temporary directory, removed afterwards.
func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("PFSDataTests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url.path)
}

/// Writes `bytes` to `path`, creating the parent directories.
func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    let url = URL(fileURLWithPath: path)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(bytes).write(to: url)
}

/// Writes `text` (UTF-8) to `path`, creating the parent directories.
func writeText(_ path: String, _ text: String) throws {
    try writeFile(path, Array(text.utf8))
}

/// Creates the directory `path` (and its parents).
func makeDirectory(_ path: String) throws {
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
}

/// `directory/name`.
func join(_ directory: String, _ name: String) -> String { directory + "/" + name }

/// The 3,072 pixel bytes of synthetic CIFAR record `record`: a pattern that differs between
/// records, channels, rows and columns, so any mix-up of the layout shows.
func cifarPixels(record: Int) -> [UInt8] {
    (0..<CIFAR.imageBytes).map { j in UInt8(truncatingIfNeeded: record &* 131 &+ j &* 7 &+ (j >> 10) &* 3) }
}

/// Bytes of a CIFAR binary file: for each record its label bytes, then `cifarPixels(record:)`.
func cifarFile(labels: [[UInt8]]) -> [UInt8] {
    var bytes: [UInt8] = []
    for (i, label) in labels.enumerated() {
        bytes += label
        bytes += cifarPixels(record: i)
    }
    return bytes
}

/// Ten class names, one per line, as a `batches.meta.txt` holds them.
func classNameFile(_ names: [String]) -> String { names.joined(separator: "\n") + "\n" }

/// A dataset of `count` images of (C, H, W) whose pixels are all in 1…255 (never 0, so zero
/// padding is told apart) and differ between images; labels cycle through `classes` classes.
func syntheticDataset(count: Int, channels: Int, height: Int, width: Int, classes: Int = 3) throws -> ImageDataset {
    let perImage = channels * height * width
    let pixels = (0..<(count * perImage)).map { k in UInt8(1 + (k &* 37 &+ (k / perImage) &* 11) % 255) }
    return try ImageDataset(pixels: pixels, labels: (0..<count).map { $0 % classes }, channels: channels,
                            height: height, width: width, classNames: (0..<classes).map { "c\($0)" },
                            source: "synthetic")
}

/// The bit patterns of a tensor's elements, for bit-exact comparisons.
func bits(_ t: Tensor) -> [UInt32] { t.scalars.map(\.bitPattern) }

/// `(v/255 − mean)/std` computed in Double and rounded once, the documented normalisation.
func normalised(_ v: UInt8, mean: Float, std: Float) -> Float {
    Float((Double(v) / 255 - Double(mean)) / Double(std))
}

/// Runs `body` on its own thread and waits for it at most `seconds` (a guard that turns a
/// deadlock into a failure instead of a hung test run; no speed is asserted). True when it finished.
func finishes(within seconds: Double, _ body: @escaping @Sendable () -> Void) -> Bool {
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        body()
        done.signal()
    }
    thread.start()
    return done.wait(timeout: .now() + seconds) == .success
}
