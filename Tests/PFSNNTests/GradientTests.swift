import PFSNN
import PFSTensor
import PFSTestSupport
import Testing

/// Central finite differences (Double objective, Float layers) against every layer's backward,
/// for the input gradient and every parameter gradient, on small odd shapes with N > 1.
@Suite struct GradientTests {
    /// Observed worst case 3.5e-4 (BatchNorm input, training mode); a wrong term gives O(1).
    static let tolerance = 2e-3

    func expectGradients(_ layer: Layer, _ input: Tensor, mode: Mode = .training, step: Float = 1e-2,
                         sourceLocation: SourceLocation = #_sourceLocation) throws {
        let results = try GradientCheck.run(layer, input: input, mode: mode, step: step)
        #expect(!results.isEmpty, sourceLocation: sourceLocation)
        for r in results {
            #expect(r.error < Self.tolerance, "\(r)", sourceLocation: sourceLocation)
        }
    }

    struct ConvCase: CustomStringConvertible, Sendable {
        var cin, cout, k, stride, padding, groups: Int
        var bias: Bool
        var h, w: Int
        var description: String { "\(cin)→\(cout) k\(k) s\(stride) p\(padding) g\(groups) \(h)×\(w)\(bias ? " bias" : "")" }

        /// The layer of this case, its weights drawn from `rng`.
        func layer(_ rng: inout RandomGenerator) throws -> Conv2d {
            try Conv2d(name: "conv", inChannels: cin, outChannels: cout, kernelSize: k, stride: stride,
                       padding: padding, groups: groups, bias: bias, rng: &rng)
        }
    }

    @Test(arguments: [
        ConvCase(cin: 3, cout: 4, k: 3, stride: 1, padding: 1, groups: 1, bias: true, h: 5, w: 7),
        ConvCase(cin: 4, cout: 6, k: 3, stride: 2, padding: 1, groups: 2, bias: false, h: 7, w: 5),
        ConvCase(cin: 5, cout: 5, k: 3, stride: 2, padding: 1, groups: 5, bias: true, h: 7, w: 7),
        ConvCase(cin: 3, cout: 5, k: 1, stride: 1, padding: 0, groups: 1, bias: false, h: 3, w: 5),
        ConvCase(cin: 3, cout: 2, k: 1, stride: 2, padding: 0, groups: 1, bias: false, h: 5, w: 5),
    ])
    func conv2d(_ c: ConvCase) throws {
        var rng = RandomGenerator(seed: 1)
        let conv = try c.layer(&rng)
        try expectGradients(conv, .randomNormal([2, c.cin, c.h, c.w], using: &rng))
    }

