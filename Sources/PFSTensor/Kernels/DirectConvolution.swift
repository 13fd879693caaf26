import Foundation
import PFSKernelsC

/// 3×3 convolutions with padding 1 and stride 1 or 2 (every convolution of VGG and all 3×3 ones of
/// the CIFAR ResNets) computed directly with AVX-512 or AVX2 + FMA, without a column matrix: see
/// `PFSKernelsC`.
///
/// Every tap is a flat run of pixels read under a per-vector lane mask that stands for the zero
/// padding (a ``TapTable``):
/// - **Stride 1.** The taps read the unpadded input plane itself. The input gradient is the same
///   operation on dY with the flipped, transposed weights; the weight gradient has its own kernel.
/// - **Stride 2.** The input is first split into its four phase planes x[2i + a, 2j + b] (one read
///   and one write of the input, against the nine writes of im2col); every tap then reads one phase
///   plane at the output's resolution, offset by 0 or −1 row or column. The input gradient of phase
///   (a, b) is a 1-, 2- or 4-tap operation on dY, written back interleaved.
///
/// Every function takes the ``KernelSettings`` to obey: on AVX-512 all kernel families run (the
/// channel-vector ones where they pay off), on AVX2 the pixel-vector kernels with 8-lane vectors;
/// with neither (or `PFS_DIRECT_CONV=0`) the im2col + SGEMM path of ``Convolution`` runs unchanged.
enum DirectConvolution {
    static func applies(to g: Conv2dGeometry, kernels: KernelSettings) -> Bool {
        guard kernels.usesDirectConvolution && g.kernelH == 3 && g.kernelW == 3 && g.padH == 1 && g.padW == 1 && g.groups == 1,
              g.outPlane >= minimumPlane else { return false }
        if g.strideH == 1 && g.strideW == 1 { return true }
        return g.strideH == 2 && g.strideW == 2 && g.height % 2 == 0 && g.width % 2 == 0
    }

    /// Smaller output planes leave most of the 16-lane vectors of the pixel-vector kernels idle
    /// (the forward kernel works on 32 pixels at a time); there im2col + SGEMM is faster. Measured
    /// with `pfs bench --op conv --shapes vgg`, one thread: 512 channels at 4×4 ran at 69 vs 103
    /// GFLOPS, at 2×2 at 18 vs 92, while 256 at 8×8 ran at 141 vs 125 (forward). The channel-vector
    /// kernel fills its vectors at 4×4 too, and beat SGEMM there with one thread (148 vs 136 GFLOPS,
    /// batch 64) but not with two (250 vs 268), so these planes stay on SGEMM. On AVX2 an 8-lane
    /// channel-vector kernel (16 output channels × 4 pixels per block) was tried and not kept:
    /// 512 channels, batch 64, two threads, three alternating runs, medians: 4×4 forward 97 vs
    /// 103 ms on SGEMM (within this VM's noise), 2×2 forward 34 vs 26 ms (slower).
    static let minimumPlane = 64

    /// Small planes with many channels get their weight gradient from im2col + SGEMM. Measured with
    /// `pfs bench --op conv --shapes vgg`, batch 64, two threads: 256 channels at 8×8 ran at 260
    /// GFLOPS on SGEMM vs 230 on the channel-vector kernel. On AVX2 (no channel-vector kernels) any
    /// plane with that many channels: 128 channels at 16×16 ran at 42 GFLOPS on Haswell SGEMM vs
    /// 35–36 on the padded AVX2 kernel (two runs, `PFS_ISA=avx2` vs `portable`, AVX-512 Xeon VM).
    static func prefersGEMMWeightGradient(_ g: Conv2dGeometry, isa: InstructionSet = .avx512) -> Bool {
        g.strideH == 1 && (g.outPlane <= 64 || isa == .avx2) && g.inChannels * g.outChannels >= 128 * 128
    }

    /// Pixels (images × plane) the pixel-vector weight-gradient kernel sums over between two
    /// reductions of its accumulators: enough to amortise them, few enough that the 8 dY planes stay
    /// in L1. The channel-vector one takes as many images per call.
    /// (A larger tile for fewer output channels, up to 4,096 pixels, measured no faster once the
    /// reduction was a transposing tree.)
    static let weightGradientPixels = 1024

    // MARK: tap tables

    /// For each tap, the flat offset it reads relative to the output pixel, and for every 16-pixel
    /// vector of the output plane (rounded up to 32 pixels) the lanes where it reads the image.
    struct TapTable {
        /// Source index (ki·3 + kj) of each tap in the (C_out, C_in, 3, 3) weights.
        var taps: [Int]
        var offsets: [Int]
        /// AVX-512 lanes: bit i of masks[v·taps + t] for pixel 16v + i.
        var masks: [UInt16]
        /// AVX2 lanes: laneMasks[(v·taps + t)·8 + i] = −1 for pixel 8v + i where tap t reads the
        /// image, else 0 (the same masks, spread to one int32 per lane).
        var laneMasks: [Int32]

