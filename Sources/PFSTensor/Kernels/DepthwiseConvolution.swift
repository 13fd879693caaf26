/// Direct kernels for depthwise convolution (groups > 1 with one input channel per group, so
/// output channel co reads input channel co / multiplier only). An im2col GEMM would have a
/// single row per group here, so direct loops over valid output ranges are much faster.
/// Parallel over the batch like ``Convolution``; weight-gradient partials per worker are summed
/// in worker order.
enum DepthwiseConvolution {
    /// Per-(ki, kj) valid output rows and columns.
    @inline(__always)
    static func taps(_ g: Conv2dGeometry) -> [(ki: Int, kj: Int, rows: Range<Int>, cols: Range<Int>)] {
        var out: [(Int, Int, Range<Int>, Range<Int>)] = []
        for ki in 0..<g.kernelH {
            let rows = Im2Col.validRange(kernelOffset: ki, pad: g.padH, stride: g.strideH, inExtent: g.height, outExtent: g.outHeight)
            for kj in 0..<g.kernelW {
                let cols = Im2Col.validRange(kernelOffset: kj, pad: g.padW, stride: g.strideW, inExtent: g.width, outExtent: g.outWidth)
                out.append((ki, kj, rows, cols))
            }
        }
        return out
    }

    static func forward(_ g: Conv2dGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, threads: Int) {
        let mult = g.outPerGroup, kk = g.kernelH * g.kernelW
        let ow = g.outWidth, w = g.width, sh = g.strideH, sw = g.strideW, ph = g.padH, pw = g.padW
        let tapList = taps(g)
        Parallel.forChunks(g.batch, threads: Parallel.workers(for: g.batch, threads: threads)) { _, images in
            for n in images {
                for co in 0..<g.outChannels {
                    let x = input + (n * g.inChannels + co / mult) * g.inPlane
                    let y = output + (n * g.outChannels + co) * g.outPlane
                    y.update(repeating: bias?[co] ?? 0, count: g.outPlane)
                    for t in tapList where !t.cols.isEmpty {
                        let wv = weight[co * kk + t.ki * g.kernelW + t.kj]
                        for oy in t.rows {
                            let src = x + (oy * sh - ph + t.ki) * w - pw + t.kj
                            let dst = y + oy * ow
                            if sw == 1 {
                                for ox in t.cols { dst[ox] += wv * src[ox] }
                            } else {
                                for ox in t.cols { dst[ox] += wv * src[ox * sw] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Input gradient (overwritten) and/or weight gradient (accumulated); bias is left to the caller.
    static func backward(_ g: Conv2dGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                         gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?,
                         gradWeight: UnsafeMutablePointer<Float>?, workspace: Workspace, threads: Int) -> GradientWork {
        let mult = g.outPerGroup, kk = g.kernelH * g.kernelW
        let ow = g.outWidth, w = g.width, sh = g.strideH, sw = g.strideW, ph = g.padH, pw = g.padW
        let weightCount = g.outChannels * kk
        let tapList = taps(g)
        let workers = Parallel.workers(for: g.batch, threads: threads)
        workspace.reserve(workers: workers, slots: [gradWeight != nil ? weightCount : 0])
        let counts = WorkerCounters(workers: workers)
        Parallel.forChunks(g.batch, threads: workers) { worker, images in
            let dW = workspace.buffer(worker: worker, slot: 0)
            var weightMACs = 0, dataMACs = 0
            defer { counts.store(worker, weightMACs, dataMACs) }
            if gradWeight != nil { dW.update(repeating: 0, count: weightCount) }
            for n in images {
                if let gradInput {
                    (gradInput + n * g.inChannels * g.inPlane).update(repeating: 0, count: g.inChannels * g.inPlane)
                }
                for co in 0..<g.outChannels {
                    let plane = (n * g.inChannels + co / mult) * g.inPlane
                    let dy = gradOutput + (n * g.outChannels + co) * g.outPlane
                    for t in tapList where !t.cols.isEmpty {
                        let wi = co * kk + t.ki * g.kernelW + t.kj
                        let offset = plane - pw + t.kj
                        if gradWeight != nil {
                            var s: Float = 0
                            for oy in t.rows {
                                let src = input + offset + (oy * sh - ph + t.ki) * w, d = dy + oy * ow
                                for ox in t.cols { s += d[ox] * src[ox * sw] }
                            }
                            dW[wi] += s
                            weightMACs += t.rows.count * t.cols.count
                        }
                        if let gradInput {
                            let wv = weight[wi]
                            for oy in t.rows {
                                let dst = gradInput + offset + (oy * sh - ph + t.ki) * w, d = dy + oy * ow
                                for ox in t.cols { dst[ox * sw] += wv * d[ox] }
                            }
                            dataMACs += t.rows.count * t.cols.count
                        }
                    }
                }
            }
        }
        if let gradWeight { Convolution.addWorkerPartials(workspace, workers: workers, slot: 0, count: weightCount, into: gradWeight) }
        return counts.total
    }
}
