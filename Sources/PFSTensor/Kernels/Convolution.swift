/// Fast 2-D convolution: im2col + SGEMM, parallel over the batch (3×3 pad-1 layers on AVX2/AVX-512
/// and depthwise layers have direct kernels instead, see ``algorithm(for:)``).
///
/// All pointers are NCHW (input, output) and (C_out, C_in/groups, kH, kW) (weight).
/// Images are processed in tiles of T images so that each GEMM is wide enough for the BLAS to
/// run near its peak (late CIFAR stages have only 64 output pixels per image). With K = patchSize,
/// P = outPlane and, per group g, the tile's column matrix col (K × T·P) whose columns for image
/// i start at i·P:
///
///     forward:      Yt (C_out/g × T·P) = W[g] (C_out/g × K) · col;   Yt scattered into Y (NCHW)
///     weight grad:  dW[g] (C_out/g × K) += dYt (C_out/g × T·P) · colᵀ (T·P × K)
///     input grad:   dcol (K × T·P) = W[g]ᵀ (K × C_out/g) · dYt;   dX += col2im(dcol) per image
///
/// With T = 1 the GEMMs read and write the NCHW tensors in place; a 1×1, stride-1, unpadded
/// convolution needs no im2col (the input planes are the column matrix).
public enum Convolution {
    /// The kernel ``forward(_:input:weight:bias:output:workspace:threads:backend:)`` and the input
    /// gradient of ``backward(_:input:weight:gradOutput:gradInput:gradWeight:gradBias:workspace:threads:backend:)``
    /// run for this geometry with `threads` workers (the weight gradient: ``weightGradientAlgorithm(for:)``).
    public static func algorithm(for g: Conv2dGeometry, kernels: KernelSettings = Engine.kernels,
                                 threads: Int = Engine.threads) -> ConvolutionAlgorithm {
        if g.isDepthwise { return .depthwise }
        if WinogradConvolution.applies(to: g, kernels: kernels, threads: threads) { return .winograd }
        if SmallPlaneConvolution.applies(to: g, kernels: kernels, threads: threads) { return .smallPlane }
        if DirectConvolution.applies(to: g, kernels: kernels) { return .direct }
        return g.isPointwise ? .pointwise : .im2col
    }

    /// The kernel the weight gradient runs on: as ``algorithm(for:)``, except that direct layers
    /// with small planes and many channels compute it with im2col + SGEMM.
    public static func weightGradientAlgorithm(for g: Conv2dGeometry, kernels: KernelSettings = Engine.kernels,
                                               threads: Int = Engine.threads) -> ConvolutionAlgorithm {
        weightGradientAlgorithm(for: g, after: algorithm(for: g, kernels: kernels, threads: threads), kernels: kernels,
                                threads: threads)
    }

    /// The weight gradient's kernel given the forward's `algorithm` (``backward`` has chosen it
    /// already). A Winograd layer's weight gradient runs where it would without Winograd.
    private static func weightGradientAlgorithm(for g: Conv2dGeometry, after algorithm: ConvolutionAlgorithm,
                                                kernels: KernelSettings, threads: Int) -> ConvolutionAlgorithm {
        switch algorithm {
        case .winograd:
            var without = kernels
            without.winogradConvolution = false
            return weightGradientAlgorithm(for: g, kernels: without, threads: threads)
        case .direct: return DirectConvolution.prefersGEMMWeightGradient(g, isa: kernels.isa) ? .im2col : .direct
        default: return algorithm
        }
    }

    /// GEMM width (output pixels) a tile of images aims for.
    public static let targetColumns = 1024
    /// Upper bound, in floats, on one tile's column matrix.
    public static let maxColumnFloats = 1 << 21

    /// Images per tile for this geometry.
    static func tileImages(_ g: Conv2dGeometry) -> Int {
        let byWidth = max(1, targetColumns / g.outPlane)
        let byMemory = max(1, maxColumnFloats / max(1, g.patchSize * g.outPlane))
        return max(1, min(byWidth, byMemory, g.batch))
    }