        /// `tap(t)` gives tap t's source index, offset and whether output pixel (y, x) reads the image.
        init(plane height: Int, _ width: Int, taps: [Int], tap: (Int) -> (offset: Int, valid: (Int, Int) -> Bool)) {
            self.taps = taps
            let described = taps.map(tap)
            offsets = described.map(\.offset)
            let plane = height * width, vectors = (plane + 31) / 32 * 2
            masks = [UInt16](repeating: 0, count: vectors * taps.count)
            for p in 0..<plane {
                let y = p / width, x = p % width
                for (t, d) in described.enumerated() where d.valid(y, x) {
                    masks[p / 16 * taps.count + t] |= UInt16(1) << UInt16(p % 16)
                }
            }
            let n = taps.count
            laneMasks = [Int32](repeating: 0, count: vectors * 2 * n * 8)
            for v in 0..<(vectors * 2) {
                for t in 0..<n {
                    let bits = masks[v / 2 * n + t] >> UInt16(8 * (v % 2))
                    for i in 0..<8 where bits & (1 << UInt16(i)) != 0 { laneMasks[(v * n + t) * 8 + i] = -1 }
                }
            }
        }
    }

    private enum TableKind: Hashable {
        case strideOne, strideTwo, strideTwoInputGradient(a: Int, b: Int)
    }

    private struct TableKey: Hashable {
        var kind: TableKind
        var height, width: Int
    }

    private static let tableLock = NSLock()
    nonisolated(unsafe) private static var tables: [TableKey: TapTable] = [:]

    private static func table(_ kind: TableKind, height h: Int, width w: Int) -> TapTable {
        tableLock.lock()
        defer { tableLock.unlock() }
        let key = TableKey(kind: kind, height: h, width: w)
        if let table = tables[key] { return table }
        let table: TapTable
        switch kind {
        case .strideOne:
            // (h, w) is the plane of input and output: tap (ki, kj) reads row y + ki − 1, column x + kj − 1.
            table = TapTable(plane: h, w, taps: Array(0..<9)) { t in
                let di = t / 3 - 1, dj = t % 3 - 1
                return (di * w + dj, { y, x in y + di >= 0 && y + di < h && x + dj >= 0 && x + dj < w })
            }
        case .strideTwo:
            // (h, w) is the output plane; the input is four (h, w) phase planes per channel. Input row
            // 2y + ki − 1 is phase a = (ki + 1) % 2, row y − 1 for ki = 0 and y otherwise.
            table = TapTable(plane: h, w, taps: Array(0..<9)) { t in
                let ki = t / 3, kj = t % 3
                let phase = ((ki + 1) % 2) * 2 + (kj + 1) % 2, di = ki == 0 ? -1 : 0, dj = kj == 0 ? -1 : 0
                return (phase * h * w + di * w + dj, { y, x in y + di >= 0 && x + dj >= 0 })
            }
        case .strideTwoInputGradient(let a, let b):
            // dX at phase (a, b), pixel (y, x) = Σ over the taps that read that phase of
            // w[·, ·, ki, kj] · dY[y − di, x − dj].
            table = TapTable(plane: h, w, taps: phaseTaps(a: a, b: b)) { t in
                let di = t / 3 == 0 ? -1 : 0, dj = t % 3 == 0 ? -1 : 0
                return (-di * w - dj, { y, x in y - di < h && x - dj < w })
            }
        }
        tables[key] = table
        return table
    }

    /// The tap table with which im2col/col2im of a 3×3 stride-1 pad-1 geometry (any groups) can
    /// copy each column row in one masked pass (`pfs_conv3x3_im2col`), or `nil` without AVX2.
    static func columnTable(for g: Conv2dGeometry, isa: InstructionSet) -> TapTable? {
        guard isa >= .avx2, g.kernelH == 3, g.kernelW == 3, g.strideH == 1, g.strideW == 1, g.padH == 1, g.padW == 1
        else { return nil }
        return table(.strideOne, height: g.height, width: g.width)
    }

    /// The taps (ki·3 + kj) of a stride-2 convolution that read input phase (a, b).
    static func phaseTaps(a: Int, b: Int) -> [Int] {
        let rows = a == 0 ? [1] : [0, 2], columns = b == 0 ? [1] : [0, 2]
        return rows.flatMap { ki in columns.map { kj in ki * 3 + kj } }
    }

    // MARK: weights

