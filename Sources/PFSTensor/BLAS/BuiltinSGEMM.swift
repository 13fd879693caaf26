/// The portable fallback SGEMM: Goto-style blocking with packed panels and a 6×8 register tile.
///
/// Blocking: C is computed in `nc`-column × `mc`-row blocks; the shared dimension in `kc` slices.
/// A slice of B (kc×nc) is packed into 8-column panels and a block of A (mc×kc, pre-scaled by
/// alpha) into 6-row panels, both zero-padded, so the micro-kernel runs without edge checks and
/// only the final write to C handles partial tiles. Single-threaded; ``GEMM`` parallelises.
enum BuiltinSGEMM {
    static let mr = 6, nr = 8
    static let kc = 256, mc = 72, nc = 2048

    typealias Vec = SIMD8<Float>

    static func sgemm(
        _ transA: Transpose, _ transB: Transpose, _ m: Int, _ n: Int, _ k: Int,
        _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) {
        // C ← beta·C first; the blocked loop then only accumulates.
        if beta != 1 {
            for i in 0..<m {
                let row = c + i * ldc
                if beta == 0 { row.update(repeating: 0, count: n) } else { for j in 0..<n { row[j] *= beta } }
            }
        }
        if alpha == 0 || k == 0 { return }

        // Packing buffers sized for this product, reused across calls on the same thread.
        let panelsA = (min(mc, m) + mr - 1) / mr * mr, panelsB = (min(nc, n) + nr - 1) / nr * nr
        let buffers = PackBuffers.forCurrentThread()
        buffers.reserve(a: panelsA * min(kc, k), b: panelsB * min(kc, k))
        let packA = buffers.a, packB = buffers.b

        var jc = 0
        while jc < n {
            let nb = min(nc, n - jc)
            var pc = 0
            while pc < k {
                let kb = min(kc, k - pc)
                packPanelsB(transB, b, ldb, row0: pc, col0: jc, kb: kb, nb: nb, into: packB)
                var ic = 0
                while ic < m {
                    let mb = min(mc, m - ic)
                    packPanelsA(transA, a, lda, alpha: alpha, row0: ic, col0: pc, mb: mb, kb: kb, into: packA)
                    var jr = 0
                    while jr < nb {
                        let cols = min(nr, nb - jr)
                        var ir = 0
                        while ir < mb {
                            let rows = min(mr, mb - ir)
                            microKernel(kb, packA + ir * kb, packB + jr * kb,
                                        c + (ic + ir) * ldc + jc + jr, ldc, rows, cols)
                            ir += mr
                        }
                        jr += nr
                    }
                    ic += mb
                }
                pc += kb
            }
            jc += nb
        }
    }

    /// Packs B[row0..<row0+kb, col0..<col0+nb] into 8-column panels: panel p holds kb rows of 8.
    @inline(__always)
    static func packPanelsB(_ trans: Transpose, _ b: UnsafePointer<Float>, _ ldb: Int,
                            row0: Int, col0: Int, kb: Int, nb: Int, into dst: UnsafeMutablePointer<Float>) {
        var p = 0
        while p < nb {
            let cols = min(nr, nb - p)
            let panel = dst + p * kb
            for kk in 0..<kb {
                let out = panel + kk * nr
                if trans == .none {
                    let src = b + (row0 + kk) * ldb + col0 + p
                    for j in 0..<cols { out[j] = src[j] }
                } else {
                    let src = b + (col0 + p) * ldb + row0 + kk
                    for j in 0..<cols { out[j] = src[j * ldb] }
                }
                for j in cols..<nr { out[j] = 0 }
            }
            p += nr
        }
    }

    /// Packs alpha·A[row0..<row0+mb, col0..<col0+kb] into 6-row panels: panel q holds kb columns of 6.
    @inline(__always)
    static func packPanelsA(_ trans: Transpose, _ a: UnsafePointer<Float>, _ lda: Int, alpha: Float,
                            row0: Int, col0: Int, mb: Int, kb: Int, into dst: UnsafeMutablePointer<Float>) {
        var q = 0
        while q < mb {
            let rows = min(mr, mb - q)
            let panel = dst + q * kb
            for kk in 0..<kb {
                let out = panel + kk * mr
                for r in 0..<rows {
                    let v = trans == .none ? a[(row0 + q + r) * lda + col0 + kk] : a[(col0 + kk) * lda + row0 + q + r]
                    out[r] = alpha * v
                }
                for r in rows..<mr { out[r] = 0 }
            }
            q += mr
        }
    }

