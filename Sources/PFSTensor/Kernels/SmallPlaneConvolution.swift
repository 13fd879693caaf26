import PFSKernelsC

/// 3×3 stride-1 pad-1 convolutions of planes under 64 output pixels (VGG's 4×4 and 2×2 layers at
/// CIFAR size), all three passes, as an implicit GEMM that skips the taps reading the
/// zero border (`pfs_small_conv_forward`; AVX2 or AVX-512).
///
/// im2col + SGEMM multiplies those zeros: on a 4×4 plane 31 % of its multiply-adds, on 2×2 56 %.
/// The kernel groups the output pixels by which kernel rows and columns read inside the plane
/// (corners, edges, interior) and runs each group as a GEMM over its own taps only, gathering the
/// inputs straight from the NCHW tensor (no column matrix). The weight gradient runs the same
/// classes with the image pixels as the GEMM's reduction.
///
/// Reference: ``ReferenceConvolution``; `pfs bench --op conv --shapes vgg` measures it.
enum SmallPlaneConvolution {
    /// Whether `g` runs on this kernel under `kernels` with `threads` workers: a 3×3 stride-1 pad-1
    /// layer on a plane under 64 pixels (or AVX2's ``takesWideEightByEight(_:isa:)``), where
    /// skipping the border saves more than the kernel's padded columns cost
    /// (``paddedWork(_:isa:threads:)``).
    static func applies(to g: Conv2dGeometry, kernels: KernelSettings, threads: Int) -> Bool {
        guard kernels.usesSmallPlaneConvolution && g.kernelH == 3 && g.kernelW == 3 && g.padH == 1 && g.padW == 1
                && g.strideH == 1 && g.strideW == 1 && g.groups == 1
                && (g.outPlane < DirectConvolution.minimumPlane || takesWideEightByEight(g, isa: kernels.isa))
        else { return false }
        let work = paddedWork(g, isa: kernels.isa, threads: threads)
        return work.kernel * 10 <= work.im2col * 9
    }

    /// On AVX2, 8×8 planes with at least 128 channels in and out also run here rather than on the
    /// padded direct kernel (whose weight gradient goes to im2col + SGEMM at these widths). Measured
    /// (256 @ 8×8, batch 64, 2 threads, Zen 4, AVX2 forced, three alternating pairs): forward
    /// 22.0–24.4 vs 24.1–25.2 ms, input gradient 22.1–23.5 vs 24.0–27.9, weight gradient 26.9–28.1
    /// vs 31.7–34.0. It was slower at 128 @ 16×16, no faster at 64 @ 8×8, and level with the
    /// AVX-512 direct kernels.
    static func takesWideEightByEight(_ g: Conv2dGeometry, isa: InstructionSet) -> Bool {
        isa == .avx2 && g.outHeight == 8 && g.outWidth == 8 && g.inChannels >= 128 && g.outChannels >= 128
    }

    /// The multiply-adds per output and input channel that one worker's share of the batch costs on
    /// this kernel and on im2col + SGEMM. Each pixel class (corners, edges, interior) has its
    /// columns (its pixels × the worker's images) rounded up to whole panels of 32 (AVX-512) or 16
    /// (AVX2), times its taps; im2col does all 9 taps for every pixel. A corner class at batch 1
    /// fills one column of 32, so small batches (a batch-1 latency table, ResNet-50's 7×7 stage at
    /// batch 16) stay on im2col: at batch 1 on a 4×4 plane the kernel would do 11× im2col's work.
    static func paddedWork(_ g: Conv2dGeometry, isa: InstructionSet, threads: Int) -> (kernel: Int, im2col: Int) {
        let images = g.batch >= threads ? (g.batch + threads - 1) / threads : g.batch
        let panel = panelShape(isa).columns
        // Class i (0…2) along an axis of `size` lines: its lines and the kernel rows (or columns)
        // they read inside the plane; nil past the axis's last class.
        func axisClass(_ size: Int, _ i: Int) -> (lines: Int, taps: Int)? {
            switch (size, i) {
            case (1, 0): return (1, 1)
            case (1, _): return nil
            case (2, 0), (2, 1): return (1, 2)
            case (2, _): return nil
            case (_, 1): return (size - 2, 3)
            default: return (1, 2)
            }
        }
        var kernel = 0
        for i in 0..<3 {
            guard let row = axisClass(g.outHeight, i) else { break }
            for j in 0..<3 {
                guard let column = axisClass(g.outWidth, j) else { break }
                let columns = images * row.lines * column.lines
                kernel += (columns + panel - 1) / panel * panel * row.taps * column.taps
            }
        }
        return (kernel, images * g.outPlane * 9)
    }

    /// Y (N, C_out, H, W) = conv(X (N, C_in, H, W), W (C_out, C_in, 3, 3)), overwritten.
    static func forward(_ g: Conv2dGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>, workspace: Workspace, threads: Int,
                        kernels: KernelSettings) {
        run(g, weight: weight, transposed: false, source: input, inImage: g.inChannels * g.inPlane,
            destination: output, outImage: g.outChannels * g.outPlane, workspace: workspace, threads: threads,
            isa: kernels.isa)
    }