    /// The weights for the forward kernels: (outputs rounded up to `block`) / `block` blocks of
    /// (inputs, taps, `block`), zero beyond the last output, so that each block of output channels
    /// reads one contiguous run (8 for the pixel-vector kernel, 16 for the channel-vector one).
    /// Without `transposed`, outputs are C_out and inputs C_in; with it, the other way round (input
    /// gradients). Tap u takes the weights' tap `taps[u]`.
    /// The buffer is a ``Tensor``, so a training step reuses a recycled ``BufferPool`` buffer.
    /// `kernelOutputs` packs only those of the kernel's outputs (C_out, or C_in when transposed),
    /// renumbered from 0: the pixel-vector tail of a channel-vector layer.
    static func packWeights(_ weight: UnsafePointer<Float>, cout: Int, cin: Int, transposed: Bool, taps: [Int],
                            block: Int = 8, kernelOutputs: Range<Int>? = nil) -> Tensor {
        let inputs = transposed ? cout : cin, n = taps.count
        let range = kernelOutputs ?? 0..<(transposed ? cin : cout), outputs = range.count
        var result = Tensor(zeros: [inputs * n * ((outputs + block - 1) / block * block)])
        result.withUnsafeMutableBufferPointer { buffer in
            let packed = buffer.baseAddress!
            for o in transposed ? 0..<cout : range {
                for c in transposed ? range : 0..<cin {
                    let src = weight + (o * cin + c) * 9
                    // (kernel output, kernel input, tap) → ((output / block, input, tap), output % block).
                    let (ko, ki) = transposed ? (c - range.lowerBound, o) : (o - range.lowerBound, c)
                    let base = (ko / block * inputs + ki) * n * block + ko % block
                    for (u, t) in taps.enumerated() { packed[base + u * block] = src[t] }
                }
            }
        }
        return result
    }

    // MARK: channel-vector kernel

    /// Whether the stride-1 forward (or input gradient) of this geometry, with `inputs` channels
    /// going in, runs on the channel-vector kernel (`pfs_conv3x3_forward_channels`: 16 output
    /// channels per vector, input values broadcast from a padded copy) instead of the pixel-vector
    /// one. It needs blocks of 16 pixels (rows of 16k pixels, or two rows of 8) and pays off with
    /// enough input channels to amortise the padded copy and the final transposes.
    static func usesChannelKernel(_ g: Conv2dGeometry, inputs: Int, kernels: KernelSettings) -> Bool {
        kernels.usesChannelConvolution && g.strideH == 1 && g.strideW == 1 && inputs >= channelKernelMinimumInputs
            && (g.width % 16 == 0 || (g.width == 8 && g.height % 2 == 0))
    }

    static let channelKernelMinimumInputs = 32

    /// Images per call of the channel-vector kernel: their padded copies (`inputs`·(H + 2)·(W + 2)
    /// floats each) fill up to 512 KiB, so that each block of 16 output channels reads its weights
    /// once for several small images.
    static func channelKernelImages(_ g: Conv2dGeometry, inputs: Int) -> Int {
        max(1, min(g.batch, (1 << 17) / paddedCount(g, inputs: inputs)))
    }

    /// The output channels a stride-1 pass with `outputs` channels leaves to the pixel-vector kernel
    /// when it runs on the channel-vector one: the last `outputs` mod 16. The channel-vector kernel
    /// computes whole blocks of 16 channels, the pixel-vector one exactly the channels asked for, so
    /// a pruned width of 20 costs 16 + 4 channels rather than 32. Measured (batch 128, 2 threads,
    /// Zen 4, forward, medians of 9 alternations, ms, tail on the pixel-vector kernel vs the last
    /// block on the channel-vector one): 32→19 @ 16×16 1.79 vs 2.73, 64→20 @ 8×8 1.00 vs 1.40,
    /// 64→34 @ 8×8 1.58 vs 2.07, 64→13 @ 8×8 0.64 vs 0.81. Sending only tails of up to 8 channels
    /// there lost on tails of 14, 13 and 9 (32→14 1.52 vs 1.34, 64→13 0.83 vs 0.64, 64→25 1.48 vs 1.26).
    static func pixelTail(outputs: Int) -> Int { outputs % 16 }

