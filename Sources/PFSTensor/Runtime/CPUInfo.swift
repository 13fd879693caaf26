import Foundation

/// What the processor offers, for `pfs info` and benchmark reports.
public struct CPUInfo: Sendable {
    /// Marketing name of the processor, if the platform reports one.
    public var model: String
    /// Logical processors available to this process.
    public var logicalCores: Int
    /// Vector instruction-set extensions present (e.g. `sse4_2`, `avx2`, `fma`, `avx512f`, `neon`).
    public var vectorFeatures: [String]
    /// Every feature flag the platform reports (Linux: the `flags` line of /proc/cpuinfo).
    public var flags: Set<String> = []
    /// x86 vendor string (`GenuineIntel`, `AuthenticAMD`), empty where the platform reports none.
    public var vendor: String = ""
    /// x86 CPU family (AMD: 23 Zen 1–2, 25 Zen 3–4, 26 Zen 5), nil where the platform reports none.
    public var family: Int?

    public static func current() -> CPUInfo {
        var model = "unknown"
        var features: [String] = []
        var allFlags: Set<String> = []
        var vendor = "", family: Int?
        #if os(Linux)
        if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) {
            var flags: Set<String> = []
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2 else { continue }
                if parts[0] == "model name", model == "unknown" { model = parts[1] }
                if parts[0] == "vendor_id", vendor.isEmpty { vendor = parts[1] }
                if parts[0] == "cpu family", family == nil { family = Int(parts[1]) }
                if parts[0] == "flags" || parts[0] == "Features" {
                    flags.formUnion(parts[1].split(separator: " ").map(String.init))
                }
            }
            let interesting = ["sse2", "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl",
                               "avx512_vnni", "avx512_bf16", "amx_tile", "asimd", "sve"]
            features = interesting.filter(flags.contains)
            allFlags = flags
        }
        #elseif arch(arm64)
        features = ["neon"]
        #endif
        return CPUInfo(model: model, logicalCores: ProcessInfo.processInfo.activeProcessorCount,
                       vectorFeatures: features, flags: allFlags, vendor: vendor, family: family)
    }
}
