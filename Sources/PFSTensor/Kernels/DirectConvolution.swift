import PFSKernelsC

/// 3×3, stride-1, padding-1 convolutions (every convolution of VGG and most of the CIFAR ResNets)
/// computed directly with AVX-512, without a column matrix: see `PFSKernelsC`. The input
/// gradient of such a convolution is the same operation on dY with the flipped, transposed
/// weights, so it runs on the same kernel; the weight gradient keeps the im2col + GEMM path.
///
/// Used only when the CPU has AVX-512 and `PFS_DIRECT_CONV` is not `0`; elsewhere the
/// im2col + SGEMM path of ``Convolution`` runs unchanged.
enum DirectConvolution {
    /// Whether the kernel may be used in this process.
    static let isAvailable: Bool = pfs_cpu_has_avx512() != 0 && environment("PFS_DIRECT_CONV") != "0"

    /// Narrower rows fill less than a 16-lane vector; there im2col + SGEMM is faster (measured
    /// with `pfs bench --op conv`, one thread: 64 channels at 8×8 ran at 70 vs 77 GFLOPS, while
    /// 16 at 32×32 and 32 at 16×16 ran at 123 and 134 vs 62 and 69).
    static let minimumWidth = 16

    static func applies(to g: Conv2dGeometry) -> Bool {
        isAvailable && g.kernelH == 3 && g.kernelW == 3 && g.strideH == 1 && g.strideW == 1
            && g.padH == 1 && g.padW == 1 && g.groups == 1 && g.width >= minimumWidth
    }

    /// The weights as (C_in, 3, 3, C_out rounded up to 8), zero beyond C_out. With `flipped`, the
    /// weights of the transposed convolution: w'[o, c, i, j] = w[c, o, 2 − i, 2 − j].
    /// The buffer is a ``Tensor``, so a training step reuses a recycled ``BufferPool`` buffer.
    static func packWeights(_ weight: UnsafePointer<Float>, cout: Int, cin: Int, flipped: Bool) -> Tensor {
        // Kernel view: `outputs` channels produced from `inputs` channels.
        let outputs = flipped ? cin : cout, inputs = flipped ? cout : cin
        let padded = (outputs + 7) / 8 * 8
        var result = Tensor(zeros: [inputs * 9 * padded])
        result.withUnsafeMutableBufferPointer { buffer in
            let packed = buffer.baseAddress!
            for o in 0..<cout {
                for c in 0..<cin {
                    let src = weight + (o * cin + c) * 9
                    for k in 0..<9 {
                        if flipped {
                            packed[(o * 9 + k) * padded + c] = src[8 - k]
                        } else {
                            packed[(c * 9 + k) * padded + o] = src[k]
                        }
                    }
                }
            }
        }
        return result
    }

    /// Runs the kernel over a batch of `inputs`-channel (H, W) images into `outputs`-channel ones.
    static func run(batch: Int, height: Int, width: Int, inputs: Int, outputs: Int,
                    source: UnsafePointer<Float>, packed: UnsafePointer<Float>,
                    destination: UnsafeMutablePointer<Float>, workspace: Workspace, threads: Int) {
        let g = Conv2dGeometry(batch: batch, inChannels: inputs, height: height, width: width,
                               outChannels: outputs, kernel: (3, 3), stride: (1, 1), padding: (1, 1), groups: 1)
        let workers = Parallel.workers(for: batch, threads: threads)
        workspace.reserve(workers: workers, slots: [Im2Col.scratchCount(g, channels: inputs)])
        let inImage = inputs * height * width, outImage = outputs * height * width
        Parallel.forChunks(batch, threads: workers) { worker, images in
            let scratch = workspace.buffer(worker: worker, slot: 0)
            for n in images {
                let padded = Im2Col.padded(source + n * inImage, channels: inputs, g, scratch: scratch)
                let done = pfs_conv3x3s1_avx512(padded, Int32(inputs), Int32(height), Int32(width), packed,
                                                Int32(outputs), destination + n * outImage)
                precondition(done == 1, "DirectConvolution: the AVX-512 kernel refused to run")
            }
        }
    }

    /// Y = conv(X, W) for a geometry that ``applies(to:)``.
    static func forward(_ g: Conv2dGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>, workspace: Workspace, threads: Int) {
        let packed = packWeights(weight, cout: g.outChannels, cin: g.inChannels, flipped: false)
        packed.withUnsafeBufferPointer { w in
            run(batch: g.batch, height: g.height, width: g.width, inputs: g.inChannels, outputs: g.outChannels,
                source: input, packed: w.baseAddress!, destination: output, workspace: workspace, threads: threads)
        }
    }

    /// dX (overwritten) from dY for a geometry that ``applies(to:)``. Returns the MACs done.
    static func inputGradient(_ g: Conv2dGeometry, weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                              gradInput: UnsafeMutablePointer<Float>, workspace: Workspace, threads: Int) -> Int {
        let packed = packWeights(weight, cout: g.outChannels, cin: g.inChannels, flipped: true)
        packed.withUnsafeBufferPointer { w in
            run(batch: g.batch, height: g.outHeight, width: g.outWidth, inputs: g.outChannels, outputs: g.inChannels,
                source: gradOutput, packed: w.baseAddress!, destination: gradInput, workspace: workspace,
                threads: threads)
        }
        return g.macs
    }
}