    /// A stride-1 pass (the forward, or with `transposed` the input gradient) on the channel-vector
    /// kernel: `inputs` channels of `inImage` floats per image in `source`, `outputs` channels of
    /// `outImage` in `destination`. Whole blocks of 16 output channels run on the channel-vector
    /// kernel, several images per call (``channelKernelImages(_:inputs:)``) from padded copies; the
    /// ``pixelTail(outputs:)`` channels after them on the pixel-vector kernel, image by image.
    private static func runChannelKernel(_ g: Conv2dGeometry, weight: UnsafePointer<Float>, transposed: Bool,
                                         source: UnsafePointer<Float>, inImage: Int, inputs: Int,
                                         destination: UnsafeMutablePointer<Float>, outImage: Int, outputs: Int,
                                         workspace: Workspace, workers: Int) {
        let cout = g.outChannels, cin = g.inChannels, plane = g.outPlane
        let taps = transposed ? Array((0..<9).reversed()) : Array(0..<9)
        let tail = pixelTail(outputs: outputs), head = outputs - tail
        if head > 0 {
            let blocks = packWeights(weight, cout: cout, cin: cin, transposed: transposed, taps: taps, block: 16,
                                     kernelOutputs: 0..<head)
            let group = channelKernelImages(g, inputs: inputs)
            workspace.reserve(workers: workers, slots: [group * paddedCount(g, inputs: inputs)])
            blocks.withUnsafeBufferPointer { w in
                Parallel.forChunks(g.batch, threads: workers) { worker, images in
                    let padded = workspace.buffer(worker: worker, slot: 0)
                    for first in stride(from: images.lowerBound, to: images.upperBound, by: group) {
                        let count = min(group, images.upperBound - first)
                        let done = pfs_conv3x3_forward_channels(source + first * inImage, inImage, Int32(count),
                                                                Int32(inputs), Int32(g.outHeight), Int32(g.outWidth),
                                                                w.baseAddress!, Int32(head), padded,
                                                                destination + first * outImage, outImage)
                        precondition(done == 1, "DirectConvolution: the AVX-512 kernel refused to run")
                    }
                }
            }
        }
        if tail > 0 {
            let tailWeights = packWeights(weight, cout: cout, cin: cin, transposed: transposed, taps: taps,
                                          kernelOutputs: head..<outputs)
            let table = table(.strideOne, height: g.outHeight, width: g.outWidth)
            tailWeights.withUnsafeBufferPointer { t in
                Parallel.forChunks(g.batch, threads: workers) { _, images in
                    for n in images {
                        runKernel(table, weights: t.baseAddress!, source: source + n * inImage, channelStride: plane,
                                  inputs: inputs, outputs: tail, plane: plane,
                                  destination: destination + n * outImage + head * plane, isa: .avx512)
                    }
                }
            }
        }
    }

    /// Floats of one worker's padded-image scratch for `inputs` channels.
    static func paddedCount(_ g: Conv2dGeometry, inputs: Int) -> Int { inputs * (g.outHeight + 2) * (g.outWidth + 2) }

    // MARK: AVX2 stride 1 on padded copies

    /// The stride-1 forward (or input gradient) on AVX2: each image is copied with its zero border
    /// (`inputs` channels), then every tap is a plain load at a fixed offset
    /// (`pfs_conv3x3_forward_padded_avx2`). `weights` packed in blocks of 8, taps in kernel order.
    private static func runPaddedKernel(_ g: Conv2dGeometry, weights: Tensor, source: UnsafePointer<Float>,
                                        inImage: Int, inputs: Int, destination: UnsafeMutablePointer<Float>,
                                        outImage: Int, outputs: Int, workspace: Workspace, workers: Int) {
        let h = g.outHeight, w = g.outWidth
        workspace.reserve(workers: workers, slots: [paddedCount(g, inputs: inputs) + Int(PFS_PAD_SLACK)])
        weights.withUnsafeBufferPointer { packed in
            Parallel.forChunks(g.batch, threads: workers) { worker, images in
                let padded = workspace.buffer(worker: worker, slot: 0)
                for n in images {
                    _ = pfs_conv3x3_pad_slack(source + n * inImage, h * w, Int32(inputs), Int32(h), Int32(w), padded)
                    let done = pfs_conv3x3_forward_padded_avx2(padded, Int32(inputs), Int32(h), Int32(w),
                                                               packed.baseAddress!, Int32(outputs),
                                                               destination + n * outImage)
                    precondition(done == 1, "DirectConvolution: the AVX2 kernel refused to run")
                }
            }
        }
    }

    /// The stride-1 weight gradient on AVX2 into each worker's partial, from padded copies of its
    /// images (`pfs_conv3x3_weight_gradient_padded_avx2`).
    private static func paddedWeightGradient(_ g: Conv2dGeometry, input: UnsafePointer<Float>,
                                             gradOutput: UnsafePointer<Float>, workspace: Workspace, workers: Int,
                                             tile: Int) {
        let h = g.outHeight, w = g.outWidth, plane = h * w, cin = g.inChannels, cout = g.outChannels
        let paddedImage = paddedCount(g, inputs: cin) + Int(PFS_PAD_SLACK)
        forEachWeightTile(g, workspace: workspace, workers: workers, tile: tile,
                          scratch: [tile * paddedImage]) { worker, partial, first, count in
            let padded = workspace.buffer(worker: worker, slot: 1)
            for i in 0..<count {
                _ = pfs_conv3x3_pad_slack(input + (first + i) * cin * plane, plane, Int32(cin), Int32(h), Int32(w),
                                         padded + i * paddedImage)
            }
            let done = pfs_conv3x3_weight_gradient_padded_avx2(padded, paddedImage, gradOutput + first * cout * plane,
                                                               cout * plane, Int32(count), Int32(cin), Int32(h),
                                                               Int32(w), Int32(cout), partial)
            precondition(done == 1, "DirectConvolution: the AVX2 kernel refused to run")
        }
    }