    /// C[0..<rows, 0..<cols] += Apanel (6×kb) · Bpanel (kb×8).
    @inline(__always)
    static func microKernel(_ kb: Int, _ pa: UnsafePointer<Float>, _ pb: UnsafePointer<Float>,
                            _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ rows: Int, _ cols: Int) {
        var c0 = Vec(), c1 = Vec(), c2 = Vec(), c3 = Vec(), c4 = Vec(), c5 = Vec()
        let rb = UnsafeRawPointer(pb)
        var a = pa
        for kk in 0..<kb {
            let bv = rb.loadUnaligned(fromByteOffset: kk * 32, as: Vec.self)
            c0 += bv * a[0]; c1 += bv * a[1]; c2 += bv * a[2]
            c3 += bv * a[3]; c4 += bv * a[4]; c5 += bv * a[5]
            a += mr
        }
        if rows == mr && cols == nr {
            let raw = UnsafeMutableRawPointer(c)
            let stride = ldc * 4
            raw.storeBytes(of: raw.loadUnaligned(as: Vec.self) + c0, as: Vec.self)
            (raw + stride).storeBytes(of: (raw + stride).loadUnaligned(as: Vec.self) + c1, as: Vec.self)
            (raw + 2 * stride).storeBytes(of: (raw + 2 * stride).loadUnaligned(as: Vec.self) + c2, as: Vec.self)
            (raw + 3 * stride).storeBytes(of: (raw + 3 * stride).loadUnaligned(as: Vec.self) + c3, as: Vec.self)
            (raw + 4 * stride).storeBytes(of: (raw + 4 * stride).loadUnaligned(as: Vec.self) + c4, as: Vec.self)
            (raw + 5 * stride).storeBytes(of: (raw + 5 * stride).loadUnaligned(as: Vec.self) + c5, as: Vec.self)
        } else {
            // Partial tile: spill the accumulators to the stack and add the valid part.
            withUnsafeTemporaryAllocation(of: Vec.self, capacity: mr) { acc in
                acc[0] = c0; acc[1] = c1; acc[2] = c2; acc[3] = c3; acc[4] = c4; acc[5] = c5
                for r in 0..<rows {
                    let row = c + r * ldc
                    for j in 0..<cols { row[j] += acc[r][j] }
                }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Per-thread packing buffers for ``BuiltinSGEMM`` (thread-local through a pthread key, freed
/// when the thread exits), so that a GEMM call allocates nothing once its thread is warm.
final class PackBuffers {
    private(set) var a: UnsafeMutablePointer<Float>
    private(set) var b: UnsafeMutablePointer<Float>
    private var capacityA = 0, capacityB = 0

    private init() {
        a = Self.allocate(1)
        b = Self.allocate(1)
    }

    deinit {
        UnsafeMutableRawPointer(a).deallocate()
        UnsafeMutableRawPointer(b).deallocate()
    }

    func reserve(a countA: Int, b countB: Int) {
        if countA > capacityA {
            UnsafeMutableRawPointer(a).deallocate()
            a = Self.allocate(countA)
            capacityA = countA
        }
        if countB > capacityB {
            UnsafeMutableRawPointer(b).deallocate()
            b = Self.allocate(countB)
            capacityB = countB
        }
    }

    private static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: max(count, 1))
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key) { pointer in
            #if canImport(Darwin)
            Unmanaged<PackBuffers>.fromOpaque(pointer).release()
            #else
            if let pointer { Unmanaged<PackBuffers>.fromOpaque(pointer).release() }
            #endif
        }
        precondition(status == 0, "BuiltinSGEMM: pthread_key_create failed with \(status)")
        return key
    }()

    static func forCurrentThread() -> PackBuffers {
        if let existing = pthread_getspecific(key) {
            return Unmanaged<PackBuffers>.fromOpaque(existing).takeUnretainedValue()
        }
        let buffers = PackBuffers()
        pthread_setspecific(key, Unmanaged.passRetained(buffers).toOpaque())
        return buffers
    }
}
