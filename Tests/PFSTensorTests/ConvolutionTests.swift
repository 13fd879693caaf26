import PFSTestSupport
import Testing
@testable import PFSTensor

@Suite struct ConvolutionTests {
    struct Case: CustomStringConvertible {
        var g: Conv2dGeometry
        var bias: Bool
        var description: String {
            "N\(g.batch) \(g.inChannels)→\(g.outChannels) \(g.height)×\(g.width) k\(g.kernelH)×\(g.kernelW) " +
                "s\(g.strideH) p\(g.padH) g\(g.groups)\(bias ? " bias" : "")"
        }
    }

    static func geometry(_ n: Int, _ cin: Int, _ h: Int, _ w: Int, _ cout: Int, k: (Int, Int), s: Int, p: Int,
                         groups: Int = 1) -> Conv2dGeometry {
        Conv2dGeometry(batch: n, inChannels: cin, height: h, width: w, outChannels: cout, kernel: k,
                       stride: (s, s), padding: (p, p), groups: groups)
    }

    static let cases: [Case] = [
        Case(g: geometry(2, 3, 7, 5, 4, k: (3, 3), s: 1, p: 1), bias: false),
        Case(g: geometry(3, 4, 9, 9, 6, k: (3, 3), s: 2, p: 1, groups: 2), bias: true),
        Case(g: geometry(2, 5, 7, 7, 5, k: (3, 3), s: 2, p: 1, groups: 5), bias: false),   // depthwise
        Case(g: geometry(2, 3, 6, 5, 6, k: (3, 3), s: 1, p: 1, groups: 3), bias: false),   // depth multiplier 2
        Case(g: geometry(2, 6, 5, 3, 7, k: (1, 1), s: 1, p: 0), bias: true),               // pointwise
        Case(g: geometry(2, 3, 7, 7, 5, k: (1, 1), s: 2, p: 0), bias: false),              // projection shortcut
        Case(g: geometry(2, 2, 11, 8, 3, k: (5, 5), s: 3, p: 2), bias: true),
        Case(g: geometry(3, 2, 2, 2, 3, k: (3, 3), s: 1, p: 1), bias: false),              // kernel ≥ input
        Case(g: geometry(2, 3, 7, 9, 2, k: (3, 1), s: 1, p: 0), bias: false),              // non-square kernel
        // Stride 1 (padded-row path): grouped, one image per tile over several workers, 5×5 pad 2.
        Case(g: geometry(3, 4, 33, 33, 6, k: (3, 3), s: 1, p: 1, groups: 2), bias: true),
        Case(g: geometry(5, 3, 6, 7, 4, k: (5, 5), s: 1, p: 2), bias: false),
        // 3×3 stride 1 pad 1 on planes of 64 pixels or more (the AVX-512 direct kernels where the
        // CPU has them): partial 16- and 32-pixel chunks, an odd row count, output channels not a
        // multiple of 8.
        Case(g: geometry(2, 3, 5, 17, 10, k: (3, 3), s: 1, p: 1), bias: true),
        Case(g: geometry(3, 16, 16, 16, 16, k: (3, 3), s: 1, p: 1), bias: false),
        Case(g: geometry(2, 9, 4, 32, 3, k: (3, 3), s: 1, p: 1), bias: false),
        Case(g: geometry(5, 6, 9, 11, 7, k: (3, 3), s: 1, p: 1), bias: true),              // multi-image tiles
        Case(g: geometry(2, 4, 1, 3, 5, k: (3, 3), s: 1, p: 1), bias: false),              // one row (im2col)
        Case(g: geometry(2, 3, 70, 1, 5, k: (3, 3), s: 1, p: 1), bias: false),             // one-pixel rows
        // 8×8 planes as whole 16-lane vectors; 9 output channels leave one in the last block of 8;
        // 7 images of 64 pixels form one weight-gradient tile split over two workers.
        Case(g: geometry(7, 17, 8, 8, 9, k: (3, 3), s: 1, p: 1), bias: false),
        // The exact tails of the pixel-vector kernel (the last cout mod 8 channels, as pruned widths
        // leave them): 4 channels in blocks of 64 pixels with 36 left (one whole and one partial
        // block of 32), 6 channels in blocks of 32 with 12 left; their input gradients end in 5 and 4.
        Case(g: geometry(2, 5, 10, 10, 12, k: (3, 3), s: 1, p: 1), bias: false),
        Case(g: geometry(2, 4, 9, 12, 14, k: (3, 3), s: 1, p: 1), bias: true),
        // Stride 1 on planes under 64 pixels (VGG's 2×2 and 4×4 stages: the small-plane kernel on
        // AVX2/AVX-512 where a worker has images enough to fill its column panels, else im2col +
        // SGEMM; `smallPlaneKernelMatchesReference` runs the kernel on all of these): output rows in partial panels of 12 (AVX-512) and 6
        // (AVX2), classes with more columns than one panel of 32/16 and a partial last one, a 1×1
        // plane and one-row planes (a single kernel row valid), batch 1 (panels split over the
        // workers instead of images).
        Case(g: geometry(20, 6, 2, 2, 9, k: (3, 3), s: 1, p: 1), bias: false),
        Case(g: geometry(9, 5, 4, 4, 7, k: (3, 3), s: 1, p: 1), bias: true),
        Case(g: geometry(40, 3, 3, 3, 4, k: (3, 3), s: 1, p: 1), bias: false),
        Case(g: geometry(11, 19, 4, 4, 13, k: (3, 3), s: 1, p: 1), bias: true),
        Case(g: geometry(1, 7, 4, 4, 25, k: (3, 3), s: 1, p: 1), bias: false),
        Case(g: geometry(3, 5, 1, 1, 6, k: (3, 3), s: 1, p: 1), bias: false),
        Case(g: geometry(4, 6, 5, 3, 14, k: (3, 3), s: 1, p: 1), bias: true),
        Case(g: geometry(2, 40, 2, 7, 3, k: (3, 3), s: 1, p: 1), bias: false),
        Case(g: geometry(70, 3, 4, 4, 5, k: (3, 3), s: 1, p: 1), bias: false),   // 280 interior columns: dW in chunks of 256
        // Direct forward and input gradient, weight gradient on im2col + SGEMM (8×8, 128 × 128 channels).
        Case(g: geometry(2, 128, 8, 8, 128, k: (3, 3), s: 1, p: 1), bias: false),
        // The channel-vector kernel (≥ 32 channels in, rows of 8 or 16k pixels) for whole blocks of
        // 16 output channels, the pixel-vector kernel for the rest (5 of 37 out, 3 of 35 in), several
        // images per call; two 16-pixel blocks per row and an odd row count, one channel left over
        // (its input gradient, 17 channels in, stays on the pixel-vector kernel; its weight gradient,
        // like 9 → 3's and 16 → 27's, has the input channels in the lanes).
        Case(g: geometry(3, 35, 8, 8, 37, k: (3, 3), s: 1, p: 1), bias: true),
        Case(g: geometry(2, 32, 3, 32, 17, k: (3, 3), s: 1, p: 1), bias: false),
        // Fewer than 16 outputs with ≥ 32 inputs: no whole block, all on the pixel-vector kernel.
        Case(g: geometry(3, 33, 4, 16, 13, k: (3, 3), s: 1, p: 1), bias: false),
        // Winograd F(4×4, 3×3) (sides multiples of 4 from 8, ≥ 8 channels each way; also the
        // 17 → 9 8×8, 16×16, 128 × 128 and 35 → 37 cases above, whose 8×8 planes put two tile rows,
        // and two images, in one group of loads): 6 tiles per image, 18 in all (a partial vector,
        // runs of 3 tiles split across groups), 19 outputs and 17 inputs (partial register blocks
        // both ways); 15 tiles per image, 75 in two chunks, the second starting inside an image.
        Case(g: geometry(3, 17, 8, 12, 19, k: (3, 3), s: 1, p: 1), bias: true),
        Case(g: geometry(5, 16, 12, 20, 27, k: (3, 3), s: 1, p: 1), bias: false),
        // 3×3 stride 2 pad 1 on even planes with 64+ output pixels (direct, through phase planes):
        // 16×16 → 8×8; 20×18 → 10×9 (odd output rows, a partial vector); 9 outputs.
        Case(g: geometry(3, 5, 16, 16, 9, k: (3, 3), s: 2, p: 1), bias: true),
        Case(g: geometry(2, 3, 20, 18, 12, k: (3, 3), s: 2, p: 1), bias: false),
        Case(g: Conv2dGeometry(batch: 3, inChannels: 2, height: 7, width: 6, outChannels: 4, kernel: (3, 2),
                               stride: (2, 1), padding: (1, 0)), bias: true),                  // per-axis stride/padding
    ]