    // MARK: passes

    /// One call of the forward kernel: `outputs` channels of one image into `destination` from
    /// `inputs` channels starting at `source`, `channelStride` floats apart.
    private static func runKernel(_ table: TapTable, weights: UnsafePointer<Float>, source: UnsafePointer<Float>,
                                  channelStride: Int, inputs: Int, outputs: Int, plane: Int,
                                  destination: UnsafeMutablePointer<Float>, isa: InstructionSet) {
        let done = table.offsets.withUnsafeBufferPointer { offsets in
            isa == .avx512
                ? table.masks.withUnsafeBufferPointer { masks in
                    pfs_conv3x3_forward(source, channelStride, Int32(inputs), plane, Int32(table.taps.count),
                                        offsets.baseAddress!, masks.baseAddress!, weights, Int32(outputs), destination)
                }
                : table.laneMasks.withUnsafeBufferPointer { lanes in
                    pfs_conv3x3_forward_avx2(source, channelStride, Int32(inputs), plane, Int32(table.taps.count),
                                             offsets.baseAddress!, lanes.baseAddress!, weights, Int32(outputs),
                                             destination)
                }
        }
        precondition(done == 1, "DirectConvolution: the \(isa) kernel refused to run")
    }

    /// Y = conv(X, W) for a geometry that ``applies(to:)``.
    static func forward(_ g: Conv2dGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>, workspace: Workspace, threads: Int,
                        kernels: KernelSettings) {
        let strideTwo = g.strideH == 2, plane = g.outPlane, cin = g.inChannels, cout = g.outChannels
        let workers = Parallel.workers(for: g.batch, threads: threads)
        let inImage = cin * g.inPlane, outImage = cout * plane
        if usesChannelKernel(g, inputs: cin, kernels: kernels) {
            runChannelKernel(g, weight: weight, transposed: false, source: input, inImage: inImage, inputs: cin,
                             destination: output, outImage: outImage, outputs: cout, workspace: workspace,
                             workers: workers)
            return
        }
        if !strideTwo && kernels.isa == .avx2 {
            let packed = packWeights(weight, cout: cout, cin: cin, transposed: false, taps: Array(0..<9))
            runPaddedKernel(g, weights: packed, source: input, inImage: inImage, inputs: cin, destination: output,
                            outImage: outImage, outputs: cout, workspace: workspace, workers: workers)
            return
        }
        let table = table(strideTwo ? .strideTwo : .strideOne, height: g.outHeight, width: g.outWidth)
        let packed = packWeights(weight, cout: cout, cin: cin, transposed: false, taps: table.taps)
        workspace.reserve(workers: workers, slots: [strideTwo ? cin * g.inPlane : 0])
        packed.withUnsafeBufferPointer { w in
            Parallel.forChunks(g.batch, threads: workers) { worker, images in
                let phases = workspace.buffer(worker: worker, slot: 0)
                for n in images {
                    var source = input + n * inImage
                    if strideTwo {
                        splitPhases(source, channels: cin, g, into: phases)
                        source = UnsafePointer(phases)
                    }
                    runKernel(table, weights: w.baseAddress!, source: source, channelStride: strideTwo ? 4 * plane : plane,
                              inputs: cin, outputs: cout, plane: plane, destination: output + n * outImage,
                              isa: kernels.isa)
                }
            }
        }
    }

