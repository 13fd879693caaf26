import Foundation
import PFSTestSupport
import Testing
@testable import PFSTensor

/// Whether CI promised a system BLAS (then its absence is a failure, not a skip).
let systemBLASExpected = ProcessInfo.processInfo.environment["PFS_EXPECT_SYSTEM_BLAS"] == "1"

/// The backends to exercise: always the built-in one, plus the system CBLAS when present.
func backendsUnderTest() -> [GEMMBackend] {
    SystemBLAS.shared != nil ? [.builtin, .system] : [.builtin]
}

@Suite struct GEMMTests {
    struct Case: CustomStringConvertible {
        var m, n, k: Int; var ta, tb: Transpose; var alpha, beta: Float
        var description: String { "\(m)x\(n)x\(k) \(ta)/\(tb) α=\(alpha) β=\(beta)" }
    }

    static let cases: [Case] = {
        var out: [Case] = []
        for (m, n, k) in [(1, 1, 1), (7, 13, 5), (6, 8, 256), (13, 31, 300), (37, 129, 71), (100, 3, 517), (5, 2050, 9)] {
            for ta in [Transpose.none, .transposed] {
                for tb in [Transpose.none, .transposed] {
                    out.append(Case(m: m, n: n, k: k, ta: ta, tb: tb, alpha: 1, beta: 0))
                }
            }
            out.append(Case(m: m, n: n, k: k, ta: .none, tb: .none, alpha: -0.5, beta: 0.75))
        }
        return out
    }()

    /// Runs one SGEMM with padded leading dimensions and returns C.
    static func run(_ c: Case, backend: GEMMBackend?, threads: Int = 1, seed: UInt64 = 1) -> [Float] {
        var rng = RandomGenerator(seed: seed)
        let (ar, ac) = c.ta == .none ? (c.m, c.k) : (c.k, c.m)
        let (br, bc) = c.tb == .none ? (c.k, c.n) : (c.n, c.k)
        let lda = ac + 3, ldb = bc + 1, ldc = c.n + 2
        let a = (0..<(ar * lda)).map { _ in rng.normal() }
        let b = (0..<(br * ldb)).map { _ in rng.normal() }
        var out = (0..<(c.m * ldc)).map { _ in rng.normal() }
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in out.withUnsafeMutableBufferPointer { cp in
            if let backend {
                GEMM.sgemm(c.ta, c.tb, m: c.m, n: c.n, k: c.k, alpha: c.alpha, a: ap.baseAddress!, lda: lda,
                           b: bp.baseAddress!, ldb: ldb, beta: c.beta, c: cp.baseAddress!, ldc: ldc,
                           backend: backend, threads: threads)
            } else {
                GEMM.reference(c.ta, c.tb, m: c.m, n: c.n, k: c.k, alpha: c.alpha, a: ap.baseAddress!, lda: lda,
                               b: bp.baseAddress!, ldb: ldb, beta: c.beta, c: cp.baseAddress!, ldc: ldc)
            }
        } } }
        _ = br; _ = ar
        return out
    }

    @Test(arguments: cases)
    func builtinMatchesReference(_ c: Case) {
        let want = Self.run(c, backend: nil), got = Self.run(c, backend: .builtin)
        #expect(Compare.relativeError(got, want) < 1e-5, "\(c)")
    }

    @Test(arguments: cases)
    func systemBLASMatchesReference(_ c: Case) throws {
        guard SystemBLAS.shared != nil else {
            #expect(!systemBLASExpected, "PFS_EXPECT_SYSTEM_BLAS=1 but no CBLAS could be loaded")
            return
        }
        let want = Self.run(c, backend: nil), got = Self.run(c, backend: .system)
        #expect(Compare.relativeError(got, want) < 1e-5, "\(c)")
    }

    @Test func threadedSplitMatchesSingleThread() {
        let c = Case(m: 64, n: 1000, k: 200, ta: .none, tb: .transposed, alpha: 1, beta: 0.5)
        for backend in backendsUnderTest() {
            let one = Self.run(c, backend: backend, threads: 1), two = Self.run(c, backend: backend, threads: 3)
            #expect(Compare.relativeError(two, one) < 1e-6, "\(backend)")
        }
    }

    @Test func environmentForcesTheBuiltinFallback() {
        setenv("PFS_BLAS", "builtin", 1)
        defer { unsetenv("PFS_BLAS") }
        #expect(GEMMBackend.preferred() == .builtin)
    }

    @Test func systemBLASIsFoundWhenPromised() {
        if systemBLASExpected {
            #expect(SystemBLAS.shared != nil)
            #expect(GEMMBackend.preferred() == .system || ProcessInfo.processInfo.environment["PFS_BLAS"] == "builtin")
        }
        if let blas = SystemBLAS.shared {
            #expect(!blas.library.isEmpty)
            #expect(blas.libraryThreads == 1)
        }
    }

    @Test func coreTypeFollowsTheVectorUnits() {
        let avx512: Set<String> = ["sse2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl"]
        #expect(OpenBLASCoreType.choose(flags: avx512) == "SkylakeX")
        #expect(OpenBLASCoreType.choose(flags: avx512.subtracting(["avx512vl"])) == "Haswell")
        #expect(OpenBLASCoreType.choose(flags: ["sse2", "avx", "avx2", "fma"]) == "Haswell")
        #expect(OpenBLASCoreType.choose(flags: ["sse2", "avx", "avx2"]) == nil)
        #expect(OpenBLASCoreType.choose(flags: ["asimd"]) == nil)
        // Zen 4 (AMD family 25) runs AVX-512 on 256-bit units: the AVX2 kernels are faster there.
        #expect(OpenBLASCoreType.choose(flags: avx512, vendor: "AuthenticAMD", family: 25) == "Haswell")
        #expect(OpenBLASCoreType.choose(flags: avx512, vendor: "AuthenticAMD", family: 26) == "SkylakeX")
        #expect(OpenBLASCoreType.choose(flags: avx512, vendor: "GenuineIntel", family: 6) == "SkylakeX")
    }

    /// On an x86 CPU with AVX2 or AVX-512, a loaded OpenBLAS runs the kernels pfs chose (or the
    /// ones the user forced), never its SSE3 fallback.
    @Test func openBLASRunsTheChosenKernels() {
        guard let blas = SystemBLAS.shared, let core = blas.coreName else { return }
        switch blas.coreTypeChoice {
        case .pfs(let name):
            #expect(core.lowercased() == name.lowercased(), "OpenBLAS reports \(core), pfs chose \(name)")
            let cpu = CPUInfo.current()
            #expect(OpenBLASCoreType.choose(flags: cpu.flags, vendor: cpu.vendor, family: cpu.family) == name)
        case .environment(let name):
            #expect(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == name)
        case .library:
            let cpu = CPUInfo.current()
            #expect(OpenBLASCoreType.choose(flags: cpu.flags, vendor: cpu.vendor, family: cpu.family) == nil
                    || ProcessInfo.processInfo.environment["PFS_BLAS_CORETYPE"]?.lowercased() == "library")
        }
    }
}