    /// With channels known to be zero (input) or to carry no gradient (output), a frozen
    /// convolution skips them and gives the full computation's output and input gradient.
    @Test(arguments: [
        ConvCase(cin: 7, cout: 20, k: 3, stride: 1, padding: 1, groups: 1, bias: true, h: 9, w: 11),
        ConvCase(cin: 40, cout: 36, k: 3, stride: 1, padding: 1, groups: 1, bias: false, h: 8, w: 8),
        ConvCase(cin: 9, cout: 12, k: 3, stride: 2, padding: 1, groups: 1, bias: false, h: 10, w: 10),
        ConvCase(cin: 6, cout: 5, k: 1, stride: 1, padding: 0, groups: 1, bias: true, h: 5, w: 3),
        ConvCase(cin: 5, cout: 4, k: 5, stride: 1, padding: 2, groups: 1, bias: false, h: 6, w: 7),
    ])
    func conv2dSkipsKnownZeroChannels(_ c: ConvCase) throws {
        var rng = RandomGenerator(seed: 3)
        let conv = try c.layer(&rng)
        for p in conv.parameters { p.isFrozen = true }
        let liveInputs = (0..<c.cin).filter { $0 % 3 != 1 }, liveOutputs = (0..<c.cout).filter { $0 % 4 != 2 }
        var x = Tensor.randomNormal([3, c.cin, c.h, c.w], using: &rng)
        x.withUnsafeMutableBufferPointer { v in
            for i in 0..<v.count where !liveInputs.contains((i / (c.h * c.w)) % c.cin) { v[i] = 0 }
        }
        let full = try conv.forward(x, mode: .training)
        var dy = Tensor.randomNormal(full.shape, using: &rng)
        let plane = full.shape[2] * full.shape[3]
        dy.withUnsafeMutableBufferPointer { v in
            for i in 0..<v.count where !liveOutputs.contains((i / plane) % c.cout) { v[i] = 0 }
        }
        let fullGradient = try #require(try conv.backward(dy)).scalars
        let fullWork = conv.backwardWork.inputGradientMACs

        conv.liveInputChannels = liveInputs
        conv.liveGradientChannels = liveOutputs
        let skipped = try conv.forward(x, mode: .training)
        #expect(conv.lastForwardMACsPerImage < full.count / 3 * c.cin * c.k * c.k)
        for (a, b) in zip(full.scalars, skipped.scalars) { #expect(abs(a - b) <= 1e-4 * (1 + abs(a))) }
        let gradient = try #require(try conv.backward(dy)).scalars
        #expect(conv.backwardWork.inputGradientMACs - fullWork < fullWork)
        for (i, (a, b)) in zip(fullGradient, gradient).enumerated() {
            let channel = (i / (c.h * c.w)) % c.cin
            // Skipped input channels get 0: nothing reads their gradient.
            if liveInputs.contains(channel) { #expect(abs(a - b) <= 1e-4 * (1 + abs(a))) } else { #expect(b == 0) }
        }
        // A weight that takes a gradient runs the full backward pass: dX complete, dW as without skipping.
        conv.weight.isFrozen = false
        _ = try conv.forward(x, mode: .training)
        let complete = try #require(try conv.backward(dy)).scalars
        for (a, b) in zip(fullGradient, complete) { #expect(abs(a - b) <= 1e-4 * (1 + abs(a))) }
        let skippedDW = try #require(conv.weight.grad).scalars
        conv.weight.zeroGradient()
        conv.liveInputChannels = nil
        conv.liveGradientChannels = nil
        _ = try conv.forward(x, mode: .training)
        _ = try conv.backward(dy)
        for (a, b) in zip(try #require(conv.weight.grad).scalars, skippedDW) { #expect(abs(a - b) <= 1e-4 * (1 + abs(a))) }
    }

    @Test func conv2dRectangularKernelAndStride() throws {
        var rng = RandomGenerator(seed: 15)
        let conv = try Conv2d(name: "rect", inChannels: 2, outChannels: 3, kernel: (3, 1), stride: (2, 1),
                              padding: (1, 0), bias: true, rng: &rng)
        try expectGradients(conv, .randomNormal([2, 2, 5, 4], using: &rng))
    }

    @Test func batchNormTraining() throws {
        var rng = RandomGenerator(seed: 2)
        let bn = try BatchNorm2d(channels: 3)
        bn.gamma.value = .randomNormal([3], mean: 1, std: 0.3, using: &rng)
        bn.beta.value = .randomNormal([3], using: &rng)
        // A smaller step: the training-mode Jacobian couples every element of a channel.
        try expectGradients(bn, .randomNormal([3, 3, 4, 5], mean: 0.5, std: 2, using: &rng), step: 3e-3)
    }

    @Test func batchNormEvaluation() throws {
        var rng = RandomGenerator(seed: 3)
        let bn = try BatchNorm2d(channels: 4)
        bn.gamma.value = .randomNormal([4], mean: 1, std: 0.3, using: &rng)
        bn.runningMean = .randomNormal([4], using: &rng)
        bn.runningVariance = .randomUniform([4], low: 0.5, high: 2, using: &rng)
        try expectGradients(bn, .randomNormal([2, 4, 3, 3], using: &rng), mode: .evaluation)
    }

    @Test func relu() throws {
        var rng = RandomGenerator(seed: 4)
        try expectGradients(ReLU(), awayFromZero([2, 3, 4, 5], using: &rng))
    }

    @Test func relu6() throws {
        var rng = RandomGenerator(seed: 5)
        // Values on both kinks' sides (around 0 and 6), kept away from the kinks themselves.
        let x = Tensor(shape: [2, 3, 3, 3]) { i in
            let base: Float = [-1.3, 0.7, 3.1, 5.6, 6.4, 8.0][i % 6]
            return base + 0.2 * rng.uniform()
        }
        try expectGradients(ReLU.relu6(), x)
    }

    /// Distinct values ≥ 0.05 apart, shuffled, so no max-pool window has a near tie.
    static func distinctValues(_ shape: [Int], rng: inout RandomGenerator) -> Tensor {
        let n = Shape.count(shape)
        var values = (0..<n).map { Float($0) * 0.05 - Float(n) * 0.025 }
        for i in stride(from: n - 1, to: 0, by: -1) { values.swapAt(i, rng.int(below: i + 1)) }
        return try! Tensor(shape: shape, values: values)
    }

    @Test func maxPool() throws {
        var rng = RandomGenerator(seed: 6)
        try expectGradients(MaxPool2d(kernelSize: 2), Self.distinctValues([2, 3, 6, 5], rng: &rng))
        try expectGradients(MaxPool2d(kernelSize: 3, stride: 2, padding: 1), Self.distinctValues([2, 2, 7, 7], rng: &rng))
        try expectGradients(MaxPool2d(kernelSize: 2), Self.distinctValues([2, 3, 6, 4], rng: &rng))   // exact 2×2 tiling
    }

    /// The exact 2×2 tiling has its own loop (eight windows per vector step, then a scalar tail);
    /// with ties and NaNs it must pick the same elements as the generic windows (same input with an
    /// extra column that no window covers).
    @Test func maxPoolTilingPicksWhatTheGenericWindowsPick() throws {
        var rng = RandomGenerator(seed: 20)
        let planes = 6, h = 6, w = 20   // 10 windows per row: one vector step and a tail of 2
        let values: [Float] = (0..<(planes * h * w)).map { _ in
            let r = rng.int(below: 20)
            return r == 0 ? .nan : Float(r % 4) - 1   // many ties, a few NaNs
        }
        let tiled = try Tensor(shape: [2, 3, h, w], values: values)
        var padded: [Float] = []
        for r in 0..<(planes * h) { padded += values[(r * w)..<(r * w + w)] + [-1] }
        let generic = try Tensor(shape: [2, 3, h, w + 1], values: padded)
        let a = MaxPool2d(kernelSize: 2), b = MaxPool2d(kernelSize: 2)
        let ya = try a.forward(tiled, mode: .training), yb = try b.forward(generic, mode: .training)
        #expect(ya.scalars.map(\.bitPattern) == yb.scalars.map(\.bitPattern))
        #expect(ya.scalars.contains { $0.isNaN })
        let dy = Tensor(shape: ya.shape) { Float($0 + 1) }   // distinct, so each routed element shows
        let da = try a.backward(dy)!.scalars, db = try b.backward(dy)!.scalars
        for r in 0..<(planes * h) {
            #expect(Array(da[(r * w)..<(r * w + w)]) == Array(db[(r * (w + 1))..<(r * (w + 1) + w)]), "row \(r)")
        }
    }

    @Test func avgPool() throws {
        var rng = RandomGenerator(seed: 7)
        try expectGradients(AvgPool2d(kernelSize: 2), .randomNormal([2, 3, 5, 6], using: &rng))
        try expectGradients(AvgPool2d(kernelSize: 3, stride: 2, padding: 1), .randomNormal([3, 2, 7, 5], using: &rng))
    }

    @Test func globalAveragePool() throws {
        var rng = RandomGenerator(seed: 8)
        try expectGradients(GlobalAvgPool(), .randomNormal([3, 4, 3, 5], using: &rng))
    }

    @Test func linear() throws {
        var rng = RandomGenerator(seed: 9)
        let fc = try Linear(inFeatures: 7, outFeatures: 5, std: 0.5, rng: &rng)
        try expectGradients(fc, .randomNormal([3, 7], using: &rng))
        let noBias = try Linear(inFeatures: 4, outFeatures: 3, bias: false, std: 0.5, rng: &rng)
        try expectGradients(noBias, .randomNormal([2, 4], using: &rng))
    }

    @Test func channelGate() throws {
        var rng = RandomGenerator(seed: 10)
        let gate = try ChannelGate(channels: 3)
        gate.gate.value = .randomUniform([3], low: 0.2, high: 1, using: &rng)
        try expectGradients(gate, .randomNormal([2, 3, 4, 3], using: &rng))
    }

    @Test func flatten() throws {
        var rng = RandomGenerator(seed: 11)
        try expectGradients(Flatten(), .randomNormal([2, 3, 2, 3], using: &rng))
    }

    /// Per channel, values near ±0.6 and ±1.6 (mean ≈ 0): after BatchNorm with β = 0.1 every
    /// output is at least ~0.3 away from the clamp's kink at 0, so finite differences don't
    /// straddle it, while about half the outputs are clamped.
    static func clusteredInput(_ shape: [Int], rng: inout RandomGenerator) -> Tensor {
        Tensor(shape: shape) { i in [-1.6, -0.6, 0.6, 1.6][i % 4] + 0.05 * rng.normal() }
    }

    /// BatchNorm + gate + ReLU inside a ``Sequential`` run fused (one pass each way).
    @Test func fusedBatchNormGateReLU() throws {
        var rng = RandomGenerator(seed: 16)
        let bn = try BatchNorm2d(name: "bn", channels: 3)
        bn.gamma.value = .randomUniform([3], low: 0.8, high: 1.2, using: &rng)
        bn.beta.value = Tensor(shape: [3], repeating: 0.1)
        let gate = try ChannelGate(name: "gate", channels: 3)
        gate.gate.value = .randomUniform([3], low: 0.3, high: 1, using: &rng)
        try expectGradients(Sequential([bn, gate, ReLU()]), Self.clusteredInput([2, 3, 4, 4], rng: &rng), step: 1e-3)
    }

    /// BatchNorm + ReLU6 fused, evaluation mode (running statistics, outputs on both sides of 6).
    @Test func fusedBatchNormReLU6Evaluation() throws {
        var rng = RandomGenerator(seed: 17)
        let bn = try BatchNorm2d(name: "bn", channels: 2)
        bn.gamma.value = try Tensor(shape: [2], values: [4, 3])
        bn.beta.value = try Tensor(shape: [2], values: [3.1, 2.9])
        try expectGradients(Sequential([bn, ReLU.relu6()]), Self.clusteredInput([2, 2, 3, 4], rng: &rng),
                            mode: .evaluation)
    }

    /// Runs `layers()` as one ``Sequential`` (fused where it can) and one layer at a time, on the same
    /// input and output gradient, and expects the same output, input gradient and parameter
    /// gradients. In evaluation mode both first take one training pass, for running statistics.
    func expectFusionMatchesOneByOne(_ layers: () throws -> [Layer], input x: Tensor, mode: Mode,
                                     parameterCount: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let fused = Sequential(try layers()), single = try layers()
        func oneByOne(_ mode: Mode) throws -> Tensor {
            var t = x
            for layer in single { t = try layer.forward(t, mode: mode) }
            return t
        }
        if mode == .evaluation {
            _ = try fused.forward(x, mode: .training)
            _ = try oneByOne(.training)
        }
        let y = try fused.forward(x, mode: mode), ySingle = try oneByOne(mode)
        var rng = RandomGenerator(seed: 23)
        let dy = Tensor.randomNormal(y.shape, using: &rng)
        let dx = try fused.backward(dy)
        var dxSingle: Tensor? = dy
        for layer in single.reversed() { dxSingle = try layer.backward(dxSingle!) }
        #expect(Compare.relativeError(y.scalars, ySingle.scalars) < 1e-5, sourceLocation: sourceLocation)
        #expect(Compare.relativeError(dx!.scalars, dxSingle!.scalars) < 1e-5, sourceLocation: sourceLocation)
        let parameters = single.flatMap(\.parameters)
        #expect(fused.parameters.count == parameters.count && parameters.count == parameterCount,
                sourceLocation: sourceLocation)
        for (a, b) in zip(fused.parameters, parameters) {
            #expect(Compare.relativeError(a.grad!.scalars, b.grad!.scalars) < 1e-5, "\(a.name)",
                    sourceLocation: sourceLocation)
        }
    }

    /// The fused run gives what its layers give one by one: output, input gradient and every
    /// parameter gradient (conv, BN, gate), in training and evaluation mode.
    @Test(arguments: [Mode.training, .evaluation])
    func fusionMatchesTheLayersOneByOne(mode: Mode) throws {
        func layers() throws -> [Layer] {
            var rng = RandomGenerator(seed: 18)
            let gate = try ChannelGate(name: "gate", channels: 4)
            gate.gate.value = .randomUniform([4], low: 0, high: 1, using: &rng)
            return [try Conv2d(name: "c1", inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1, rng: &rng),
                    try BatchNorm2d(name: "bn1", channels: 4), gate, ReLU(),
                    try Conv2d(name: "c2", inChannels: 4, outChannels: 5, kernelSize: 3, padding: 1, rng: &rng),
                    try BatchNorm2d(name: "bn2", channels: 5), ReLU.relu6()]
        }
        var rng = RandomGenerator(seed: 19)
        // 2 conv weights, 2 × (γ, β), the gate.
        try expectFusionMatchesOneByOne(layers, input: .randomNormal([3, 3, 6, 5], mean: 0.3, using: &rng), mode: mode,
                                        parameterCount: 7)
    }

    /// A residual block whose body ends in BatchNorm, then a ReLU, runs with the add and the ReLU
    /// inside that BatchNorm's pass; it must give what the block and the ReLU give one by one, with
    /// an identity and with a projection shortcut, in training and evaluation mode.
    @Test(arguments: [(false, Mode.training), (true, .training), (true, .evaluation)])
    func fusedResidualMatchesTheLayersOneByOne(projection: Bool, mode: Mode) throws {
        func layers() throws -> [Layer] {
            var rng = RandomGenerator(seed: 21)
            let cout = projection ? 6 : 4, stride = projection ? 2 : 1
            let body = Sequential(name: "body", [
                try Conv2d(name: "c1", inChannels: 4, outChannels: cout, kernelSize: 3, stride: stride, padding: 1, rng: &rng),
                try BatchNorm2d(name: "bn1", channels: cout), ReLU(),
                try Conv2d(name: "c2", inChannels: cout, outChannels: cout, kernelSize: 3, padding: 1, rng: &rng),
                try BatchNorm2d(name: "bn2", channels: cout),
            ])
            let shortcut = projection ? Sequential(name: "shortcut", [
                try Conv2d(name: "proj", inChannels: 4, outChannels: cout, kernelSize: 1, stride: stride, rng: &rng),
                try BatchNorm2d(name: "proj_bn", channels: cout),
            ]) : nil
            return [Residual(name: "block", body: body, shortcut: shortcut), ReLU(name: "out")]
        }
        var rng = RandomGenerator(seed: 22)
        try expectFusionMatchesOneByOne(layers, input: .randomNormal([3, 4, 8, 6], mean: 0.2, using: &rng), mode: mode,
                                        parameterCount: projection ? 9 : 6)
    }

    /// In inference mode each convolution takes the BatchNorm after it, its gate, the residual add
    /// and the ReLU into its output pass (the Winograd output transform on these 16×16 layers with
    /// 8 and more channels; a separate pass elsewhere): the result is evaluation mode's, bit for bit,
    /// for fused BN + gate + ReLU runs, for residual blocks with identity and projection shortcuts,
    /// and for a lone BatchNorm.
    @Test func inferenceFoldsBatchNormIntoConvolutions() throws {
        var rng = RandomGenerator(seed: 24)
        func conv(_ name: String, _ cin: Int, _ cout: Int, k: Int = 3, stride: Int = 1) throws -> Conv2d {
            try Conv2d(name: name, inChannels: cin, outChannels: cout, kernelSize: k, stride: stride, padding: k / 2, rng: &rng)
        }
        func norm(_ name: String, _ channels: Int) throws -> BatchNorm2d {
            let bn = try BatchNorm2d(name: name, channels: channels)
            bn.gamma.value = .randomUniform([channels], low: 0.5, high: 1.5, using: &rng)
            bn.beta.value = .randomUniform([channels], low: -0.3, high: 0.3, using: &rng)
            return bn
        }
        let gate = try ChannelGate(name: "gate", channels: 9)
        gate.gate.value = .randomUniform([9], low: 0, high: 1, using: &rng)
        let net = Sequential([
            try conv("stem", 3, 8), try norm("stem_bn", 8), ReLU(),
            Residual(name: "block1", body: Sequential([
                try conv("b1c1", 8, 9), try norm("b1n1", 9), gate, ReLU(), try conv("b1c2", 9, 8), try norm("b1n2", 8),
            ])), ReLU(),
            Residual(name: "block2", body: Sequential([
                try conv("b2c1", 8, 12, stride: 2), try norm("b2n1", 12), ReLU.relu6(), try conv("b2c2", 12, 12), try norm("b2n2", 12),
            ]), shortcut: Sequential([try conv("b2p", 8, 12, k: 1, stride: 2), try norm("b2pn", 12)])), ReLU(),
            try conv("head", 12, 10), try norm("head_bn", 10),
        ])
        let x = Tensor.randomNormal([16, 3, 16, 16], using: &rng)
        for _ in 0..<2 { _ = try net.forward(x, mode: .training) }   // running statistics away from (0, 1)
        let evaluated = try net.forward(x, mode: .evaluation), inferred = try net.forward(x, mode: .inference)
        #expect(inferred == evaluated)
        #expect(inferred.scalars.contains { $0 < 0 })   // a lone BatchNorm last
        let block1 = Conv2dGeometry(batch: 16, inChannels: 8, height: 16, width: 16, outChannels: 9, kernel: (3, 3),
                                    stride: (1, 1), padding: (1, 1), groups: 1)
        if Engine.kernels.isa >= .avx2 { #expect(Convolution.algorithm(for: block1) == .winograd) }
        // Training again afterwards is unaffected, and a backward after inference is still refused.
        #expect(throws: EngineError.self) { _ = try net.backward(Tensor(shape: inferred.shape, repeating: 1)) }
        let trained = try net.forward(x, mode: .training)
        #expect(try net.backward(Tensor(shape: trained.shape, repeating: 1)) != nil)
    }

    /// conv-BN-gate-conv body plus a 1×1 conv + BN projection shortcut, stride 2.
    @Test func residualBlockWithProjection() throws {
        var rng = RandomGenerator(seed: 12)
        let body = Sequential(name: "body", [
            try Conv2d(name: "conv1", inChannels: 3, outChannels: 4, kernelSize: 3, stride: 2, padding: 1, rng: &rng),
            try BatchNorm2d(name: "bn1", channels: 4),
            try ChannelGate(name: "gate1", channels: 4),
            try Conv2d(name: "conv2", inChannels: 4, outChannels: 5, kernelSize: 3, padding: 1, rng: &rng),
        ])
        let shortcut = Sequential(name: "shortcut", [
            try Conv2d(name: "proj", inChannels: 3, outChannels: 5, kernelSize: 1, stride: 2, rng: &rng),
            try BatchNorm2d(name: "proj_bn", channels: 5),
        ])
        let block = Residual(name: "block", body: body, shortcut: shortcut)
        // No ReLU inside: batch-normalised values sit near its kink, where finite differences
        // straddle it; ReLU's own gradient is checked above on inputs kept away from 0.
        try expectGradients(block, .randomNormal([2, 3, 5, 5], using: &rng), step: 3e-3)
    }

    @Test func identityResidual() throws {
        var rng = RandomGenerator(seed: 13)
        let body = try Conv2d(inChannels: 3, outChannels: 3, kernelSize: 3, padding: 1, bias: true, rng: &rng)
        try expectGradients(Residual(body: body), .randomNormal([2, 3, 4, 4], using: &rng))
    }

    @Test(arguments: [Float(0), 0.1])
    func softmaxCrossEntropy(smoothing: Float) throws {
        var rng = RandomGenerator(seed: 14)
        let loss = try SoftmaxCrossEntropy(labelSmoothing: smoothing)
        var logits = Tensor.randomNormal([4, 5], std: 2, using: &rng)
        let labels = [0, 3, 4, 1]
        _ = try loss.forward(logits: logits, labels: labels)
        let analytic = try loss.backward().scalars
        var worst = 0.0
        let h: Float = 1e-2
        for i in 0..<logits.count {
            let v = logits[flat: i]
            logits[flat: i] = v + h; let lp = Double(try loss.forward(logits: logits, labels: labels))
            logits[flat: i] = v - h; let lm = Double(try loss.forward(logits: logits, labels: labels))
            logits[flat: i] = v
            let numeric = (lp - lm) / (Double(v + h) - Double(v - h))
            worst = max(worst, abs(numeric - Double(analytic[i])))
        }
        #expect(worst < 1e-3)
    }

    @Test func crossEntropyValueMatchesHandComputation() throws {
        // logits (1, 3) = [1, 2, 3], label 2: L = log(e¹ + e² + e³) − 3.
        let loss = try SoftmaxCrossEntropy()
        let value = try loss.forward(logits: Tensor(shape: [1, 3], values: [1, 2, 3]), labels: [2])
        #expect(abs(Double(value) - 0.40760596444438) < 1e-6)
        // With smoothing ε = 0.3, K = 3: L = −(0.8·log p₂ + 0.1·log p₀ + 0.1·log p₁).
        let smooth = try SoftmaxCrossEntropy(labelSmoothing: 0.3)
        let s = try smooth.forward(logits: Tensor(shape: [1, 3], values: [1, 2, 3]), labels: [2])
        let lse = 3.40760596444438
        let want = -(0.8 * (3 - lse) + 0.1 * (1 - lse) + 0.1 * (2 - lse))
        #expect(abs(Double(s) - want) < 1e-6)
    }
}