    /// dX (overwritten) from dY for a geometry that ``applies(to:)``. Returns the MACs done.
    static func inputGradient(_ g: Conv2dGeometry, weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                              gradInput: UnsafeMutablePointer<Float>, workspace: Workspace, threads: Int,
                              kernels: KernelSettings) -> Int {
        let cin = g.inChannels, cout = g.outChannels, plane = g.outPlane
        let inImage = cin * g.inPlane, outImage = cout * plane
        let workers = Parallel.workers(for: g.batch, threads: threads)
        if usesChannelKernel(g, inputs: cout, kernels: kernels) {
            // The transposed convolution (flipped taps) on the channel-vector kernel.
            runChannelKernel(g, weight: weight, transposed: true, source: gradOutput, inImage: outImage, inputs: cout,
                             destination: gradInput, outImage: inImage, outputs: cin, workspace: workspace,
                             workers: workers)
            return g.macs
        }
        if g.strideH == 1 && kernels.isa == .avx2 {
            let packed = packWeights(weight, cout: cout, cin: cin, transposed: true, taps: (0..<9).reversed())
            runPaddedKernel(g, weights: packed, source: gradOutput, inImage: outImage, inputs: cout,
                            destination: gradInput, outImage: inImage, outputs: cin, workspace: workspace,
                            workers: workers)
            return g.macs
        }
        if g.strideH == 1 {
            // The transposed convolution: flipped taps (tap t takes the weights' tap 8 − t).
            let table = table(.strideOne, height: g.outHeight, width: g.outWidth)
            let packed = packWeights(weight, cout: cout, cin: cin, transposed: true, taps: (0..<9).reversed())
            packed.withUnsafeBufferPointer { w in
                Parallel.forChunks(g.batch, threads: workers) { _, images in
                    for n in images {
                        runKernel(table, weights: w.baseAddress!, source: gradOutput + n * outImage, channelStride: plane,
                                  inputs: cout, outputs: cin, plane: plane, destination: gradInput + n * inImage,
                                  isa: kernels.isa)
                    }
                }
            }
            return g.macs
        }
        // Stride 2: each input phase (a, b) from the taps that read it, then interleaved into dX.
        let phases = [(0, 0), (0, 1), (1, 0), (1, 1)]
        let tables = phases.map { table(.strideTwoInputGradient(a: $0.0, b: $0.1), height: g.outHeight, width: g.outWidth) }
        let packed = tables.map { packWeights(weight, cout: cout, cin: cin, transposed: true, taps: $0.taps) }
        workspace.reserve(workers: workers, slots: [4 * cin * plane])
        Parallel.forChunks(g.batch, threads: workers) { worker, images in
            let buffer = workspace.buffer(worker: worker, slot: 0)
            for n in images {
                for (k, table) in tables.enumerated() {
                    packed[k].withUnsafeBufferPointer { w in
                        runKernel(table, weights: w.baseAddress!, source: gradOutput + n * outImage, channelStride: plane,
                                  inputs: cout, outputs: cin, plane: plane, destination: buffer + k * cin * plane,
                                  isa: kernels.isa)
                    }
                }
                mergePhases(buffer, channels: cin, g, into: gradInput + n * inImage)
            }
        }
        return g.macs
    }

    /// dW += ∂L/∂W from X and dY for a geometry that ``applies(to:)``; dW is (C_out, C_in, 3, 3).
    /// Each worker sums its images into its own partial, (C_in, 3·3, C_out), and the partials are
    /// added in worker order, so the result does not depend on scheduling. Returns the MACs done.
    static func weightGradient(_ g: Conv2dGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                               gradWeight: UnsafeMutablePointer<Float>, workspace: Workspace, threads: Int,
                               kernels: KernelSettings) -> Int {
        let workers = Parallel.workers(for: g.batch, threads: threads)
        let tile = max(1, min(g.batch, weightGradientPixels / g.outPlane))
        if usesChannelWeightGradient(g, kernels: kernels) {
            let swapped = channelWeightGradientSwapsRoles(g)
            channelWeightGradient(g, input: input, gradOutput: gradOutput, swapped: swapped, workspace: workspace,
                                  workers: workers, tile: tile)
            if swapped {
                addSwappedPartials(workspace, workers: workers, cin: g.inChannels, cout: g.outChannels,
                                   into: gradWeight)
                return g.macs
            }
        } else if g.strideH == 1 && kernels.isa == .avx2 {
            paddedWeightGradient(g, input: input, gradOutput: gradOutput, workspace: workspace, workers: workers,
                                 tile: tile)
        } else {
            pixelWeightGradient(g, input: input, gradOutput: gradOutput, workspace: workspace, workers: workers,
                                tile: tile, isa: kernels.isa)
        }
        addTransposedPartials(workspace, workers: workers, cin: g.inChannels, cout: g.outChannels, into: gradWeight)
        return g.macs
    }

    /// Whether the weight gradient runs on the channel-vector kernel
    /// (`pfs_conv3x3_weight_gradient_channels`): stride 1, any plane.
    static func usesChannelWeightGradient(_ g: Conv2dGeometry, kernels: KernelSettings) -> Bool {
        kernels.usesChannelConvolution && kernels.channelWeightGradient && g.strideH == 1 && g.strideW == 1
    }

    /// Runs `body(worker, partial, first, count)` on each worker's images, `tile` at a time, with
    /// the worker's partial (C_in, 3·3, C_out) zeroed in workspace slot 0 and `scratch` more slots
    /// (floats each) reserved as slots 1, 2, ….
    private static func forEachWeightTile(_ g: Conv2dGeometry, workspace: Workspace, workers: Int, tile: Int,
                                          scratch: [Int],
                                          _ body: (_ worker: Int, _ partial: UnsafeMutablePointer<Float>,
                                                   _ first: Int, _ count: Int) -> Void) {
        let weightCount = g.outChannels * g.inChannels * 9
        workspace.reserve(workers: workers, slots: [weightCount] + scratch)
        Parallel.forChunks(g.batch, threads: workers) { worker, images in
            let partial = workspace.buffer(worker: worker, slot: 0)
            partial.update(repeating: 0, count: weightCount)
            for first in stride(from: images.lowerBound, to: images.upperBound, by: tile) {
                body(worker, partial, first, min(tile, images.upperBound - first))
            }
        }
    }

