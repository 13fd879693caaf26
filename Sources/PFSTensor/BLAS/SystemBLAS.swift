#if canImport(Accelerate)
import Accelerate
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

func environment(_ name: String) -> String? { ProcessInfo.processInfo.environment[name] }

/// The platform's optimised CBLAS, found at run time.
///
/// On Apple platforms this is Accelerate. On Linux the library is opened with `dlopen`, so the
/// package builds and runs on a machine with only the Swift toolchain: `PFS_BLAS_LIBRARY` (a path
/// or soname) is tried first, then OpenBLAS, then other common CBLAS providers. When none has
/// `cblas_sgemm`, ``shared`` is `nil` and kernels use the built-in SGEMM.
///
/// OpenBLAS built with `DYNAMIC_ARCH` picks its kernels from the CPU model it recognises; a CPU
/// newer than the library (or a virtual CPU with a generic model name) makes it fall back to its
/// SSE3 "Prescott" kernels, 5–8× slower than the AVX-512 ones the CPU can run. Unless
/// `OPENBLAS_CORETYPE` is already set, pfs therefore sets it before loading the library, from the
/// CPU's feature flags (``OpenBLASCoreType/choose(flags:)``); `PFS_BLAS_CORETYPE=library` leaves
/// the choice to the library. ``coreTypeChoice`` records which of these happened.
///
/// The library's own thread pool is set to one thread: the engine parallelises around BLAS calls
/// (over the batch, or over column blocks of large products), which keeps one threading model
/// and deterministic reductions.
public final class SystemBLAS: @unchecked Sendable {
    /// Loaded library (path or soname).
    public let library: String
    /// Build configuration reported by the library (OpenBLAS: `openblas_get_config`), if any.
    public let configuration: String?
    /// Kernel family chosen by the library for this CPU (OpenBLAS: `openblas_get_corename`).
    public let coreName: String?
    /// Who chose the OpenBLAS kernel family (see the type's discussion).
    public let coreTypeChoice: OpenBLASCoreType.Choice

    typealias SGEMMFunction = @convention(c) (
        Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
        UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    typealias SetThreads = @convention(c) (Int32) -> Void
    typealias GetThreads = @convention(c) () -> Int32
    typealias GetString = @convention(c) () -> UnsafePointer<CChar>?

    private let sgemmFunction: SGEMMFunction
    private let getThreads: GetThreads?

    /// The system BLAS of this process, or `nil` when none could be loaded.
    public static let shared: SystemBLAS? = load()

    /// Threads the library itself uses per call (1 after loading; see the type's discussion).
    public var libraryThreads: Int { getThreads.map { Int($0()) } ?? 1 }

    init(library: String, sgemm: @escaping SGEMMFunction, configuration: String?, coreName: String?,
         getThreads: GetThreads?, coreTypeChoice: OpenBLASCoreType.Choice = .library) {
        self.coreTypeChoice = coreTypeChoice
        self.library = library
        self.sgemmFunction = sgemm
        self.configuration = configuration
        self.coreName = coreName
        self.getThreads = getThreads
    }

    /// Library names tried in order on Linux after `PFS_BLAS_LIBRARY`.
    public static let candidateLibraries = [
        "libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0", "libblis.so.4", "libcblas.so.3",
        "libmkl_rt.so", "libblas.so.3",
    ]

    static func load() -> SystemBLAS? {
        #if canImport(Accelerate)
        let f: SGEMMFunction = { order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
            cblas_sgemm(CBLAS_ORDER(rawValue: UInt32(order)), CBLAS_TRANSPOSE(rawValue: UInt32(ta)),
                        CBLAS_TRANSPOSE(rawValue: UInt32(tb)), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
        return SystemBLAS(library: "Accelerate.framework", sgemm: f, configuration: nil, coreName: nil, getThreads: nil)
        #elseif os(Linux)
        let choice = OpenBLASCoreType.prepareEnvironment()
        var names = candidateLibraries
        if let forced = environment("PFS_BLAS_LIBRARY"), !forced.isEmpty { names.insert(forced, at: 0) }
        for name in names {
            guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) else { continue }
            guard let sym = dlsym(handle, "cblas_sgemm") else { dlclose(handle); continue }
            let sgemm = unsafeBitCast(sym, to: SGEMMFunction.self)
            func string(_ symbol: String) -> String? {
                guard let s = dlsym(handle, symbol) else { return nil }
                guard let p = unsafeBitCast(s, to: GetString.self)() else { return nil }
                return String(cString: p).trimmingCharacters(in: .whitespaces)
            }
            if let s = dlsym(handle, "openblas_set_num_threads") {
                unsafeBitCast(s, to: SetThreads.self)(1)
            }
            let getThreads = dlsym(handle, "openblas_get_num_threads").map { unsafeBitCast($0, to: GetThreads.self) }
            return SystemBLAS(library: mappedFile(containing: sym) ?? name, sgemm: sgemm, configuration: string("openblas_get_config"),
                              coreName: string("openblas_get_corename"), getThreads: getThreads,
                              coreTypeChoice: choice)
        }
        return nil
        #else
        return nil
        #endif
    }

    #if os(Linux)
    /// The file mapped at `address`, read from /proc/self/maps (the resolved library path).
    static func mappedFile(containing address: UnsafeMutableRawPointer) -> String? {
        guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return nil }
        let a = UInt(bitPattern: address)
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6 else { continue }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let lo = UInt(bounds[0], radix: 16), let hi = UInt(bounds[1], radix: 16),
                  a >= lo, a < hi else { continue }
            return fields[5...].joined(separator: " ")
        }
        return nil
    }
    #endif