    /// Y = conv(X, W) (+ bias), then the `epilogue` if there is one. `output` is fully overwritten.
    /// Winograd layers apply the epilogue in their output transform; the others in a pass of
    /// their own after the convolution, with the same arithmetic.
    public static func forward(
        _ g: Conv2dGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, epilogue: ConvolutionEpilogue? = nil, output: UnsafeMutablePointer<Float>,
        workspace: Workspace, threads: Int = Engine.threads, backend: GEMMBackend = Engine.gemm,
        kernels: KernelSettings = Engine.kernels
    ) {
        if let epilogue, bias == nil, algorithm(for: g, kernels: kernels, threads: threads) == .winograd {
            WinogradConvolution.forward(g, input: input, weight: weight, epilogue: epilogue, output: output,
                                        workspace: workspace, threads: threads, kernels: kernels)
            return
        }
        forward(g, input: input, weight: weight, bias: bias, output: output, workspace: workspace, threads: threads,
                backend: backend, kernels: kernels)
        if let epilogue { epilogue.apply(g, to: output, threads: threads, isa: kernels.isa) }
    }

    /// Y = conv(X, W) (+ bias), overwritten.
    private static func forward(
        _ g: Conv2dGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
        workspace: Workspace, threads: Int, backend: GEMMBackend, kernels: KernelSettings
    ) {
        if g.isDepthwise {
            DepthwiseConvolution.forward(g, input: input, weight: weight, bias: bias, output: output, threads: threads)
            return
        }
        switch algorithm(for: g, kernels: kernels, threads: threads) {
        case .direct:
            DirectConvolution.forward(g, input: input, weight: weight, output: output, workspace: workspace,
                                      threads: threads, kernels: kernels)
            if let bias { addBias(g, bias, to: output, threads: threads) }
            return
        case .smallPlane:
            SmallPlaneConvolution.forward(g, input: input, weight: weight, output: output, workspace: workspace,
                                          threads: threads, kernels: kernels)
            if let bias { addBias(g, bias, to: output, threads: threads) }
            return
        case .winograd:
            WinogradConvolution.forward(g, input: input, weight: weight, epilogue: nil, output: output,
                                        workspace: workspace, threads: threads, kernels: kernels)
            if let bias { addBias(g, bias, to: output, threads: threads) }
            return
        default:
            break
        }
        let k = g.patchSize, p = g.outPlane, cinG = g.inPerGroup, coutG = g.outPerGroup
        let inImage = g.inChannels * g.inPlane, outImage = g.outChannels * p
        let tile = tileImages(g)
        let direct = tile == 1 && g.isPointwise
        let workers = Parallel.workers(for: g.batch, threads: threads)
        workspace.reserve(workers: workers, slots: [direct ? 0 : k * tile * p, tile > 1 ? coutG * tile * p : 0,
                                                    Im2Col.scratchCount(g, channels: cinG)])
        Parallel.forChunks(g.batch, threads: workers) { worker, images in
            let col = workspace.buffer(worker: worker, slot: 0)
            let yt = workspace.buffer(worker: worker, slot: 1)
            let scratch = workspace.buffer(worker: worker, slot: 2)
            for first in stride(from: images.lowerBound, to: images.upperBound, by: tile) {
                let count = min(tile, images.upperBound - first), width = count * p
                for grp in 0..<g.groups {
                    let x = input + first * inImage + grp * cinG * g.inPlane
                    let y = output + first * outImage + grp * coutG * p
                    let b: UnsafePointer<Float>
                    if direct { b = x } else {
                        for i in 0..<count {
                            gatherColumns(x + i * inImage, cinG, g, into: col + i * p, ld: width, scratch: scratch,
                                          isa: kernels.isa)
                        }
                        b = UnsafePointer(col)
                    }
                    let w = weight + grp * coutG * k
                    if count == 1 {
                        GEMM.sgemm(.none, .none, m: coutG, n: p, k: k, alpha: 1, a: w, lda: k,
                                   b: b, ldb: width, beta: 0, c: y, ldc: p, backend: backend)
                    } else {
                        GEMM.sgemm(.none, .none, m: coutG, n: width, k: k, alpha: 1, a: w, lda: k,
                                   b: b, ldb: width, beta: 0, c: yt, ldc: width, backend: backend)
                        for i in 0..<count {
                            copyRows(coutG, p, from: yt + i * p, ld: width, to: y + i * outImage, ld: p)
                        }
                    }
                }
            }
        }
        if let bias { addBias(g, bias, to: output, threads: threads) }
    }