    /// The pixel-vector weight gradient (tap tables; stride 2 through phase planes) into each
    /// worker's partial.
    private static func pixelWeightGradient(_ g: Conv2dGeometry, input: UnsafePointer<Float>,
                                            gradOutput: UnsafePointer<Float>, workspace: Workspace, workers: Int,
                                            tile: Int, isa: InstructionSet) {
        let strideTwo = g.strideH == 2, plane = g.outPlane, cin = g.inChannels, cout = g.outChannels
        let inImage = cin * g.inPlane, channelStride = strideTwo ? 4 * plane : plane
        let table = table(strideTwo ? .strideTwo : .strideOne, height: g.outHeight, width: g.outWidth)
        table.offsets.withUnsafeBufferPointer { offsets in
        table.masks.withUnsafeBufferPointer { masks in
        table.laneMasks.withUnsafeBufferPointer { lanes in
            forEachWeightTile(g, workspace: workspace, workers: workers, tile: tile,
                              scratch: [strideTwo ? tile * inImage : 0]) { worker, partial, first, count in
                var source = input + first * inImage
                if strideTwo {
                    let phases = workspace.buffer(worker: worker, slot: 1)
                    for i in 0..<count { splitPhases(source + i * inImage, channels: cin, g, into: phases + i * inImage) }
                    source = UnsafePointer(phases)
                }
                let gradImages = gradOutput + first * cout * plane
                let done = isa == .avx512
                    ? pfs_conv3x3_weight_gradient(source, inImage, channelStride, offsets.baseAddress!,
                                                  masks.baseAddress!, gradImages, cout * plane, Int32(count),
                                                  Int32(cin), plane, Int32(cout), partial)
                    : pfs_conv3x3_weight_gradient_avx2(source, inImage, channelStride, offsets.baseAddress!,
                                                       lanes.baseAddress!, gradImages, cout * plane, Int32(count),
                                                       Int32(cin), plane, Int32(cout), partial)
                precondition(done == 1, "DirectConvolution: the \(isa) kernel refused to run")
            }
        }}}
    }

    /// Whether the channel-vector weight gradient puts the input channels in the vector lanes rather
    /// than the output channels. The kernel pays for whole blocks of 16 lane channels: C_in · ⌈C_out⌉₁₆
    /// multiply-adds one way, C_out · ⌈C_in⌉₁₆ the other, so a pruned layer that narrows 16 → 11
    /// channels does 16 · 16 one way and 11 · 16 the other.
    static func channelWeightGradientSwapsRoles(_ g: Conv2dGeometry) -> Bool {
        func lanes(_ channels: Int) -> Int { (channels + 15) / 16 * 16 }
        return g.outChannels * lanes(g.inChannels) < g.inChannels * lanes(g.outChannels)
    }

    /// The channel-vector weight gradient into each worker's partial: padded copies of the inputs
    /// and channel-transposed copies of dY, then the kernel, which sums
    ///
    ///     partial[c, t, o] += Σ_p dY[o, p] · Xpad[c, p + t]        (o in the lanes)
    ///
    /// With `swapped` the two change places: padded copies of dY and channel-transposed copies of X,
    ///
    ///     partial[o, t, c] += Σ_p X[c, p] · dYpad[o, p + t] = dW[o, c, 8 − t]   (c in the lanes),
    ///
    /// since a tap (i, j) read from dY at p + (i − 1, j − 1) is the tap (2 − i, 2 − j) read from X.
    private static func channelWeightGradient(_ g: Conv2dGeometry, input: UnsafePointer<Float>,
                                              gradOutput: UnsafePointer<Float>, swapped: Bool, workspace: Workspace,
                                              workers: Int, tile: Int) {
        let plane = g.outPlane, cin = g.inChannels, cout = g.outChannels
        // The padded operand (broadcast) and the transposed one (in the lanes), and their channels.
        let (broadcast, broadcastChannels, lanes, laneChannels) = swapped
            ? (gradOutput, cout, input, cin) : (input, cin, gradOutput, cout)
        let paddedImage = paddedCount(g, inputs: broadcastChannels)
        let laneImage = (laneChannels + 15) / 16 * 16 * plane
        forEachWeightTile(g, workspace: workspace, workers: workers, tile: tile,
                          scratch: [tile * paddedImage, tile * laneImage]) { worker, partial, first, count in
            let padded = workspace.buffer(worker: worker, slot: 1)
            let transposed = workspace.buffer(worker: worker, slot: 2)
            for i in 0..<count {
                _ = pfs_conv3x3_pad(broadcast + (first + i) * broadcastChannels * plane, plane,
                                    Int32(broadcastChannels), Int32(g.outHeight), Int32(g.outWidth),
                                    padded + i * paddedImage)
                _ = pfs_transpose_channels(lanes + (first + i) * laneChannels * plane, Int32(laneChannels), plane,
                                           transposed + i * laneImage)
            }
            let done = pfs_conv3x3_weight_gradient_channels(padded, transposed, Int32(count),
                                                            Int32(broadcastChannels), Int32(g.outHeight),
                                                            Int32(g.outWidth), Int32(laneChannels), partial)
            precondition(done == 1, "DirectConvolution: the AVX-512 kernel refused to run")
        }
    }