    @inline(__always)
    func sgemm(_ transA: Transpose, _ transB: Transpose, _ m: Int, _ n: Int, _ k: Int,
               _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
               _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        // CBLAS enums: RowMajor 101, NoTrans 111, Trans 112.
        sgemmFunction(101, transA == .none ? 111 : 112, transB == .none ? 111 : 112,
                      Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
                      beta, c, Int32(ldc))
    }
}

/// The OpenBLAS kernel family (`OPENBLAS_CORETYPE`) that suits this CPU's vector units.
public enum OpenBLASCoreType {
    /// Who decided which kernels a loaded OpenBLAS runs.
    public enum Choice: Equatable, Sendable, CustomStringConvertible {
        /// The library's own CPU detection (no override).
        case library
        /// `OPENBLAS_CORETYPE` was set by the user before pfs started.
        case environment(String)
        /// pfs set `OPENBLAS_CORETYPE` from the CPU's feature flags.
        case pfs(String)

        public var description: String {
            switch self {
            case .library: return "chosen by the library"
            case .environment(let name): return "OPENBLAS_CORETYPE=\(name), set by the user"
            case .pfs(let name): return "OPENBLAS_CORETYPE=\(name), chosen by pfs for this CPU"
            }
        }
    }

    /// The kernel family for a set of x86 feature flags (as in /proc/cpuinfo): `SkylakeX` with
    /// AVX-512 F/BW/DQ/VL, `Haswell` with AVX2 and FMA, otherwise `nil` (leave it to the library).
    ///
    /// AMD family 25 (Zen 3, Zen 4) gets `Haswell` even with AVX-512: Zen 4 runs 512-bit
    /// instructions on its 256-bit units, and on a 2-core Zen 4 VM OpenBLAS 0.3.21's Haswell SGEMM
    /// ran the convolution-shaped products 8–30 % faster than its SkylakeX one (16×1024×144: 87 vs
    /// 66 GFLOPS; 64×2048×576: 187–197 vs 173–177), and VGG-16 at batch 64 2–3 % faster in each
    /// of forward, training and gate steps (two alternating runs each). Zen 5 (family 26), with
    /// full-width AVX-512 units, keeps `SkylakeX` (not measured).
    public static func choose(flags: Set<String>, vendor: String = "", family: Int? = nil) -> String? {
        let halfWidthAVX512 = vendor == "AuthenticAMD" && family == 25
        if !halfWidthAVX512 && ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains) {
            return "SkylakeX"
        }
        if ["avx2", "fma"].allSatisfy(flags.contains) { return "Haswell" }
        return nil
    }

    /// Sets `OPENBLAS_CORETYPE` for this process before a BLAS is loaded, unless the user set it
    /// or asked for the library's own choice with `PFS_BLAS_CORETYPE=library`.
    static func prepareEnvironment() -> Choice {
        if let user = environment("OPENBLAS_CORETYPE"), !user.isEmpty { return .environment(user) }
        if environment("PFS_BLAS_CORETYPE")?.lowercased() == "library" { return .library }
        #if arch(x86_64) && os(Linux)
        // Under PFS_ISA=avx2 the BLAS takes its AVX2 kernels too, so that a forced run stands for an
        // AVX2-only machine.
        let cpu = CPUInfo.current()
        var flags = cpu.flags
        if Engine.kernels.isa < .avx512 { flags = flags.filter { !$0.hasPrefix("avx512") } }
        guard let name = choose(flags: flags, vendor: cpu.vendor, family: cpu.family) else { return .library }
        setenv("OPENBLAS_CORETYPE", name, 1)
        return .pfs(name)
        #else
        return .library
        #endif
    }
}