    /// Y[n, c, :, :] += bias[c].
    static func addBias(_ g: Conv2dGeometry, _ bias: UnsafePointer<Float>, to output: UnsafeMutablePointer<Float>,
                        threads: Int) {
        let p = g.outPlane, outImage = g.outChannels * p
        Parallel.forChunks(g.batch, threads: Parallel.workers(for: g.batch, threads: threads)) { _, images in
            for n in images {
                for c in 0..<g.outChannels {
                    let row = output + n * outImage + c * p
                    VectorKernels.affine(row, into: row, count: p, scale: 1, shift: bias[c])
                }
            }
        }
    }

    /// Gradients of a convolution. Each of `gradInput`, `gradWeight`, `gradBias` is optional and
    /// its work is skipped entirely when `nil` (a frozen weight costs no GEMM, the first layer
    /// computes no input gradient). `gradInput` is overwritten; `gradWeight` and `gradBias` are
    /// accumulated into (`+=`). Returns the multiply-accumulates actually performed for each.
    @discardableResult
    public static func backward(
        _ g: Conv2dGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        gradOutput: UnsafePointer<Float>,
        gradInput: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>?,
        gradBias: UnsafeMutablePointer<Float>?,
        workspace: Workspace, threads: Int = Engine.threads, backend: GEMMBackend = Engine.gemm,
        kernels: KernelSettings = Engine.kernels
    ) -> GradientWork {
        var work = GradientWork()
        switch algorithm(for: g, kernels: kernels, threads: threads) {
        case .depthwise:
            if gradInput != nil || gradWeight != nil {
                work = DepthwiseConvolution.backward(g, input: input, weight: weight, gradOutput: gradOutput,
                                                     gradInput: gradInput, gradWeight: gradWeight,
                                                     workspace: workspace, threads: threads)
            }
        case let algorithm where algorithm == .direct || algorithm == .smallPlane || algorithm == .winograd:
            if let gradWeight {
                switch weightGradientAlgorithm(for: g, after: algorithm, kernels: kernels, threads: threads) {
                case .direct:
                    work.weightGradientMACs = DirectConvolution.weightGradient(g, input: input, gradOutput: gradOutput,
                                                                               gradWeight: gradWeight,
                                                                               workspace: workspace, threads: threads,
                                                                               kernels: kernels)
                case .smallPlane:
                    work.weightGradientMACs = SmallPlaneConvolution.weightGradient(g, input: input, gradOutput: gradOutput,
                                                                                   gradWeight: gradWeight,
                                                                                   workspace: workspace,
                                                                                   threads: threads, kernels: kernels)
                default:
                    work.weightGradientMACs = gemmBackward(g, input: input, weight: weight, gradOutput: gradOutput,
                                                           gradInput: nil, gradWeight: gradWeight, workspace: workspace,
                                                           threads: threads, backend: backend,
                                                           isa: kernels.isa).weightGradientMACs
                }
            }
            if let gradInput {
                switch algorithm {
                case .direct:
                    work.inputGradientMACs = DirectConvolution.inputGradient(g, weight: weight, gradOutput: gradOutput,
                                                                             gradInput: gradInput, workspace: workspace,
                                                                             threads: threads, kernels: kernels)
                case .winograd:
                    work.inputGradientMACs = WinogradConvolution.inputGradient(g, weight: weight, gradOutput: gradOutput,
                                                                               gradInput: gradInput, workspace: workspace,
                                                                               threads: threads, kernels: kernels)
                default:
                    work.inputGradientMACs = SmallPlaneConvolution.inputGradient(g, weight: weight, gradOutput: gradOutput,
                                                                                 gradInput: gradInput,
                                                                                 workspace: workspace, threads: threads,
                                                                                 kernels: kernels)
                }
            }
        default:
            if gradInput != nil || gradWeight != nil {
                work = gemmBackward(g, input: input, weight: weight, gradOutput: gradOutput, gradInput: gradInput,
                                    gradWeight: gradWeight, workspace: workspace, threads: threads, backend: backend,
                                    isa: kernels.isa)
            }
        }
        if let gradBias {
            let p = g.outPlane
            for n in 0..<g.batch {
                for c in 0..<g.outChannels {
                    let row = gradOutput + (n * g.outChannels + c) * p
                    var s: Float = 0
                    for i in 0..<p { s += row[i] }
                    gradBias[c] += s
                }
            }
        }
        return work
    }