    /// dW[o, c, t] += Σ_worker partial[o, 8 − t, c], summed in worker order: the swapped
    /// channel-vector kernel's partials (see ``channelWeightGradient``).
    private static func addSwappedPartials(_ workspace: Workspace, workers: Int, cin: Int, cout: Int,
                                           into gradWeight: UnsafeMutablePointer<Float>) {
        addPartials(workspace, workers: workers, outer: cout, inner: cin, stride: 9, into: gradWeight) { o, t in
            o * cin * 9 + 8 - t
        }
    }

    /// dW[o, c, t] += Σ_worker partial[c, t, o], summed in worker order (deterministic): the kernel
    /// accumulates with output channels contiguous.
    private static func addTransposedPartials(_ workspace: Workspace, workers: Int, cin: Int, cout: Int,
                                              into gradWeight: UnsafeMutablePointer<Float>) {
        addPartials(workspace, workers: workers, outer: cin, inner: cout, stride: cin * 9, into: gradWeight) { c, t in
            c * 9 + t
        }
    }

    /// Adds each worker's partial, (outer, 3·3, inner) in workspace slot 0, into dW in worker order:
    /// element (a, t, b) goes to dW[start(a, t) + b · stride]. Split over `outer` across the threads;
    /// each element still sums the workers in order, so the result does not depend on scheduling.
    private static func addPartials(_ workspace: Workspace, workers: Int, outer: Int, inner: Int, stride: Int,
                                    into gradWeight: UnsafeMutablePointer<Float>, start: (Int, Int) -> Int) {
        Parallel.forBlocks(outer, minimumPerThread: max(1, (1 << 15) / (9 * inner))) { rows in
            for worker in 0..<workers {
                let partial = UnsafePointer(workspace.buffer(worker: worker, slot: 0))
                for a in rows {
                    for t in 0..<9 {
                        let row = partial + (a * 9 + t) * inner
                        var destination = gradWeight + start(a, t)
                        for b in 0..<inner {
                            destination.pointee += row[b]
                            destination += stride
                        }
                    }
                }
            }
        }
    }

    // MARK: stride-2 phases

    /// (C, H, W) → (C, 4, H/2, W/2): phase a·2 + b holds x[c, 2i + a, 2j + b].
    static func splitPhases(_ image: UnsafePointer<Float>, channels: Int, _ g: Conv2dGeometry,
                            into phases: UnsafeMutablePointer<Float>) {
        let h = g.outHeight, w = g.outWidth, width = g.width, plane = h * w
        for c in 0..<channels {
            let src = image + c * g.inPlane, dst = phases + c * 4 * plane
            for i in 0..<h {
                let row0 = src + 2 * i * width, row1 = row0 + width
                let p00 = dst + i * w, p01 = p00 + plane, p10 = p01 + plane, p11 = p10 + plane
                for j in 0..<w {
                    p00[j] = row0[2 * j]; p01[j] = row0[2 * j + 1]
                    p10[j] = row1[2 * j]; p11[j] = row1[2 * j + 1]
                }
            }
        }
    }

    /// The four phase planes of dX (in the order of `phaseTaps`' callers: (0,0), (0,1), (1,0),
    /// (1,1), each (C, H/2, W/2)) interleaved into (C, H, W).
    static func mergePhases(_ phases: UnsafePointer<Float>, channels: Int, _ g: Conv2dGeometry,
                            into image: UnsafeMutablePointer<Float>) {
        let h = g.outHeight, w = g.outWidth, width = g.width, plane = h * w, block = channels * plane
        for c in 0..<channels {
            let dst = image + c * g.inPlane
            let p00 = phases + c * plane, p01 = p00 + block, p10 = p01 + block, p11 = p10 + block
            for i in 0..<h {
                let row0 = dst + 2 * i * width, row1 = row0 + width, o = i * w
                for j in 0..<w {
                    row0[2 * j] = p00[o + j]; row0[2 * j + 1] = p01[o + j]
                    row1[2 * j] = p10[o + j]; row1[2 * j + 1] = p11[o + j]
                }
            }
        }
    }
}