    /// dX (N, C_in, H, W), overwritten, from dY (N, C_out, H, W): the convolution of dY with the
    /// flipped, transposed weights. Returns the multiply-accumulates of the full convolution.
    static func inputGradient(_ g: Conv2dGeometry, weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                              gradInput: UnsafeMutablePointer<Float>, workspace: Workspace, threads: Int,
                              kernels: KernelSettings) -> Int {
        run(g, weight: weight, transposed: true, source: gradOutput, inImage: g.outChannels * g.outPlane,
            destination: gradInput, outImage: g.inChannels * g.inPlane, workspace: workspace, threads: threads,
            isa: kernels.isa)
        return g.macs
    }

    /// dW (C_out, C_in, 3, 3) += ∂L/∂W from X and dY over the taps inside the plane. The blocks of
    /// input channels are split over the workers, each adding into its own part of dW, so the
    /// result does not depend on the thread count. Returns the multiply-accumulates of the full
    /// convolution.
    static func weightGradient(_ g: Conv2dGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                               gradWeight: UnsafeMutablePointer<Float>, workspace: Workspace, threads: Int,
                               kernels: KernelSettings) -> Int {
        let code = isaCode(kernels.isa)
        let blocks = Int(pfs_small_conv_channel_blocks(Int32(g.inChannels), code))
        let workers = Parallel.workers(for: blocks, threads: threads)
        workspace.reserve(workers: workers, slots: [pfs_small_conv_weight_gradient_scratch_count(Int32(g.outChannels), code)])
        Parallel.forChunks(blocks, threads: workers) { worker, range in
            let done = pfs_small_conv_weight_gradient(input, g.inChannels * g.inPlane, gradOutput,
                                                      g.outChannels * g.outPlane, Int32(g.batch), Int32(g.inChannels),
                                                      Int32(g.outHeight), Int32(g.outWidth), Int32(g.outChannels),
                                                      Int32(range.lowerBound), Int32(range.upperBound), gradWeight,
                                                      workspace.buffer(worker: worker, slot: 0), code)
            precondition(done == 1, "SmallPlaneConvolution: the \(kernels.isa) kernel refused to run")
        }
        return g.macs
    }

    /// The micro-kernel's output rows per weight panel (MR) and columns per packed input panel (NR)
    /// on `isa`: 12 × 32 on AVX-512, 6 × 16 on AVX2.
    static func panelShape(_ isa: InstructionSet) -> (rows: Int, columns: Int) {
        var rows: Int32 = 0, columns: Int32 = 0
        pfs_small_conv_panel_shape(isa == .avx512 ? 2 : 1, &rows, &columns)
        return (Int(max(rows, 1)), Int(max(columns, 1)))
    }

    /// The C kernels' instruction-set argument: 2 for AVX-512, 1 for AVX2 (they have no other).
    private static func isaCode(_ isa: InstructionSet) -> Int32 {
        precondition(isa >= .avx2, "SmallPlaneConvolution needs AVX2 or AVX-512")
        return isa == .avx512 ? 2 : 1
    }

    /// Packs the weights (panels split over the workers), then splits the images over the workers,
    /// or, with fewer images than workers (batch 1), the panels of output channels.
    private static func run(_ g: Conv2dGeometry, weight: UnsafePointer<Float>, transposed: Bool,
                            source: UnsafePointer<Float>, inImage: Int, destination: UnsafeMutablePointer<Float>,
                            outImage: Int, workspace: Workspace, threads: Int, isa: InstructionSet) {
        let code = isaCode(isa)
        let cout = g.outChannels, cin = g.inChannels
        let rows = transposed ? cin : cout, inputs = transposed ? cout : cin
        let mr = panelShape(isa).rows, panels = (rows + mr - 1) / mr
        var packed = Tensor(unsafeUninitializedShape: [pfs_small_conv_packed_count(Int32(rows), Int32(inputs), code)])
        packed.withUnsafeMutableBufferPointer { buffer in
            Parallel.forChunks(panels, threads: threads) { _, range in
                _ = pfs_small_conv_pack(weight, Int32(cout), Int32(cin), transposed ? 1 : 0, code,
                                        Int32(range.lowerBound), Int32(range.upperBound), buffer.baseAddress!)
            }
        }
        let byImage = g.batch >= threads
        let workers = Parallel.workers(for: byImage ? g.batch : panels, threads: threads)
        workspace.reserve(workers: workers, slots: [pfs_small_conv_scratch_count(Int32(inputs), code)])
        packed.withUnsafeBufferPointer { w in
            Parallel.forChunks(byImage ? g.batch : panels, threads: workers) { worker, range in
                let images = byImage ? range : 0..<g.batch, panelRange = byImage ? 0..<panels : range
                let done = pfs_small_conv_forward(source + images.lowerBound * inImage, inImage, Int32(images.count),
                                                  Int32(inputs), Int32(g.outHeight), Int32(g.outWidth),
                                                  w.baseAddress!, Int32(rows), Int32(panelRange.lowerBound),
                                                  Int32(panelRange.upperBound),
                                                  destination + images.lowerBound * outImage, outImage,
                                                  workspace.buffer(worker: worker, slot: 0), code)
                precondition(done == 1, "SmallPlaneConvolution: the \(isa) kernel refused to run")
            }
        }
    }
}