    struct Data {
        var x, w, b, dy: [Float]
    }

    static func data(_ c: Case, seed: UInt64 = 11) -> Data {
        var rng = RandomGenerator(seed: seed)
        let g = c.g
        func r(_ n: Int) -> [Float] { (0..<n).map { _ in rng.normal() } }
        return Data(x: r(g.batch * g.inChannels * g.inPlane), w: r(g.outChannels * g.patchSize),
                    b: r(g.outChannels), dy: r(g.batch * g.outChannels * g.outPlane))
    }

    static func fastForward(_ c: Case, _ d: Data, backend: GEMMBackend, threads: Int,
                            kernels: KernelSettings = Engine.kernels) -> [Float] {
        var y = [Float](repeating: .nan, count: c.g.batch * c.g.outChannels * c.g.outPlane)
        let ws = Workspace()
        Convolution.forward(c.g, input: d.x, weight: d.w, bias: c.bias ? d.b : nil, output: &y,
                            workspace: ws, threads: threads, backend: backend, kernels: kernels)
        return y
    }

    static func referenceForward(_ c: Case, _ d: Data) -> [Float] {
        var y = [Float](repeating: .nan, count: c.g.batch * c.g.outChannels * c.g.outPlane)
        ReferenceConvolution.forward(c.g, input: d.x, weight: d.w, bias: c.bias ? d.b : nil, output: &y)
        return y
    }

