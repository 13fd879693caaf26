/// Fast 2-D convolution: im2col + SGEMM per image and channel group, parallel over the batch.
///
/// All pointers are NCHW (input, output) and (C_out, C_in/groups, kH, kW) (weight).
/// Work per image n and group g, with K = patchSize and P = outPlane:
///
///     forward:      Y[n,g] (C_out/g × P) = W[g] (C_out/g × K) · col(X[n,g]) (K × P)
///     weight grad:  dW[g]  (C_out/g × K) += dY[n,g] (C_out/g × P) · col(X[n,g])ᵀ (P × K)
///     input grad:   dcol   (K × P)       = W[g]ᵀ (K × C_out/g) · dY[n,g] (C_out/g × P);  dX += col2im(dcol)
///
/// The batch is split into one contiguous chunk per worker; weight-gradient partials are summed
/// in worker order afterwards, so results are deterministic for a given thread count.
public enum Convolution {
    /// Y = conv(X, W) (+ bias). `output` is fully overwritten.
    public static func forward(
        _ g: Conv2dGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
        workspace: Workspace, threads: Int = Engine.threads, backend: GEMMBackend = Engine.gemm
    ) {
        let k = g.patchSize, p = g.outPlane, cinG = g.inPerGroup, coutG = g.outPerGroup
        let inImage = g.inChannels * g.inPlane, outImage = g.outChannels * p
        let workers = Parallel.workers(for: g.batch, threads: threads)
        workspace.reserve(workers: workers, slots: [g.isPointwise ? 0 : k * p])
        Parallel.forChunks(g.batch, threads: workers) { worker, images in
            let col = workspace.buffer(worker: worker, slot: 0)
            for n in images {
                for grp in 0..<g.groups {
                    let x = input + n * inImage + grp * cinG * g.inPlane
                    let y = output + n * outImage + grp * coutG * p
                    let b: UnsafePointer<Float>
                    if g.isPointwise { b = x } else {
                        Im2Col.im2col(x, channels: cinG, g, into: col)
                        b = UnsafePointer(col)
                    }
                    GEMM.sgemm(.none, .none, m: coutG, n: p, k: k, alpha: 1, a: weight + grp * coutG * k, lda: k,
                               b: b, ldb: p, beta: 0, c: y, ldc: p, backend: backend)
                }
                if let bias {
                    for c in 0..<g.outChannels {
                        let row = output + n * outImage + c * p
                        let v = bias[c]
                        for i in 0..<p { row[i] += v }
                    }
                }
            }
        }
    }

    /// Gradients of a convolution. Each of `gradInput`, `gradWeight`, `gradBias` is optional and
    /// its work is skipped entirely when `nil` (a frozen weight costs no GEMM, the first layer
    /// computes no input gradient). `gradInput` is overwritten; `gradWeight` and `gradBias` are
    /// accumulated into (`+=`).
    public static func backward(
        _ g: Conv2dGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        gradOutput: UnsafePointer<Float>,
        gradInput: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>?,
        gradBias: UnsafeMutablePointer<Float>?,
        workspace: Workspace, threads: Int = Engine.threads, backend: GEMMBackend = Engine.gemm
    ) {
        let k = g.patchSize, p = g.outPlane, cinG = g.inPerGroup, coutG = g.outPerGroup
        let inImage = g.inChannels * g.inPlane, outImage = g.outChannels * p
        let weightCount = g.outChannels * k
        let needCol = gradWeight != nil && !g.isPointwise
        let needDcol = gradInput != nil && !g.isPointwise
        if gradInput != nil || gradWeight != nil {
            let workers = Parallel.workers(for: g.batch, threads: threads)
            workspace.reserve(workers: workers, slots: [needCol ? k * p : 0, needDcol ? k * p : 0,
                                                        gradWeight != nil ? weightCount : 0])
            Parallel.forChunks(g.batch, threads: workers) { worker, images in
                let col = workspace.buffer(worker: worker, slot: 0)
                let dcol = workspace.buffer(worker: worker, slot: 1)
                let dW = workspace.buffer(worker: worker, slot: 2)
                if gradWeight != nil { dW.update(repeating: 0, count: weightCount) }
                for n in images {
                    if let gradInput { (gradInput + n * inImage).update(repeating: 0, count: inImage) }
                    for grp in 0..<g.groups {
                        let x = input + n * inImage + grp * cinG * g.inPlane
                        let dy = gradOutput + n * outImage + grp * coutG * p
                        let w = weight + grp * coutG * k
                        if gradWeight != nil {
                            let b: UnsafePointer<Float>
                            if g.isPointwise { b = x } else {
                                Im2Col.im2col(x, channels: cinG, g, into: col)
                                b = UnsafePointer(col)
                            }
                            GEMM.sgemm(.none, .transposed, m: coutG, n: k, k: p, alpha: 1, a: dy, lda: p,
                                       b: b, ldb: p, beta: 1, c: dW + grp * coutG * k, ldc: k, backend: backend)
                        }
                        if let gradInput {
                            let dx = gradInput + n * inImage + grp * cinG * g.inPlane
                            if g.isPointwise {
                                GEMM.sgemm(.transposed, .none, m: k, n: p, k: coutG, alpha: 1, a: w, lda: k,
                                           b: dy, ldb: p, beta: 0, c: dx, ldc: p, backend: backend)
                            } else {
                                GEMM.sgemm(.transposed, .none, m: k, n: p, k: coutG, alpha: 1, a: w, lda: k,
                                           b: dy, ldb: p, beta: 0, c: dcol, ldc: p, backend: backend)
                                Im2Col.col2im(dcol, channels: cinG, g, into: dx)
                            }
                        }
                    }
                }
            }
            if let gradWeight {
                for worker in 0..<workers {
                    let dW = workspace.buffer(worker: worker, slot: 2)
                    for i in 0..<weightCount { gradWeight[i] += dW[i] }
                }
            }
        }
        if let gradBias {
            for n in 0..<g.batch {
                for c in 0..<g.outChannels {
                    let row = gradOutput + n * outImage + c * p
                    var s: Float = 0
                    for i in 0..<p { s += row[i] }
                    gradBias[c] += s
                }
            }
        }
    }
}
