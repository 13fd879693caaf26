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
    /// Bytes of the level-2 data (or unified) cache of one core, nil where the platform reports none.
    public var l2CacheBytes: Int? = CPUInfo.detectedL2CacheBytes

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

    /// The L2 cache of CPU 0: Linux's sysfs (x86 and arm64 alike: the `index*` entry of level 2
    /// that is not an instruction cache), else `sysconf`; nil where neither reports one.
    public static let detectedL2CacheBytes: Int? = {
        #if os(Linux)
        let base = "/sys/devices/system/cpu/cpu0/cache"
        for index in 0..<8 {
            func field(_ name: String) -> String? {
                (try? String(contentsOfFile: "\(base)/index\(index)/\(name)", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            guard field("level") == "2", field("type") != "Instruction", let size = field("size"),
                  let bytes = parseCacheSize(size) else { continue }
            return bytes
        }
        let reported = sysconf(Int32(_SC_LEVEL2_CACHE_SIZE))
        return reported > 0 ? reported : nil
        #else
        return nil
        #endif
    }()

    /// "1024K", "2M", "512" (bytes) → bytes; nil for anything else.
    static func parseCacheSize(_ text: String) -> Int? {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        guard let last = text.last else { return nil }
        let scale = units[Character(last.uppercased())]
        guard let number = Int(scale == nil ? text : String(text.dropLast())), number > 0 else { return nil }
        return number * (scale ?? 1)
    }
}