    @Test(arguments: cases)
    func fastForwardMatchesDirectConvolution(_ c: Case) throws {
        try c.g.validate(layer: "test")
        let d = Self.data(c)
        let want = Self.referenceForward(c, d)
        for backend in backendsUnderTest() {
            for threads in [1, 2] {
                for kernels in Self.kernelVariants {
                    let got = Self.fastForward(c, d, backend: backend, threads: threads, kernels: kernels)
                    #expect(Compare.relativeError(got, want) < Self.tolerance(c.g, kernels, threads: threads),
                            "\(c) \(backend) threads \(threads) \(kernels)")
                }
            }
        }
    }

    /// Every kernel family this CPU can run: each instruction set it supports (portable: im2col +
    /// SGEMM everywhere; AVX2: the 8-lane pixel-vector kernels), with Winograd on and off (so the
    /// direct kernels still see the Winograd cases), and on AVX-512 with the channel-vector kernels
    /// on and off.
    static let kernelVariants: [KernelSettings] = InstructionSet.supported.flatMap { isa -> [KernelSettings] in
        switch isa {
        case .portable: [KernelSettings(isa: isa)]
        case .avx2: [KernelSettings(isa: isa), KernelSettings(isa: isa, winogradConvolution: false)]
        case .avx512: [KernelSettings(isa: isa), KernelSettings(isa: isa, channelConvolution: false, winogradConvolution: false)]
        }
    }

    /// Largest relative error allowed against the reference: Winograd's transforms scale values by
    /// up to 8 and 1/24 before the sums, so its rounding is a few times coarser than direct
    /// summation's (up to 8.7e-6 measured, for 128 channels, where the direct kernels stay near 1e-6).
    static func tolerance(_ g: Conv2dGeometry, _ kernels: KernelSettings, threads: Int) -> Double {
        Convolution.algorithm(for: g, kernels: kernels, threads: threads) == .winograd ? winogradTolerance : 1e-5
    }

    static let winogradTolerance = 3e-5

    /// The reference Y (no bias), dX and dW of a case, for the tests of one kernel family.
    static func references(_ c: Case, _ d: Data) -> (y: [Float], dx: [Float], dw: [Float]) {
        let g = c.g
        var y = [Float](repeating: 0, count: g.batch * g.outChannels * g.outPlane)
        ReferenceConvolution.forward(g, input: d.x, weight: d.w, bias: nil, output: &y)
        var dx = [Float](repeating: 0, count: d.x.count), dw = [Float](repeating: 0, count: d.w.count)
        var db = [Float](repeating: 0, count: g.outChannels)
        ReferenceConvolution.backward(g, input: d.x, weight: d.w, gradOutput: d.dy, gradInput: &dx, gradWeight: &dw,
                                      gradBias: &db)
        return (y, dx, dw)
    }

    /// The Winograd kernels themselves (forward and input gradient, every instruction set they
    /// have, 1 and 2 threads) on every case of `cases` with their shape, whether or not the
    /// dispatch would choose them for so few tiles.
    @Test func winogradKernelMatchesReference() {
        let shaped = Self.cases.filter {
            let g = $0.g
            return Self.isSame3x3(g) && g.height % 4 == 0 && g.width % 4 == 0 && g.height >= 8 && g.width >= 8
        }
        #expect(shaped.count >= 6)
        Self.forEachKernelRun(shaped) { c, d, yRef, dxRef, _, kernels, threads, tag in
            let g = c.g
            var y = [Float](repeating: .nan, count: yRef.count), dx = [Float](repeating: .nan, count: d.x.count)
            WinogradConvolution.forward(g, input: d.x, weight: d.w, output: &y, workspace: Workspace(),
                                        threads: threads, kernels: kernels)
            _ = WinogradConvolution.inputGradient(g, weight: d.w, gradOutput: d.dy, gradInput: &dx,
                                                  workspace: Workspace(), threads: threads, kernels: kernels)
            #expect(Compare.relativeError(y, yRef) < Self.winogradTolerance, "Y \(tag)")
            #expect(Compare.relativeError(dx, dxRef) < Self.winogradTolerance, "dX \(tag)")
            // The epilogue in the output transform: bit for bit the separate pass over Y.
            for (addend, ceiling) in [(false, Float?.none), (false, Float.infinity), (true, 2)] {
                let e = Self.epilogueData(g, addend: addend)
                var fused = [Float](repeating: .nan, count: yRef.count)
                e.scale.withUnsafeBufferPointer { scale in
                    e.shift.withUnsafeBufferPointer { shift in
                        e.addend.withUnsafeBufferPointer { a in
                            let epilogue = ConvolutionEpilogue(scale: scale.baseAddress!, shift: shift.baseAddress!,
                                                               addend: addend ? a.baseAddress! : nil, ceiling: ceiling)
                            WinogradConvolution.forward(g, input: d.x, weight: d.w, epilogue: epilogue, output: &fused,
                                                        workspace: Workspace(), threads: threads, kernels: kernels)
                        }
                    }
                }
                let expected = Self.applyEpilogue(y, g, e, addend: addend, ceiling: ceiling)
                #expect(fused == expected, "epilogue addend \(addend) ceiling \(String(describing: ceiling)) \(tag)")
                #expect(expected.contains { $0 == 0 } == (ceiling != nil))   // the clamp was exercised
            }
        }
    }

    /// Chunks follow the L2 size (`PFS_L2_KB`, else detected): half of it for V and M. A tile's result
    /// depends only on its own patch, so chunks of 32 tiles whose edges fall inside images give the
    /// same bits as one chunk per worker.
    @Test func winogradChunksFollowTheL2Size() {
        let cifar = Self.geometry(128, 16, 32, 32, 16, k: (3, 3), s: 1, p: 1)
        // 36 · (16 + 16) floats per tile: 113 tiles fit in 2¹⁷ floats (half of 1 MiB), 56 in half of 512 KiB.
        #expect(WinogradConvolution.chunkTiles(cifar, inputs: 16, outputs: 16, workers: 2, l2Bytes: 1 << 20) == 96)
        #expect(WinogradConvolution.chunkTiles(cifar, inputs: 16, outputs: 16, workers: 2, l2Bytes: 512 << 10) == 32)
        #expect(WinogradConvolution.chunkTiles(cifar, inputs: 16, outputs: 16, workers: 2, l2Bytes: 8 << 20) == 896)
        #expect(WinogradConvolution.chunkTiles(cifar, inputs: 64, outputs: 64, workers: 2, l2Bytes: 1 << 20) == 32)
        let few = Self.geometry(1, 16, 16, 16, 16, k: (3, 3), s: 1, p: 1)   // 16 tiles: one chunk of 32
        #expect(WinogradConvolution.chunkTiles(few, inputs: 16, outputs: 16, workers: 1, l2Bytes: 64 << 20) == 32)

        let g = Self.geometry(3, 12, 24, 24, 12, k: (3, 3), s: 1, p: 1)   // 36 tiles per image, 108 in all
        let d = Self.data(Case(g: g, bias: false)), (yRef, _, _) = Self.references(Case(g: g, bias: false), d)
        for isa in InstructionSet.supported where isa >= .avx2 {
            for threads in [1, 2] {
                var tiny = KernelSettings(isa: isa)
                tiny.l2CacheBytes = 16 << 10
                #expect(WinogradConvolution.chunkTiles(g, inputs: 12, outputs: 12, workers: threads, l2Bytes: tiny.l2CacheBytes) == 32)
                func run(_ kernels: KernelSettings) -> (y: [Float], dx: [Float]) {
                    var y = [Float](repeating: .nan, count: yRef.count), dx = [Float](repeating: .nan, count: d.x.count)
                    WinogradConvolution.forward(g, input: d.x, weight: d.w, output: &y, workspace: Workspace(),
                                                threads: threads, kernels: kernels)
                    _ = WinogradConvolution.inputGradient(g, weight: d.w, gradOutput: d.dy, gradInput: &dx,
                                                          workspace: Workspace(), threads: threads, kernels: kernels)
                    return (y, dx)
                }
                let (y, dx) = run(KernelSettings(isa: isa)), (ySmall, dxSmall) = run(tiny)
                #expect(Compare.relativeError(y, yRef) < Self.winogradTolerance, "\(isa) threads \(threads)")
                #expect(ySmall == y && dxSmall == dx, "chunks of 32 tiles: \(isa) threads \(threads)")
            }
        }
    }

    /// 3×3, stride 1, padding 1, no groups: the layers the kernel families take.
    static func isSame3x3(_ g: Conv2dGeometry) -> Bool {
        g.kernelH == 3 && g.kernelW == 3 && g.strideH == 1 && g.strideW == 1 && g.padH == 1 && g.padW == 1 && g.groups == 1
    }

    /// Runs `body` for each case with its data and reference Y, dX and dW, on every instruction set
    /// with kernels (AVX2 and up) and with 1 and 2 threads, with a tag naming the run.
    static func forEachKernelRun(_ cases: [Case], _ body: (_ c: Case, _ d: Data, _ yRef: [Float], _ dxRef: [Float],
                                                           _ dwRef: [Float], _ kernels: KernelSettings, _ threads: Int,
                                                           _ tag: String) -> Void) {
        for c in cases {
            let d = data(c), (yRef, dxRef, dwRef) = references(c, d)
            for isa in InstructionSet.supported where isa >= .avx2 {
                for threads in [1, 2] {
                    body(c, d, yRef, dxRef, dwRef, KernelSettings(isa: isa), threads, "\(c) \(isa) threads \(threads)")
                }
            }
        }
    }

    /// Per-channel scale and shift, and an addend of the output's shape, for epilogue checks.
    static func epilogueData(_ g: Conv2dGeometry, addend: Bool) -> (scale: [Float], shift: [Float], addend: [Float]) {
        var rng = RandomGenerator(seed: 31)
        return ((0..<g.outChannels).map { _ in rng.normal() }, (0..<g.outChannels).map { _ in rng.normal() },
                (0..<g.batch * g.outChannels * g.outPlane).map { _ in addend ? rng.normal() : 0 })
    }

    /// clamp(scale[o]·y + shift[o] (+ addend)) element by element: the separate pass's arithmetic.
    static func applyEpilogue(_ y: [Float], _ g: Conv2dGeometry, _ e: (scale: [Float], shift: [Float], addend: [Float]),
                              addend: Bool, ceiling: Float?) -> [Float] {
        y.indices.map { i in
            let o = i / g.outPlane % g.outChannels
            var v = e.scale[o] * y[i] + e.shift[o]
            if addend { v += e.addend[i] }
            if let ceiling { v = min(max(v, 0), ceiling) }
            return v
        }
    }

    @Test(arguments: cases)
    func fastBackwardMatchesDirectConvolution(_ c: Case) {
        let g = c.g, d = Self.data(c)
        var dxRef = [Float](repeating: 0, count: d.x.count), dwRef = [Float](repeating: 0, count: d.w.count)
        var dbRef = [Float](repeating: 0, count: g.outChannels)
        ReferenceConvolution.backward(g, input: d.x, weight: d.w, gradOutput: d.dy, gradInput: &dxRef,
                                      gradWeight: &dwRef, gradBias: &dbRef)
        for backend in backendsUnderTest() {
            for threads in [1, 2] {
                for kernels in Self.kernelVariants {
                    var dx = [Float](repeating: .nan, count: d.x.count)
                    var dw = [Float](repeating: 0.5, count: d.w.count)   // accumulated into
                    var db = [Float](repeating: 0.25, count: g.outChannels)
                    Convolution.backward(g, input: d.x, weight: d.w, gradOutput: d.dy, gradInput: &dx, gradWeight: &dw,
                                         gradBias: &db, workspace: Workspace(), threads: threads, backend: backend,
                                         kernels: kernels)
                    let tag = "\(c) \(backend) threads \(threads) \(kernels)"
                    #expect(Compare.relativeError(dx, dxRef) < Self.tolerance(g, kernels, threads: threads), "dX \(tag)")
                    #expect(Compare.relativeError(dw.map { $0 - 0.5 }, dwRef) < 1e-5, "dW \(tag)")
                    #expect(Compare.relativeError(db.map { $0 - 0.25 }, dbRef) < 1e-5, "db \(tag)")
                }
            }
        }
    }

    /// Skipped gradients cost nothing: the kernels report the products they actually ran.
    @Test(arguments: [11, 1, 2, 5])   // direct 3×3 (with AVX-512), grouped GEMM, depthwise, im2col + GEMM
    func backwardDoesOnlyRequestedWork(caseIndex: Int) {
        let c = Self.cases[caseIndex], g = c.g, d = Self.data(c)
        var dx = [Float](repeating: 0, count: d.x.count), dw = [Float](repeating: 0, count: d.w.count)
        let both = Convolution.backward(g, input: d.x, weight: d.w, gradOutput: d.dy, gradInput: &dx, gradWeight: &dw,
                                        gradBias: nil, workspace: Workspace())
        let dataOnly = Convolution.backward(g, input: d.x, weight: d.w, gradOutput: d.dy, gradInput: &dx,
                                            gradWeight: nil, gradBias: nil, workspace: Workspace())
        let weightOnly = Convolution.backward(g, input: d.x, weight: d.w, gradOutput: d.dy, gradInput: nil,
                                              gradWeight: &dw, gradBias: nil, workspace: Workspace())
        #expect(both.weightGradientMACs > 0 && both.inputGradientMACs > 0, "\(c)")
        #expect(dataOnly.weightGradientMACs == 0 && dataOnly.inputGradientMACs == both.inputGradientMACs, "\(c)")
        #expect(weightOnly.inputGradientMACs == 0 && weightOnly.weightGradientMACs == both.weightGradientMACs, "\(c)")
        if !g.isDepthwise { #expect(both.weightGradientMACs == g.macs, "\(c)") }
    }

    @Test func oneThreadIsBitReproducible() {
        let c = Self.cases[1], d = Self.data(c)
        for backend in backendsUnderTest() {
            let a = Self.fastForward(c, d, backend: backend, threads: 1)
            let b = Self.fastForward(c, d, backend: backend, threads: 1)
            #expect(Compare.bitIdentical(a, b))
        }
    }

    @Test func invalidGeometriesAreRejectedWithTheirValues() {
        let bad: [(Conv2dGeometry, String)] = [
            (Self.geometry(1, 3, 8, 8, 4, k: (3, 3), s: 1, p: 1, groups: 2), "input channels"),
            (Self.geometry(1, 4, 8, 8, 6, k: (3, 3), s: 1, p: 1, groups: 4), "output channels"),
            (Self.geometry(1, 4, 8, 8, 4, k: (3, 3), s: 0, p: 1), "stride"),
            (Self.geometry(1, 4, 2, 2, 4, k: (5, 5), s: 1, p: 0), "at least the kernel"),
            (Self.geometry(0, 4, 8, 8, 4, k: (3, 3), s: 1, p: 1), "(0, 4, 8, 8)"),
        ]
        for (g, fragment) in bad {
            do {
                try g.validate(layer: "conv7")
                Issue.record("\(g) accepted")
            } catch {
                #expect(error.description.contains("conv7"))
                #expect(error.description.contains(fragment), "\(error.description)")
            }
        }
    }

    @Test func macsFollowTheSpecFormula() {
        // k_h·k_w·(C_in/groups)·C_out·H_out·W_out per image.
        let g = Self.geometry(1, 16, 32, 32, 16, k: (3, 3), s: 1, p: 1)
        #expect(g.macs == 3 * 3 * 16 * 16 * 32 * 32)
        let dw = Self.geometry(2, 32, 16, 16, 32, k: (3, 3), s: 2, p: 1, groups: 32)
        #expect(dw.macs == 2 * 9 * 1 * 32 * 8 * 8)
    }

    /// The small-plane kernel itself (all three passes, every instruction set it has, 1 and 2
    /// threads) on the small-plane cases of `cases`, whether or not the dispatch would choose it
    /// for their batch sizes.
    @Test func smallPlaneKernelMatchesReference() {
        let small = Self.cases.filter {
            Self.isSame3x3($0.g) && $0.g.outPlane < DirectConvolution.minimumPlane
        } + [Case(g: Self.geometry(3, 130, 8, 8, 129, k: (3, 3), s: 1, p: 1), bias: false)]   // AVX2's wide 8×8 layers
        #expect(small.count >= 11)
        Self.forEachKernelRun(small) { c, d, yRef, dxRef, dwRef, kernels, threads, tag in
            let g = c.g
            var y = [Float](repeating: .nan, count: yRef.count), dx = [Float](repeating: .nan, count: d.x.count)
            var dw = [Float](repeating: 0.5, count: d.w.count)   // accumulated into
            SmallPlaneConvolution.forward(g, input: d.x, weight: d.w, output: &y, workspace: Workspace(),
                                          threads: threads, kernels: kernels)
            _ = SmallPlaneConvolution.inputGradient(g, weight: d.w, gradOutput: d.dy, gradInput: &dx,
                                                    workspace: Workspace(), threads: threads, kernels: kernels)
            _ = SmallPlaneConvolution.weightGradient(g, input: d.x, gradOutput: d.dy, gradWeight: &dw,
                                                     workspace: Workspace(), threads: threads, kernels: kernels)
            #expect(Compare.relativeError(y, yRef) < 1e-5, "Y \(tag)")
            #expect(Compare.relativeError(dx, dxRef) < 1e-5, "dX \(tag)")
            #expect(Compare.relativeError(dw.map { $0 - 0.5 }, dwRef) < 1e-5, "dW \(tag)")
        }
    }

    /// With AVX2 or AVX-512, the 3×3 pad-1 cases above run on the direct kernels (all three
    /// passes), so the reference comparisons check them; with `.portable`, im2col.
    @Test(arguments: InstructionSet.supported)
    func directKernelIsChosenWhereItApplies(isa: InstructionSet) {
        let kernels = KernelSettings(isa: isa), direct = isa >= .avx2
        for g in [Self.geometry(2, 3, 5, 17, 10, k: (3, 3), s: 1, p: 1), Self.geometry(2, 3, 8, 8, 4, k: (3, 3), s: 1, p: 1)] {
            #expect(DirectConvolution.applies(to: g, kernels: kernels) == direct, "\(g)")
            #expect(Convolution.algorithm(for: g, kernels: kernels) == (direct ? .direct : .im2col), "\(g)")
            #expect(!DirectConvolution.applies(to: g, kernels: KernelSettings(isa: isa, directConvolution: false)))
        }
        #expect(!DirectConvolution.applies(to: Self.geometry(2, 3, 4, 4, 4, k: (3, 3), s: 1, p: 1), kernels: kernels))  // 16-pixel planes
        // Planes under 64 pixels with enough images per worker: the small-plane kernel (all three
        // passes), unless switched off; at batch 1 its padded columns cost more than the border it
        // skips, so im2col.
        for threads in [1, 2] {
            for g in [Self.geometry(64, 3, 4, 4, 4, k: (3, 3), s: 1, p: 1), Self.geometry(64, 3, 7, 9, 4, k: (3, 3), s: 1, p: 1),
                      Self.geometry(64, 5, 2, 2, 6, k: (3, 3), s: 1, p: 1), Self.geometry(96, 5, 1, 1, 6, k: (3, 3), s: 1, p: 1)] {
                #expect(Convolution.algorithm(for: g, kernels: kernels, threads: threads) == (direct ? .smallPlane : .im2col), "\(g)")
                #expect(Convolution.weightGradientAlgorithm(for: g, kernels: kernels, threads: threads)
                        == (direct ? .smallPlane : .im2col), "\(g)")
                #expect(Convolution.algorithm(for: g, kernels: KernelSettings(isa: isa, smallPlaneConvolution: false),
                                              threads: threads) == .im2col)
            }
            for g in [Self.geometry(1, 3, 4, 4, 4, k: (3, 3), s: 1, p: 1), Self.geometry(16, 512, 7, 7, 512, k: (3, 3), s: 1, p: 1)] {
                #expect(Convolution.algorithm(for: g, kernels: kernels, threads: 2) == .im2col, "\(g)")
            }
        }
        let work = SmallPlaneConvolution.paddedWork(Self.geometry(1, 3, 4, 4, 4, k: (3, 3), s: 1, p: 1), isa: .avx512, threads: 2)
        #expect(work.kernel == 4 * 32 * 4 + 4 * 32 * 6 + 32 * 9 && work.im2col == 16 * 9)   // corners, edges, interior
        for g in [Self.geometry(2, 3, 6, 6, 4, k: (3, 3), s: 2, p: 1), Self.geometry(2, 4, 4, 4, 4, k: (3, 3), s: 1, p: 1, groups: 2),
                  Self.geometry(2, 3, 4, 4, 4, k: (3, 3), s: 1, p: 0)] {
            #expect(Convolution.algorithm(for: g, kernels: kernels) == .im2col, "\(g)")   // stride 2, groups, no padding
        }
        let wide = Self.geometry(2, 128, 8, 8, 128, k: (3, 3), s: 1, p: 1)
        #expect(DirectConvolution.prefersGEMMWeightGradient(wide))
        #expect(Convolution.weightGradientAlgorithm(for: wide, kernels: kernels) == .im2col)   // on SGEMM with any ISA
        #expect(Convolution.algorithm(for: wide, kernels: kernels) == (direct ? .direct : .im2col))   // 8 tiles: no Winograd
        #expect(!DirectConvolution.prefersGEMMWeightGradient(Self.geometry(2, 64, 8, 8, 64, k: (3, 3), s: 1, p: 1)))
        let winograd64 = Self.geometry(64, 64, 8, 8, 64, k: (3, 3), s: 1, p: 1)
        #expect(Convolution.algorithm(for: winograd64, kernels: kernels, threads: 2) == (direct ? .winograd : .im2col))
        #expect(Convolution.weightGradientAlgorithm(for: winograd64, kernels: kernels, threads: 2)
                == (direct ? .direct : .im2col))   // a Winograd layer's dW on the direct kernels
        // 8×8 planes with ≥ 128 channels in and out run forward and input gradient on Winograd; the
        // weight gradient where it would without: on AVX2 the small-plane kernel (which takes all
        // three passes with Winograd off) where a worker has images enough, on AVX-512 SGEMM.
        for threads in [1, 2] {
            let vgg8x8 = Self.geometry(64, 128, 8, 8, 256, k: (3, 3), s: 1, p: 1)
            #expect(Convolution.algorithm(for: vgg8x8, kernels: kernels, threads: threads) == (direct ? .winograd : .im2col))
            #expect(Convolution.algorithm(for: vgg8x8, kernels: KernelSettings(isa: isa, winogradConvolution: false),
                                          threads: threads) == (isa == .avx2 ? .smallPlane : direct ? .direct : .im2col))
            #expect(Convolution.weightGradientAlgorithm(for: vgg8x8, kernels: kernels, threads: threads)
                    == (isa == .avx2 ? .smallPlane : .im2col))
            let narrow = Self.geometry(64, 64, 8, 8, 256, k: (3, 3), s: 1, p: 1)
            #expect(Convolution.algorithm(for: narrow, kernels: kernels, threads: threads) == (direct ? .winograd : .im2col))
        }
        // Winograd needs sides that are multiples of 4 (from 8), stride 1, 8 channels each way and
        // 64 tiles per worker (not batch 1 on CIFAR planes).
        for (g, winograd) in [(Self.geometry(32, 8, 8, 12, 8, k: (3, 3), s: 1, p: 1), true),
                              (Self.geometry(32, 16, 8, 10, 16, k: (3, 3), s: 1, p: 1), false),
                              (Self.geometry(32, 16, 4, 16, 16, k: (3, 3), s: 1, p: 1), false),
                              (Self.geometry(32, 7, 8, 8, 64, k: (3, 3), s: 1, p: 1), false),
                              (Self.geometry(32, 64, 8, 8, 7, k: (3, 3), s: 1, p: 1), false),
                              (Self.geometry(32, 32, 16, 16, 32, k: (3, 3), s: 2, p: 1), false),
                              (Self.geometry(1, 16, 32, 32, 16, k: (3, 3), s: 1, p: 1), false)] {
            #expect(WinogradConvolution.applies(to: g, kernels: kernels, threads: 2) == (winograd && direct), "\(g)")
            #expect(!WinogradConvolution.applies(to: g, kernels: KernelSettings(isa: isa, winogradConvolution: false),
                                                  threads: 2))
        }
        let oneImage = Self.geometry(1, 16, 32, 32, 16, k: (3, 3), s: 1, p: 1)   // 64 tiles: one worker's worth
        #expect(WinogradConvolution.applies(to: oneImage, kernels: kernels, threads: 1) == direct)
        // On AVX2 larger planes with as many channels also take SGEMM for dW; on AVX-512 they stay direct.
        let vgg16x16 = Self.geometry(2, 128, 16, 16, 128, k: (3, 3), s: 1, p: 1)
        #expect(Convolution.weightGradientAlgorithm(for: vgg16x16, kernels: kernels)
                == (isa == .avx2 ? .im2col : direct ? .direct : .im2col))
        // The channel-vector weight gradient (AVX-512) puts whichever side wastes fewer of its
        // 16-channel blocks in the lanes: a pruned 16 → 11 layer the inputs, 11 → 16 the outputs.
        for (cin, cout, swapped) in [(16, 11, true), (64, 23, true), (11, 16, false), (16, 16, false), (35, 37, false),
                                     (32, 17, true), (9, 3, true)] {
            #expect(DirectConvolution.channelWeightGradientSwapsRoles(Self.geometry(2, cin, 8, 8, cout, k: (3, 3), s: 1, p: 1))
                    == swapped, "\(cin) → \(cout)")
        }
        // The reference cases run both ways round.
        let channelWeightCases = Self.cases.map(\.g).filter {
            DirectConvolution.applies(to: $0, kernels: KernelSettings(isa: .avx512)) && $0.strideH == 1
        }
        #expect(channelWeightCases.contains { DirectConvolution.channelWeightGradientSwapsRoles($0) })
        #expect(channelWeightCases.contains { !DirectConvolution.channelWeightGradientSwapsRoles($0) })
        #expect(DirectConvolution.applies(to: Self.geometry(2, 3, 16, 16, 4, k: (3, 3), s: 2, p: 1), kernels: kernels) == direct)
        #expect(!DirectConvolution.applies(to: Self.geometry(2, 3, 17, 17, 4, k: (3, 3), s: 2, p: 1), kernels: kernels))  // odd input
        #expect(!DirectConvolution.applies(to: Self.geometry(2, 3, 12, 12, 4, k: (3, 3), s: 2, p: 1), kernels: kernels))  // 36 outputs
        #expect(!DirectConvolution.applies(to: Self.geometry(5, 3, 6, 7, 4, k: (5, 5), s: 1, p: 2), kernels: kernels))    // 5×5
        #expect(!DirectConvolution.applies(to: Self.geometry(2, 4, 17, 17, 4, k: (3, 3), s: 1, p: 1, groups: 2), kernels: kernels))
        // Which stride-1 passes take the channel-vector kernel (the cases of `cases` above).
        // Which stride-1 passes take the channel-vector kernel (the cases of `cases` above): only on
        // AVX-512, and not when switched off.
        let channels = isa == .avx512
        let square = Self.geometry(3, 35, 8, 8, 37, k: (3, 3), s: 1, p: 1)
        #expect(DirectConvolution.usesChannelKernel(square, inputs: 35, kernels: kernels) == channels)
        #expect(DirectConvolution.usesChannelKernel(square, inputs: 37, kernels: kernels) == channels)
        #expect(!DirectConvolution.usesChannelKernel(square, inputs: 37, kernels: KernelSettings(isa: isa, channelConvolution: false)))
        let flat = Self.geometry(2, 32, 3, 32, 17, k: (3, 3), s: 1, p: 1)
        #expect(DirectConvolution.usesChannelKernel(flat, inputs: 32, kernels: kernels) == channels)
        #expect(!DirectConvolution.usesChannelKernel(flat, inputs: 17, kernels: kernels))                  // few inputs
        #expect(!DirectConvolution.usesChannelKernel(Self.geometry(2, 40, 7, 8, 40, k: (3, 3), s: 1, p: 1), inputs: 40, kernels: kernels))  // odd rows of 8
        #expect(!DirectConvolution.usesChannelKernel(Self.geometry(2, 40, 9, 9, 40, k: (3, 3), s: 1, p: 1), inputs: 40, kernels: kernels))  // rows of 9
        #expect(!DirectConvolution.usesChannelKernel(Self.geometry(2, 40, 16, 16, 40, k: (3, 3), s: 2, p: 1), inputs: 40, kernels: kernels)) // stride 2
        // 4×4 planes stay on SGEMM even with channels enough for the channel-vector kernel.
        #expect(!DirectConvolution.applies(to: Self.geometry(3, 33, 4, 4, 40, k: (3, 3), s: 1, p: 1), kernels: kernels))
    }
}
