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
         getThreads: GetThreads?) {
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
                              coreName: string("openblas_get_corename"), getThreads: getThreads)
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
