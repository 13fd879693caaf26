import Foundation
import PFSKernelsC

/// The vector instruction set the engine's own kernels (direct convolutions, BatchNorm/clamp
/// loops) are compiled for. Chosen at run time from the CPU; a narrower one can be forced with
/// `PFS_ISA` so that an AVX-512 machine also runs, tests and benchmarks the AVX2 path.
public enum InstructionSet: String, CaseIterable, Comparable, Sendable, CustomStringConvertible {
    /// Portable Swift loops (`SIMD16<Float>`) and im2col + SGEMM for every convolution.
    case portable
    /// AVX2 + FMA: 8-lane kernels (AMD Zen 2–4, Intel client CPUs since Haswell).
    case avx2
    /// AVX-512 F: 16-lane kernels with mask registers, and the channel-vector convolutions.
    case avx512

    /// The widest one this CPU and OS support.
    public static let detected: InstructionSet = {
        switch pfs_cpu_isa() {
        case 2: return .avx512
        case 1: return .avx2
        default: return .portable
        }
    }()

    /// Every instruction set this machine can run, narrowest first (tests run each).
    public static var supported: [InstructionSet] { allCases.filter { $0 <= detected } }

    public static func < (a: InstructionSet, b: InstructionSet) -> Bool { a.rank < b.rank }
    private var rank: Int { InstructionSet.allCases.firstIndex(of: self)! }

    public var description: String {
        switch self {
        case .portable: return "portable"
        case .avx2: return "AVX2+FMA"
        case .avx512: return "AVX-512"
        }
    }
}

/// Which of the engine's kernels may run: one value, read from the environment in one place
/// (``fromEnvironment(_:)``) and passed down to the convolution and elementwise kernels, which take
/// it as a parameter (tests pass each variant explicitly instead of changing a global).
///
/// | variable | effect |
/// |---|---|
/// | `PFS_ISA=avx512\|avx2\|portable` | use at most this instruction set (never more than the CPU has) |
/// | `PFS_DIRECT_CONV=0` | every convolution on im2col + SGEMM |
/// | `PFS_CHANNEL_CONV=0` | no channel-vector direct kernels (AVX-512 only) |
/// | `PFS_CHANNEL_WGRAD=0` | no channel-vector weight gradient (AVX-512 only) |
/// | `PFS_SMALL_PLANE_CONV=0` | 3×3 layers on planes under 64 pixels (and AVX2's wide 8×8 ones) not on the tap-skipping kernel |
/// | `PFS_WINOGRAD=0` | 3×3 stride-1 layers not on the Winograd F(4×4, 3×3) kernels (forward and input gradient) |
/// | `PFS_SKIP_CLOSED_GATES=0` | gate learning computes the channels of closed gates (gate exactly 0) too |
/// | `PFS_L2_KB=N` | size the Winograd chunks for an L2 cache of N KB instead of the one detected |
public struct KernelSettings: Sendable, Equatable, CustomStringConvertible {
    /// The instruction set of the kernels (at most ``InstructionSet/detected``).
    public var isa: InstructionSet
    /// Whether 3×3 pad-1 convolutions may run on the direct kernels (needs AVX2 or AVX-512).
    public var directConvolution: Bool
    /// Whether the channel-vector direct kernels may run (AVX-512 only).
    public var channelConvolution: Bool
    /// Whether the channel-vector weight gradient may run (AVX-512 only).
    public var channelWeightGradient: Bool
    /// The revision of the kernels' speed: raised whenever a kernel change moves per-layer
    /// latencies, so that latency tables measured before (which record it) are measured again.
    /// r2: the small-plane kernel. r3: AVX2 runs 8×8 planes with ≥ 128 channels on it. r4: odd output
    /// widths computed exactly (AVX-512 pixel-vector tails, channel-vector layers' last `outputs`
    /// mod 16 channels on the pixel-vector kernel; AVX2 padded-kernel tails). r5: Winograd F(4×4, 3×3).
    /// r6: Winograd only with 64 tiles per worker (batch 1 back on the direct kernels). r7: inference
    /// folds BatchNorm (+ gate, residual add, ReLU) into the convolution before it, and the latency
    /// table times a layer as one such unit. r8: the Winograd transforms unrolled where each group of
    /// tiles is one run, and their chunks sized from the L2.
    public static let revision = "r8"
    /// Whether 3×3 stride-1 pad-1 layers on planes under 64 pixels (on AVX2 also 8×8 planes with
    /// ≥ 128 channels) may run on the small-plane kernel (an implicit GEMM that skips the taps
    /// reading padding; AVX2 or AVX-512) instead of im2col + SGEMM (or the direct kernels).
    public var smallPlaneConvolution: Bool
    /// Whether 3×3 stride-1 pad-1 layers with sides multiples of 4 and enough channels may run their
    /// forward pass and input gradient on the Winograd F(4×4, 3×3) kernels (AVX2 or AVX-512).
    public var winogradConvolution: Bool
    /// Whether gate learning leaves the channels of closed gates out of the convolutions around
    /// them (``PFSModels/Network/skipsClosedGates``): exact zeros, so the same result up to rounding.
    public var skipsClosedGates: Bool
    /// Bytes of one core's L2 cache that the Winograd kernels size their chunks for (half of it
    /// for the transformed tiles): detected (``CPUInfo/detectedL2CacheBytes``), else 1 MiB.
    public var l2CacheBytes: Int
    /// The L2 size assumed where the platform reports none (Zen 4 and Graviton 2–3 have 1 MiB per
    /// core; Zen 2–3 and many Intel client cores 256–512 KiB; Apple's cores share several MiB).
    public static let assumedL2CacheBytes = 1 << 20
    /// The L2 size used unless `PFS_L2_KB` says otherwise: the detected one, else the assumed one.
    public static let defaultL2CacheBytes = CPUInfo.detectedL2CacheBytes ?? assumedL2CacheBytes
    /// The `PFS_L2_KB` values accepted: 16 KiB … 64 MiB.
    public static let l2KilobyteRange = 16...65_536

