import PFSKernelsC

/// 3×3 stride-1 pad-1 convolutions by Winograd F(4×4, 3×3) (`pfs_wino_forward` in `PFSKernelsC`):
/// each 4×4 output tile costs 36 multiply-adds per channel pair instead of 144, paid for by
/// transforming every 6×6 input patch and every 6×6 result tile. Forward and input gradient (the
/// same operation on dY with the transposed, rotated filters); the weight gradient runs where it
/// would without Winograd (``Convolution/weightGradientAlgorithm(for:kernels:threads:)``).
///
/// Tiles run in chunks of ``chunkTiles(_:inputs:outputs:workers:l2Bytes:)`` per call, so that one
/// chunk's transformed patches V (36 × C_in × tiles) and products M (36 × C_out × tiles) stay in L2;
/// chunks are spread over the workers. Rounding differs from direct summation: the transforms add and
/// scale values by up to 8 and 1/24, so results agree to about 1e-5 relative rather than 1e-6.
enum WinogradConvolution {
    /// Whether the forward pass (and input gradient) of this geometry runs here: 3×3, stride 1,
    /// padding 1, no groups, sides multiples of 4 (from 8), AVX2 or AVX-512, with at least
    /// ``minimumChannels`` channels each way and ``minimumTilesPerWorker`` tiles for each of
    /// `threads` workers.
    static func applies(to g: Conv2dGeometry, kernels: KernelSettings, threads: Int) -> Bool {
        kernels.usesWinogradConvolution && g.kernelH == 3 && g.kernelW == 3 && g.strideH == 1 && g.strideW == 1
            && g.padH == 1 && g.padW == 1 && g.groups == 1 && g.height % 4 == 0 && g.width % 4 == 0
            && g.height >= 8 && g.width >= 8
            && min(g.inChannels, g.outChannels) >= minimumChannels
            && tiles(g) >= minimumTilesPerWorker * max(1, threads)
    }

    /// 4×4 output tiles of the whole batch.
    static func tiles(_ g: Conv2dGeometry) -> Int { g.batch * (g.height / 4) * (g.width / 4) }

    /// Fewest tiles per worker: a call computes whole vectors of 32 tiles, so a few images of a small
    /// plane would pay for padding and leave workers idle. At batch 1 a ResNet-56 forward pass ran
    /// at 178 img/s with every layer on Winograd against 265 on the direct kernels; at batch 8, 706
    /// against 540 (AVX-512, Zen 4, two threads).
    static let minimumTilesPerWorker = 64

    /// Fewest input and output channels for Winograd. Narrow layers are where the direct kernels
    /// leave most of their vectors idle: a ResNet-56 pruned to 50 % MACs (widths 5–64) ran its
    /// forward pass at 1,626–1,671 img/s with 8 here against 1,408–1,423 with 16, its training step
    /// at 425–432 against 393–396 (4 measured the same as 8; AVX-512, Zen 4, two alternating rounds).
    static let minimumChannels = 8

    /// Floats of scratch per chunk (V and M of one call) for an L2 cache of `l2Bytes`: half of it, so
    /// that the patches read and the weights stay beside them; 2¹⁷ floats for Zen 4's 1 MiB. On that
    /// machine (AVX-512, two threads, medians of three alternating rounds) ResNet-56 at batch 128 ran
    /// 2 % (forward) and 8 % (training) slower with chunks as large as the L2, and 20 % and 17 % slower
    /// with chunks twice as large; half as large measured the same. Fixed chunks of Zen 4's size would
    /// be those on the 512 KiB or 256 KiB L2 of Zen 2–3 or of many Intel client cores.
    static func chunkFloats(l2Bytes: Int) -> Int { max(l2Bytes, 64 << 10) / 8 }