    static func gemmBackward(
        _ g: Conv2dGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?,
        gradWeight: UnsafeMutablePointer<Float>?, workspace: Workspace, threads: Int, backend: GEMMBackend,
        isa: InstructionSet
    ) -> GradientWork {
        let k = g.patchSize, p = g.outPlane, cinG = g.inPerGroup, coutG = g.outPerGroup
        let inImage = g.inChannels * g.inPlane, outImage = g.outChannels * p
        let weightCount = g.outChannels * k
        let tile = tileImages(g)
        let workers = Parallel.workers(for: g.batch, threads: threads)
        let colFloats = k * tile * p
        workspace.reserve(workers: workers, slots: [
            gradWeight != nil && !(tile == 1 && g.isPointwise) ? colFloats : 0,   // col
            gradInput != nil && !(tile == 1 && g.isPointwise) ? colFloats : 0,    // dcol
            gradWeight != nil ? weightCount : 0,                                  // dW partial
            tile > 1 ? coutG * tile * p : 0,                                      // dY tile
            Im2Col.scratchCount(g, channels: cinG),                               // padded image
        ])
        let counts = WorkerCounters(workers: workers)
        Parallel.forChunks(g.batch, threads: workers) { worker, images in
            let col = workspace.buffer(worker: worker, slot: 0)
            let dcol = workspace.buffer(worker: worker, slot: 1)
            let dW = workspace.buffer(worker: worker, slot: 2)
            let dyt = workspace.buffer(worker: worker, slot: 3)
            let scratch = workspace.buffer(worker: worker, slot: 4)
            var weightMACs = 0, dataMACs = 0
            defer { counts.store(worker, weightMACs, dataMACs) }
            if gradWeight != nil { dW.update(repeating: 0, count: weightCount) }
            if let gradInput { (gradInput + images.lowerBound * inImage).update(repeating: 0, count: images.count * inImage) }
            for first in stride(from: images.lowerBound, to: images.upperBound, by: tile) {
                let count = min(tile, images.upperBound - first), width = count * p
                let direct = count == 1 && g.isPointwise
                for grp in 0..<g.groups {
                    let x = input + first * inImage + grp * cinG * g.inPlane
                    let w = weight + grp * coutG * k
                    // dY for the tile as a (C_out/g × T·P) matrix.
                    let dy: UnsafePointer<Float>, ldy: Int
                    let dySource = gradOutput + first * outImage + grp * coutG * p
                    if count == 1 { dy = dySource; ldy = p } else {
                        for i in 0..<count { copyRows(coutG, p, from: dySource + i * outImage, ld: p, to: dyt + i * p, ld: width) }
                        dy = UnsafePointer(dyt); ldy = width
                    }
                    if gradWeight != nil {
                        let b: UnsafePointer<Float>
                        if direct { b = x } else {
                            for i in 0..<count {
                                gatherColumns(x + i * inImage, cinG, g, into: col + i * p, ld: width, scratch: scratch,
                                              isa: isa)
                            }
                            b = UnsafePointer(col)
                        }
                        GEMM.sgemm(.none, .transposed, m: coutG, n: k, k: width, alpha: 1, a: dy, lda: ldy,
                                   b: b, ldb: width, beta: 1, c: dW + grp * coutG * k, ldc: k, backend: backend)
                        weightMACs += coutG * k * width
                    }
                    if let gradInput {
                        let dx = gradInput + first * inImage + grp * cinG * g.inPlane
                        if direct {
                            GEMM.sgemm(.transposed, .none, m: k, n: p, k: coutG, alpha: 1, a: w, lda: k,
                                       b: dy, ldb: ldy, beta: 0, c: dx, ldc: p, backend: backend)
                        } else {
                            GEMM.sgemm(.transposed, .none, m: k, n: width, k: coutG, alpha: 1, a: w, lda: k,
                                       b: dy, ldb: ldy, beta: 0, c: dcol, ldc: width, backend: backend)
                            for i in 0..<count {
                                scatterColumns(dcol + i * p, ld: width, cinG, g, into: dx + i * inImage, scratch: scratch,
                                               isa: isa)
                            }
                        }
                        dataMACs += k * width * coutG
                    }
                }
            }
        }
        if let gradWeight { addWorkerPartials(workspace, workers: workers, slot: 2, count: weightCount, into: gradWeight) }
        return counts.total
    }

    /// Writes one image's column block (K × P) at `col` with row stride `ld`.
    @inline(__always)
    static func gatherColumns(_ image: UnsafePointer<Float>, _ channels: Int, _ g: Conv2dGeometry,
                              into col: UnsafeMutablePointer<Float>, ld: Int, scratch: UnsafeMutablePointer<Float>,
                              isa: InstructionSet) {
        if g.isPointwise {
            copyRows(channels, g.outPlane, from: image, ld: g.inPlane, to: col, ld: ld)
        } else {
            Im2Col.im2col(image, channels: channels, g, into: col, ld: ld, scratch: scratch, isa: isa)
        }
    }