    /// Settings for `isa` (capped at what the CPU supports) with every kernel family allowed.
    public init(isa: InstructionSet = .detected, directConvolution: Bool = true, channelConvolution: Bool = true,
                channelWeightGradient: Bool = true, smallPlaneConvolution: Bool = true, winogradConvolution: Bool = true,
                skipsClosedGates: Bool = true,
                l2CacheBytes: Int = KernelSettings.defaultL2CacheBytes) {
        self.isa = min(isa, InstructionSet.detected)
        self.directConvolution = directConvolution
        self.channelConvolution = channelConvolution
        self.channelWeightGradient = channelWeightGradient
        self.smallPlaneConvolution = smallPlaneConvolution
        self.winogradConvolution = winogradConvolution
        self.skipsClosedGates = skipsClosedGates
        self.l2CacheBytes = l2CacheBytes
    }

    /// A problem with a `PFS_*` kernel variable (the value is ignored and the default used).
    public struct Problem: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The settings the environment asks for, and what was wrong with it (an unknown `PFS_ISA`
    /// value, or an instruction set this CPU lacks, which is then capped).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        -> (settings: KernelSettings, problems: [Problem]) {
        var problems: [Problem] = []
        var isa = InstructionSet.detected
        if let text = environment["PFS_ISA"], !text.isEmpty {
            if let asked = InstructionSet(rawValue: text.lowercased()) {
                if asked > InstructionSet.detected {
                    problems.append(Problem(description: "PFS_ISA=\(text): this CPU supports at most \(InstructionSet.detected.rawValue); using \(InstructionSet.detected.rawValue)"))
                }
                isa = asked
            } else {
                let names = InstructionSet.allCases.map(\.rawValue).joined(separator: ", ")
                problems.append(Problem(description: "PFS_ISA=\(text) is not one of \(names); using \(InstructionSet.detected.rawValue)"))
            }
        }
        var l2 = defaultL2CacheBytes
        if let text = environment["PFS_L2_KB"], !text.isEmpty {
            if let kb = Int(text), l2KilobyteRange.contains(kb) {
                l2 = kb << 10
            } else {
                problems.append(Problem(description: "PFS_L2_KB=\(text) is not a whole number of KB in "
                                        + "\(l2KilobyteRange.lowerBound) … \(l2KilobyteRange.upperBound); using \(l2 >> 10)"))
            }
        }
        let settings = KernelSettings(isa: isa, directConvolution: environment["PFS_DIRECT_CONV"] != "0",
                                      channelConvolution: environment["PFS_CHANNEL_CONV"] != "0",
                                      channelWeightGradient: environment["PFS_CHANNEL_WGRAD"] != "0",
                                      smallPlaneConvolution: environment["PFS_SMALL_PLANE_CONV"] != "0",
                                      winogradConvolution: environment["PFS_WINOGRAD"] != "0",
                                      skipsClosedGates: environment["PFS_SKIP_CLOSED_GATES"] != "0", l2CacheBytes: l2)
        return (settings, problems)
    }

    /// Whether the direct 3×3 kernels run under these settings.
    public var usesDirectConvolution: Bool { directConvolution && isa >= .avx2 }
    /// Whether the channel-vector direct kernels run under these settings.
    public var usesChannelConvolution: Bool { usesDirectConvolution && channelConvolution && isa == .avx512 }
    /// Whether the small-plane kernel runs under these settings.
    public var usesSmallPlaneConvolution: Bool { usesDirectConvolution && smallPlaneConvolution }
    /// Whether the Winograd kernels run under these settings.
    public var usesWinogradConvolution: Bool { usesDirectConvolution && winogradConvolution }

    /// `AVX2+FMA, direct conv` …, for `pfs info` and benchmark reports.
    public var description: String {
        var parts = [isa.description]
        if isa >= .avx2 {
            parts.append(directConvolution ? "direct 3×3 conv" : "direct conv off")
            if isa == .avx512 && directConvolution {
                parts.append(channelConvolution ? (channelWeightGradient ? "channel-vector kernels"
                                                                        : "channel-vector kernels (not for dW)")
                                                : "channel-vector kernels off")
            }
            if directConvolution && !smallPlaneConvolution { parts.append("small-plane kernel off") }
            if directConvolution {
                parts.append(winogradConvolution ? "Winograd F(4×4, 3×3) in chunks for \(l2CacheBytes >> 10) KB of L2"
                                                 : "Winograd off")
            }
        }
        if !skipsClosedGates { parts.append("closed gates computed") }
        return parts.joined(separator: ", ")
    }
}
