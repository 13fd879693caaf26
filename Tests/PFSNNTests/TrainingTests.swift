import PFSNN
import PFSTensor
import PFSTestSupport
import Testing

/// A small CIFAR-shaped network: conv-BN-gate-ReLU, residual block, max-pool, GAP, linear.
func smallNetwork(seed: UInt64) throws -> Sequential {
    var rng = RandomGenerator(seed: seed)
    let block = Residual(name: "block", body: Sequential(name: "body", [
        try Conv2d(name: "b.conv1", inChannels: 8, outChannels: 8, kernelSize: 3, padding: 1, rng: &rng),
        try BatchNorm2d(name: "b.bn1", channels: 8),
        ReLU(),
        try Conv2d(name: "b.conv2", inChannels: 8, outChannels: 8, kernelSize: 3, padding: 1, rng: &rng),
        try BatchNorm2d(name: "b.bn2", channels: 8),
    ]))
    let net = Sequential(name: "net", [
        try Conv2d(name: "conv1", inChannels: 3, outChannels: 8, kernelSize: 3, padding: 1, rng: &rng),
        try BatchNorm2d(name: "bn1", channels: 8),
        try ChannelGate(name: "gate1", channels: 8),
        ReLU(),
        block,
        ReLU(),
        MaxPool2d(kernelSize: 2),
        GlobalAvgPool(),
        try Linear(name: "fc", inFeatures: 8, outFeatures: 10, rng: &rng),
    ])
    net.computesInputGradient = false
    return net
}

@Suite(.serialized) struct TrainingTests {
    /// Runs `steps` SGD steps on a fixed random batch; returns the losses and the final parameters.
    static func train(seed: UInt64, steps: Int) throws -> (losses: [Float], parameters: [[Float]]) {
        let net = try smallNetwork(seed: seed)
        var rng = RandomGenerator(seed: seed &+ 100)
        let x = Tensor.randomNormal([6, 3, 8, 8], using: &rng)
        let labels = (0..<6).map { _ in rng.int(below: 10) }
        let loss = try SoftmaxCrossEntropy()
        let opt = try SGD(net.parameters, learningRate: 0.05, momentum: 0.9, weightDecay: WeightDecay(1e-4))
        var losses: [Float] = []
        for _ in 0..<steps {
            opt.zeroGradients()
            let logits = try net.forward(x, mode: .training)
            losses.append(try loss.forward(logits: logits, labels: labels))
            let input = try net.backward(try loss.backward())
            #expect(input == nil)   // the first layer computes no input gradient
            opt.step()
        }
        return (losses, net.parameters.map(\.value.scalars))
    }

    @Test func sameSeedGivesBitIdenticalTrainingWithOneThread() throws {
        let saved = Engine.threads
        Engine.threads = 1
        defer { Engine.threads = saved }
        let a = try Self.train(seed: 5, steps: 3), b = try Self.train(seed: 5, steps: 3)
        #expect(Compare.bitIdentical(a.losses, b.losses))
        #expect(a.parameters.count == b.parameters.count)
        for (p, q) in zip(a.parameters, b.parameters) { #expect(Compare.bitIdentical(p, q)) }
        let c = try Self.train(seed: 6, steps: 3)
        #expect(!Compare.bitIdentical(a.losses, c.losses))   // another seed, another run
    }

    @Test func lossDecreasesWhenFittingOneBatch() throws {
        let run = try Self.train(seed: 7, steps: 30)
        #expect(run.losses.last! < 0.5 * run.losses.first!, "losses \(run.losses)")
    }

    @Test func frozenWeightsGetNoGradientAndNoWeightGradientWork() throws {
        var rng = RandomGenerator(seed: 8)
        let conv1 = try Conv2d(name: "conv1", inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1, rng: &rng)
        let conv2 = try Conv2d(name: "conv2", inChannels: 4, outChannels: 4, kernelSize: 3, padding: 1, rng: &rng)
        let fc = try Linear(inFeatures: 4, outFeatures: 3, rng: &rng)
        let gate = try ChannelGate(channels: 4)
        let net = Sequential([conv1, gate, ReLU(), conv2, GlobalAvgPool(), fc])
        net.computesInputGradient = false
        // Gate learning: everything frozen except the gates.
        net.freeze()
        gate.gate.isFrozen = false
        let x = Tensor.randomNormal([2, 3, 5, 5], using: &rng)
        let logits = try net.forward(x, mode: .training)
        let loss = try SoftmaxCrossEntropy()
        _ = try loss.forward(logits: logits, labels: [0, 2])
        let dx = try net.backward(try loss.backward())
        #expect(dx == nil)
        for p in net.parameters where p.role != .gate { #expect(p.grad == nil, "\(p.name)") }
        #expect(gate.gate.grad != nil)
        // Work as counted where the kernels run their GEMMs: no weight-gradient product at all, and
        // no input-gradient product for the first layer; the gates still get their gradient.
        for work in [conv1.backwardWork, conv2.backwardWork, fc.backwardWork] { #expect(work.weightGradientMACs == 0) }
        #expect(conv1.backwardWork.inputGradientMACs == 0)
        #expect(conv2.backwardWork.inputGradientMACs == 2 * 4 * 25 * 36)
        #expect(fc.backwardWork.inputGradientMACs == 2 * 4 * 3)

        // Unfrozen, the same pass does the weight-gradient work.
        net.freeze(false)
        _ = try net.forward(x, mode: .training)
        _ = try loss.forward(logits: try net.forward(x, mode: .training), labels: [0, 2])
        _ = try net.backward(try loss.backward())
        #expect(conv1.backwardWork.weightGradientMACs == 2 * 4 * 25 * 27)
        #expect(conv2.backwardWork.weightGradientMACs == 2 * 4 * 25 * 36)
        #expect(fc.backwardWork.weightGradientMACs == 2 * 4 * 3)
        #expect(conv1.backwardWork.inputGradientMACs == 0)
        #expect(conv1.weight.grad != nil)
    }

    @Test func builtinAndSystemBackendsTrainAlike() throws {
        guard SystemBLAS.shared != nil else { return }
        let saved = Engine.gemm
        defer { Engine.gemm = saved }
        Engine.gemm = .builtin
        let a = try Self.train(seed: 9, steps: 2)
        Engine.gemm = .system
        let b = try Self.train(seed: 9, steps: 2)
        #expect(abs(a.losses[1] - b.losses[1]) < 1e-4 * abs(a.losses[1]))
    }
}
