import PFSNN
import PFSTensor

/// Throughput of 3×3, stride-1, padding-1 convolutions at CIFAR-ResNet shapes through the
/// ``Conv2d`` layer (so it measures exactly what training runs). FLOPs = 2·MACs for the forward
/// pass, and the same again for each of the input-gradient and weight-gradient products.
public struct ConvBenchmark {
    public enum Pass: String, CaseIterable, Sendable {
        case forward
        /// Input gradient and weight gradient (a normal training step's backward).
        case backward
        /// Input gradient only (weights frozen, as in gate learning).
        case backwardData = "backward-data"
        /// Weight gradient only (first layer: no input gradient).
        case backwardWeight = "backward-weight"
    }

    public struct Row: Sendable {
        public var channels, size, batch: Int
        public var pass: Pass
        public var macs: Int
        /// The kernel that ran (see ``Convolution/algorithm(for:)``); for a backward pass that
        /// runs its two gradients on different kernels, the weight gradient's is in
        /// ``weightGradientAlgorithm``.
        public var algorithm: ConvolutionAlgorithm
        public var weightGradientAlgorithm: ConvolutionAlgorithm?
        /// "direct", "im2col", or "direct+im2col" (input gradient + weight gradient).
        public var kernel: String {
            guard let weightGradientAlgorithm, weightGradientAlgorithm != algorithm else { return algorithm.rawValue }
            return "\(algorithm.rawValue)+\(weightGradientAlgorithm.rawValue)"
        }
        /// Backward work the kernels reported per timed run (zero for the forward pass).
        public var reportedWork: GradientWork
        public var samples: Samples
        public var gflops: Double { 2 * Double(macs) / samples.median * 1e-9 }
    }

    /// Which (channels, pixels) 3×3 layers to measure.
    public enum Shapes: String, CaseIterable, Sendable {
        /// The three stages of the CIFAR ResNet-20/56/110: 16/32/64 channels at 32/16/8 pixels.
        case resnet
        /// The five stages of the CIFAR VGG: 64/128/256/512/512 channels at 32/16/8/4/2 pixels.
        case vgg

        public var list: [(channels: Int, size: Int)] {
            switch self {
            case .resnet: [(16, 32), (32, 16), (64, 8)]
            case .vgg: [(64, 32), (128, 16), (256, 8), (512, 4), (512, 2)]
            }
        }
    }

    public var batch: Int
    public var minSeconds: Double

    public init(batch: Int = 128, minSeconds: Double = 1) {
        self.batch = batch
        self.minSeconds = minSeconds
    }

    public func run(channels: Int, size: Int, pass: Pass) throws -> Row {
        var rng = RandomGenerator(seed: 2)
        let conv = try Conv2d(name: "bench", inChannels: channels, outChannels: channels, kernelSize: 3, padding: 1,
                              rng: &rng)
        let x = Tensor.randomNormal([batch, channels, size, size], using: &rng)
        let geometry = try conv.geometry(for: x.shape)
        let forwardMACs = geometry.macs
        let y = try conv.forward(x, mode: .training)
        let dy = Tensor.randomNormal(y.shape, using: &rng)
        conv.weight.isFrozen = pass == .backwardData
        conv.computesInputGradient = pass != .backwardWeight
        let workBefore = conv.backwardWork
        var failure: Error?
        let samples = Samples.measure(warmup: 1, minSeconds: minSeconds) {
            do {
                if pass == .forward { _ = try conv.forward(x, mode: .training) } else { _ = try conv.backward(dy) }
            } catch { failure = error }
        }
        if let failure { throw failure }
        let macs = pass == .backward ? 2 * forwardMACs : forwardMACs
        // Every run (warm-up included) adds the same work; report it per run.
        let runs = samples.seconds.count + 1
        var work = GradientWork()
        work.weightGradientMACs = (conv.backwardWork.weightGradientMACs - workBefore.weightGradientMACs) / runs
        work.inputGradientMACs = (conv.backwardWork.inputGradientMACs - workBefore.inputGradientMACs) / runs
        return Row(channels: channels, size: size, batch: batch, pass: pass, macs: macs,
                   algorithm: pass == .backwardWeight ? Convolution.weightGradientAlgorithm(for: geometry)
                                                       : Convolution.algorithm(for: geometry),
                   weightGradientAlgorithm: pass == .backward ? Convolution.weightGradientAlgorithm(for: geometry) : nil,
                   reportedWork: work,
                   samples: samples)
    }
}