    /// Adds one image's column block (K × P, row stride `ld`) back into the image.
    @inline(__always)
    static func scatterColumns(_ col: UnsafePointer<Float>, ld: Int, _ channels: Int, _ g: Conv2dGeometry,
                               into image: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                               isa: InstructionSet) {
        if g.isPointwise {
            for r in 0..<channels {
                let src = col + r * ld, dst = image + r * g.inPlane
                VectorKernels.add(dst, src, into: dst, count: g.outPlane)
            }
        } else {
            Im2Col.col2im(col, ld: ld, channels: channels, g, into: image, scratch: scratch, isa: isa)
        }
    }

    /// Copies a rows × cols block between row-major matrices with the given row strides.
    @inline(__always)
    static func copyRows(_ rows: Int, _ cols: Int, from src: UnsafePointer<Float>, ld lds: Int,
                         to dst: UnsafeMutablePointer<Float>, ld ldd: Int) {
        for r in 0..<rows { (dst + r * ldd).update(from: src + r * lds, count: cols) }
    }

    /// `into += Σ_worker buffer(worker, slot)`, summed in worker order (deterministic); the
    /// elements are split over the threads (VGG's weight gradients are millions of floats).
    static func addWorkerPartials(_ workspace: Workspace, workers: Int, slot: Int, count: Int,
                                  into destination: UnsafeMutablePointer<Float>) {
        Parallel.forBlocks(count) { range in
            for worker in 0..<workers {
                let partial = workspace.buffer(worker: worker, slot: slot) + range.lowerBound
                let target = destination + range.lowerBound
                VectorKernels.add(target, partial, into: target, count: range.count)
            }
        }
    }
}

/// Multiply-accumulates a backward pass actually performed, per gradient, as counted where the
/// kernels run their products (used to show that frozen parameters cost nothing).
public struct GradientWork: Equatable, Sendable {
    /// Spent on the weight gradient (0 when it was not requested, e.g. frozen weights).
    public var weightGradientMACs = 0
    /// Spent on the input gradient (0 when it was not requested, e.g. the first layer).
    public var inputGradientMACs = 0
    public init() {}
}

/// Per-worker work counters filled inside a parallel region: each worker writes only its own
/// slots of one raw buffer (no Swift array, whose copy-on-write is not safe across threads).
final class WorkerCounters {
    private let workers: Int
    private let slots: UnsafeMutablePointer<Int>   // [weight MACs × workers, input MACs × workers]

    init(workers: Int) {
        self.workers = workers
        slots = .allocate(capacity: 2 * workers)
        slots.initialize(repeating: 0, count: 2 * workers)
    }

    deinit { slots.deallocate() }

    func store(_ worker: Int, _ weightMACs: Int, _ inputMACs: Int) {
        slots[worker] = weightMACs
        slots[workers + worker] = inputMACs
    }

    var total: GradientWork {
        var w = GradientWork()
        for i in 0..<workers {
            w.weightGradientMACs += slots[i]
            w.inputGradientMACs += slots[workers + i]
        }
        return w
    }
}

/// The kernel a convolution runs on, chosen from its geometry (and the CPU).
public enum ConvolutionAlgorithm: String, Sendable {
    /// 3×3, padding 1, stride 1 or 2, on AVX2 or AVX-512: the direct kernels of `PFSKernelsC`, all three passes.
    case direct
    /// 3×3, padding 1, stride 1, planes under 64 pixels (on AVX2 also 8×8 with ≥ 128 channels in
    /// and out), on AVX2 or AVX-512, with images enough per worker: the implicit GEMM that skips
    /// the taps reading padding, all three passes.
    case smallPlane
    /// 3×3, padding 1, stride 1, sides multiples of 4 (planes from 8×8), ≥ 8 channels in and out, 64
    /// tiles per worker, on AVX2 or AVX-512: Winograd F(4×4, 3×3) forward and input gradient; the
    /// weight gradient where it would run without Winograd.
    case winograd
    /// One filter per channel: the direct depthwise loops.
    case depthwise
    /// 1×1, stride 1, unpadded: the input planes are already the GEMM operand.
    case pointwise
    /// Everything else: im2col + SGEMM.
    case im2col
}