    /// Tiles per call: a multiple of 32 (two vectors of 16 tiles), at least 32, at most what keeps
    /// V and M in half of an L2 of `l2Bytes` and what gives each of `workers` a share.
    static func chunkTiles(_ g: Conv2dGeometry, inputs: Int, outputs: Int, workers: Int, l2Bytes: Int) -> Int {
        let share = (tiles(g) + workers - 1) / max(1, workers)
        let fits = chunkFloats(l2Bytes: l2Bytes) / (36 * (inputs + outputs))
        return max(32, min(fits, (share + 31) / 32 * 32) / 32 * 32)
    }

    /// Y = conv(X, W), overwritten, through the `epilogue` (in the output transform) if there is one.
    static func forward(_ g: Conv2dGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        epilogue: ConvolutionEpilogue? = nil, output: UnsafeMutablePointer<Float>, workspace: Workspace,
                        threads: Int, kernels: KernelSettings) {
        run(g, weight: weight, transposed: false, source: input, inputs: g.inChannels, destination: output,
            outputs: g.outChannels, epilogue: epilogue, workspace: workspace, threads: threads, kernels: kernels)
    }

    /// dX (overwritten) from dY. Returns the direct convolution's MACs (the work it stands for).
    static func inputGradient(_ g: Conv2dGeometry, weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                              gradInput: UnsafeMutablePointer<Float>, workspace: Workspace, threads: Int,
                              kernels: KernelSettings) -> Int {
        run(g, weight: weight, transposed: true, source: gradOutput, inputs: g.outChannels, destination: gradInput,
            outputs: g.inChannels, epilogue: nil, workspace: workspace, threads: threads, kernels: kernels)
        return g.macs
    }

    /// One pass: `inputs` planes per image of `source` → `outputs` planes per image of `destination`.
    private static func run(_ g: Conv2dGeometry, weight: UnsafePointer<Float>, transposed: Bool,
                            source: UnsafePointer<Float>, inputs: Int, destination: UnsafeMutablePointer<Float>,
                            outputs: Int, epilogue: ConvolutionEpilogue?, workspace: Workspace, threads: Int,
                            kernels: KernelSettings) {
        let h = g.height, w = g.width, plane = h * w
        let perImage = (h / 4) * (w / 4), tiles = Self.tiles(g)
        let isa = kernels.isa
        let chunk = chunkTiles(g, inputs: inputs, outputs: outputs, workers: max(1, threads), l2Bytes: kernels.l2CacheBytes)
        let chunks = (tiles + chunk - 1) / chunk
        var transformed = Tensor(unsafeUninitializedShape: [36 * inputs * outputs])
        transformed.withUnsafeMutableBufferPointer { u in
            _ = pfs_wino_weights(weight, Int32(g.outChannels), Int32(g.inChannels), transposed ? 1 : 0, u.baseAddress!)
        }
        let workers = Parallel.workers(for: chunks, threads: threads)
        workspace.reserve(workers: workers, slots: [pfs_wino_scratch_floats(Int32(inputs), Int32(outputs), chunk)])
        let code: Int32 = isa == .avx512 ? 2 : 1
        transformed.withUnsafeBufferPointer { u in
            Parallel.forChunks(chunks, threads: workers) { worker, range in
                let scratch = workspace.buffer(worker: worker, slot: 0)
                for k in range {
                    let first = k * chunk, count = min(chunk, tiles - first)
                    let image = first / perImage
                    func call(_ tail: UnsafePointer<pfs_epilogue>?) -> Int32 {
                        pfs_wino_forward(code, source + image * inputs * plane, inputs * plane, Int32(inputs),
                                         Int32(h), Int32(w), u.baseAddress!, Int32(outputs),
                                         destination + image * outputs * plane, outputs * plane,
                                         first - image * perImage, count, scratch, tail)
                    }
                    // The addend is read where this image's outputs are written.
                    let done = epilogue.map { e in
                        withUnsafePointer(to: e.kernelArgument(offset: image * outputs * plane)) { call($0) }
                    } ?? call(nil)
                    precondition(done == 1, "WinogradConvolution: the \(isa) kernel refused to run")
                }
            }
        }
    }
}
