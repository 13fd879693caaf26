import Foundation

/// A one-line progress display on standard error: a bar, steps done, elapsed time, ETA and the
/// step now running. Silent when standard error is not a terminal (logs stay clean).
final class ProgressLine {
    private let start = Date()
    private let enabled = isatty(STDERR_FILENO) != 0
    private var lastWidth = 0

    func update(done: Int, total: Int, label: String) {
        guard enabled, total > 0 else { return }
        let fraction = Double(done) / Double(total)
        let filled = Int(fraction * 20)
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: 20 - filled)
        let elapsed = Date().timeIntervalSince(start)
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : .nan
        let line = "\(bar) \(done)/\(total)  \(Self.clock(elapsed)) elapsed, ETA \(Self.clock(eta))  \(label)"
        let pad = String(repeating: " ", count: max(0, lastWidth - line.count))
        FileHandle.standardError.write(Data(("\r" + line + pad).utf8))
        lastWidth = line.count
    }

    /// Shows a bar at `fraction` (0…1) followed by free text.
    func show(fraction: Double, text: String) {
        guard enabled else { return }
        let filled = max(0, min(20, Int(fraction * 20)))
        let line = String(repeating: "█", count: filled) + String(repeating: "░", count: 20 - filled) + " " + text
        let pad = String(repeating: " ", count: max(0, lastWidth - line.count))
        FileHandle.standardError.write(Data(("\r" + line + pad).utf8))
        lastWidth = line.count
    }

    func finish() {
        guard enabled, lastWidth > 0 else { return }
        FileHandle.standardError.write(Data(("\r" + String(repeating: " ", count: lastWidth) + "\r").utf8))
        lastWidth = 0
    }

    static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "--:--" }
        let s = Int(seconds.rounded())
        return String(format: "%d:%02d", s / 60, s % 60)
    }
}
