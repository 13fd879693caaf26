import Foundation
import PFSBench
import PFSModels
import PFSPruning

/// Where latency tables are cached, and how they are found or measured for `pfs prune`.
enum LatencyCache {
    /// `$PFS_CACHE_DIR`, else `$XDG_CACHE_HOME/pfs`, else `~/.cache/pfs`; tables go in `latency/`.
    static var directory: String {
        let environment = ProcessInfo.processInfo.environment
        let base = environment["PFS_CACHE_DIR"].flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : ($0 as NSString).appendingPathComponent("pfs") }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/pfs")
        return (base as NSString).appendingPathComponent("latency")
    }

    /// The cache file of the table of `full` at `batch` on this machine as set up now.
    static func file(for full: ChannelConfiguration, batch: Int) -> String {
        (directory as NSString).appendingPathComponent(LatencyTable.cacheFileName(for: full, batch: batch))
    }

    /// The table in `file`, or the cached one, or a new one measured now and cached.
    static func table(for full: ChannelConfiguration, batch: Int, file: String?) throws -> (LatencyTable, String) {
        if let file {
            let table = try LatencyTable.load(file, expecting: .current)
            guard table.batch == batch else {
                throw PruningError.mismatch(file: file, field: "batch", expected: "\(batch) (--latency-batch)", got: "\(table.batch)")
            }
            return (table, file)
        }
        let cached = Self.file(for: full, batch: batch)
        if FileManager.default.fileExists(atPath: cached) { return (try LatencyTable.load(cached, expecting: .current), cached) }
        print("measuring the latency table of \(full.architecture.rawValue) at batch \(batch) (once per CPU, threads and batch) …")
        let bar = ProgressLine()
        let table = try LatencyTable.measure(full, batch: batch, progress: bar.update)
        bar.finish()
        try table.save(to: cached)
        print("saved  \(cached)  (\(String(format: "%.0f", table.measuringSeconds)) s)")
        return (table, cached)
    }

    /// Machine, layers and the calibration points of a table.
    static func summary(_ table: LatencyTable) -> String {
        var lines = ["latency table  \(table.full.architecture.rawValue), batch \(table.batch), \(table.layers.count) layers, "
                     + "\(table.layers.reduce(0) { $0 + $1.milliseconds.reduce(0) { $0 + $1.count } }) grid points; "
                     + "\(table.machine)"]
        lines.append(renderTable(header: ["network", "measured ms", "table sum ms", "ratio"],
                                 rows: table.calibrationPoints.map {
                                     ["prunable widths × \($0.scale)", String(format: "%.3f", $0.measuredMilliseconds),
                                      String(format: "%.3f", $0.summedMilliseconds),
                                      String(format: "%.3f", $0.measuredMilliseconds / $0.summedMilliseconds)]
                                 }))
        lines.append("calibration ×\(String(format: "%.3f", table.calibration)) (median ratio); measured in "
                     + String(format: "%.0f", table.measuringSeconds) + " s")
        return lines.joined(separator: "\n")
    }
}
