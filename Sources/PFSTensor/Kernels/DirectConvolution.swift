import Foundation
import PFSKernelsC

/// 3×3, stride-1, padding-1 convolutions (every convolution of VGG and most of the CIFAR ResNets)
/// computed directly with AVX-512, without a column matrix or even a padded copy: see
/// `PFSKernelsC`. Every tap is a flat run of pixels of the unpadded plane, read with a per-vector
/// lane mask that stands for the zero padding (``tapMasks(height:width:)``). The input gradient of
/// such a convolution is the same operation on dY with the flipped, transposed weights, so it runs
/// on the forward kernel; the weight gradient has its own kernel.
///
/// Used only when the CPU has AVX-512 and `PFS_DIRECT_CONV` is not `0`; elsewhere the
/// im2col + SGEMM path of ``Convolution`` runs unchanged.
enum DirectConvolution {
    /// Whether the kernel may be used in this process.
    static let isAvailable: Bool = pfs_cpu_has_avx512() != 0 && environment("PFS_DIRECT_CONV") != "0"

    static func applies(to g: Conv2dGeometry) -> Bool {
        isAvailable && g.kernelH == 3 && g.kernelW == 3 && g.strideH == 1 && g.strideW == 1
            && g.padH == 1 && g.padW == 1 && g.groups == 1 && g.inPlane >= minimumPlane
    }

    /// Smaller planes leave most of the 16-lane vectors idle (the forward kernel works on 32 pixels
    /// at a time); there im2col + SGEMM is faster. Measured with `pfs bench --op conv --shapes vgg`,
    /// one thread: 512 channels at 4×4 ran at 69 vs 103 GFLOPS, at 2×2 at 18 vs 92, while 256 at
    /// 8×8 ran at 141 vs 125 (forward).
    static let minimumPlane = 64

    private static let maskLock = NSLock()
    nonisolated(unsafe) private static var masksBySize: [Int: [UInt16]] = [:]

    /// The kernels' tap masks for an H × W plane, computed once per size and kept.
    static func tapMasks(height: Int, width: Int) -> [UInt16] {
        let key = height << 32 | width
        maskLock.lock()
        defer { maskLock.unlock() }
        if let masks = masksBySize[key] { return masks }
        var masks = [UInt16](repeating: 0, count: pfs_conv3x3_tap_mask_count(Int32(height), Int32(width)))
        _ = pfs_conv3x3_tap_masks(Int32(height), Int32(width), &masks)
        masksBySize[key] = masks
        return masks
    }

    /// Pixels (images × plane) the weight-gradient kernel sums over between two reductions of its
    /// accumulators: enough to amortise them, few enough that the 8 dY planes stay in L1.
    nonisolated(unsafe) static var weightGradientPixels = 1024

    /// The weights as (C_out rounded up to 8) / 8 blocks of (C_in, 3, 3, 8), zero beyond C_out, so
    /// that each block of 8 output channels reads one contiguous run. With `flipped`, the weights of
    /// the transposed convolution: w'[o, c, i, j] = w[c, o, 2 − i, 2 − j].
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
                    // (kernel output, kernel input, tap) → ((output / 8, input, tap), output % 8).
                    let (ko, ki) = flipped ? (c, o) : (o, c)
                    let base = ((ko / 8 * inputs + ki) * 9) * 8 + ko % 8
                    for k in 0..<9 { packed[base + k * 8] = src[flipped ? 8 - k : k] }
                }
            }
        }
        return result
    }

    /// Runs the forward kernel over a batch of `inputs`-channel (H, W) images into `outputs`-channel ones.
    static func run(batch: Int, height: Int, width: Int, inputs: Int, outputs: Int,
                    source: UnsafePointer<Float>, packed: UnsafePointer<Float>,
                    destination: UnsafeMutablePointer<Float>, threads: Int) {
        let inImage = inputs * height * width, outImage = outputs * height * width
        tapMasks(height: height, width: width).withUnsafeBufferPointer { masks in
            Parallel.forChunks(batch, threads: Parallel.workers(for: batch, threads: threads)) { _, images in
                for n in images {
                    let done = pfs_conv3x3_forward(source + n * inImage, masks.baseAddress!, Int32(inputs),
                                                   Int32(height), Int32(width), packed, Int32(outputs),
                                                   destination + n * outImage)
                    precondition(done == 1, "DirectConvolution: the AVX-512 kernel refused to run")
                }
            }
        }
    }

    /// Y = conv(X, W) for a geometry that ``applies(to:)``.
    static func forward(_ g: Conv2dGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>, threads: Int) {
        let packed = packWeights(weight, cout: g.outChannels, cin: g.inChannels, flipped: false)
        packed.withUnsafeBufferPointer { w in
            run(batch: g.batch, height: g.height, width: g.width, inputs: g.inChannels, outputs: g.outChannels,
                source: input, packed: w.baseAddress!, destination: output, threads: threads)
        }
    }

    /// dX (overwritten) from dY for a geometry that ``applies(to:)``. Returns the MACs done.
    static func inputGradient(_ g: Conv2dGeometry, weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                              gradInput: UnsafeMutablePointer<Float>, threads: Int) -> Int {
        let packed = packWeights(weight, cout: g.outChannels, cin: g.inChannels, flipped: true)
        packed.withUnsafeBufferPointer { w in
            run(batch: g.batch, height: g.outHeight, width: g.outWidth, inputs: g.outChannels, outputs: g.inChannels,
                source: gradOutput, packed: w.baseAddress!, destination: gradInput, threads: threads)
        }
        return g.macs
    }

    /// dW += ∂L/∂W from X and dY for a geometry that ``applies(to:)``; dW is (C_out, C_in, 3, 3).
    /// Each worker sums its images into its own partial, and the partials are added in worker
    /// order, so the result does not depend on scheduling. Returns the MACs done.
    static func weightGradient(_ g: Conv2dGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                               gradWeight: UnsafeMutablePointer<Float>, workspace: Workspace, threads: Int) -> Int {
        let h = g.height, w = g.width, plane = h * w, cin = g.inChannels, cout = g.outChannels
        let tile = max(1, min(g.batch, weightGradientPixels / plane))
        let weightCount = cout * cin * 9
        let workers = Parallel.workers(for: g.batch, threads: threads)
        workspace.reserve(workers: workers, slots: [weightCount])
        tapMasks(height: h, width: w).withUnsafeBufferPointer { masks in
            Parallel.forChunks(g.batch, threads: workers) { worker, images in
                let partial = workspace.buffer(worker: worker, slot: 0)
                partial.update(repeating: 0, count: weightCount)
                for first in stride(from: images.lowerBound, to: images.upperBound, by: tile) {
                    let count = min(tile, images.upperBound - first)
                    let done = pfs_conv3x3_weight_gradient(input + first * cin * plane, cin * plane, masks.baseAddress!,
                                                           gradOutput + first * cout * plane, cout * plane,
                                                           Int32(count), Int32(cin), Int32(h), Int32(w), Int32(cout),
                                                           partial)
                    precondition(done == 1, "DirectConvolution: the AVX-512 kernel refused to run")
                }
            }
        }
        Convolution.addWorkerPartials(workspace, workers: workers, slot: 0, count: weightCount, into: gradWeight)
        return g.macs
    }
}
