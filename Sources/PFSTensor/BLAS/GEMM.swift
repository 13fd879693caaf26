/// Whether a matrix operand is used as stored or transposed.
public enum Transpose: Sendable {
    case none, transposed
}

/// Which SGEMM implementation kernels call.
public enum GEMMBackend: String, Sendable, CaseIterable, CustomStringConvertible {
    /// The platform's optimised CBLAS: Accelerate on Apple platforms, or a CBLAS found at run time
    /// on Linux (OpenBLAS first). Only usable when ``SystemBLAS/shared`` is not `nil`.
    case system
    /// The package's own cache-blocked SGEMM (portable Swift, no dependency).
    case builtin

    public var description: String { rawValue }

    /// `system` when a system CBLAS can be loaded and `PFS_BLAS` is not `builtin`; else `builtin`.
    public static func preferred() -> GEMMBackend {
        if let choice = environment("PFS_BLAS")?.lowercased(), choice == "builtin" { return .builtin }
        return SystemBLAS.shared != nil ? .system : .builtin
    }

    /// Whether this backend can be used in this process.
    public var isAvailable: Bool { self == .builtin || SystemBLAS.shared != nil }

    /// The backend with the kernel family that runs it, for benchmark reports and latency-table
    /// keys: `system (OpenBLAS Haswell)`, `builtin`.
    public var detailed: String {
        guard self == .system, let core = SystemBLAS.shared?.coreName else { return rawValue }
        return "\(rawValue) (OpenBLAS \(core))"
    }
}

/// Single-precision general matrix multiply on row-major matrices:
///
///     C (m×n) = alpha · op(A) (m×k) · op(B) (k×n) + beta · C
///
/// `lda`, `ldb`, `ldc` are row strides in elements of the matrices *as stored*.
public enum GEMM {
    /// Products with at least this many multiply-adds are split over worker threads.
    public static let parallelThreshold = 1 << 23

    /// Runs SGEMM on `backend`. When `threads > 1` and the product is large, the columns of C are
    /// split into contiguous blocks, one per thread, each a single-threaded SGEMM call.
    public static func sgemm(
        _ transA: Transpose, _ transB: Transpose,
        m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
        backend: GEMMBackend = Engine.gemm, threads: Int = 1
    ) {
        guard m > 0, n > 0 else { return }
        let workers = (m * n * k >= parallelThreshold) ? min(threads, max(1, n / 32)) : 1
        if workers <= 1 {
            single(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, backend)
            return
        }
        // Split n into blocks that are multiples of 16 columns so vector tiles stay whole.
        let blocks = (n + 15) / 16
        Parallel.forChunks(blocks, threads: workers) { _, range in
            let j0 = range.lowerBound * 16, j1 = min(n, range.upperBound * 16)
            guard j1 > j0 else { return }
            let bOffset = transB == .none ? j0 : j0 * ldb
            single(transA, transB, m, j1 - j0, k, alpha, a, lda, b + bOffset, ldb, beta, c + j0, ldc, backend)
        }
    }

    @inline(__always)
    static func single(
        _ transA: Transpose, _ transB: Transpose, _ m: Int, _ n: Int, _ k: Int,
        _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ backend: GEMMBackend
    ) {
        if backend == .system, let blas = SystemBLAS.shared {
            blas.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        } else {
            BuiltinSGEMM.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
    }

    /// The naive reference: a triple loop with Double accumulation. Kept to check the fast paths.
    public static func reference(
        _ transA: Transpose, _ transB: Transpose,
        m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var acc = 0.0
                for p in 0..<k {
                    let av = transA == .none ? a[i * lda + p] : a[p * lda + i]
                    let bv = transB == .none ? b[p * ldb + j] : b[j * ldb + p]
                    acc += Double(av) * Double(bv)
                }
                let old = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
                c[i * ldc + j] = Float(Double(alpha) * acc + old)
            }
        }
    }
}
