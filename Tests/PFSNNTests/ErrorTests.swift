import PFSNN
import PFSTensor
import Testing

/// Bad input must produce an ``EngineError`` whose message names the layer and the shapes.
@Suite struct ErrorTests {
    func expectError(_ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation,
                     _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("no error thrown", sourceLocation: sourceLocation)
        } catch let error as EngineError {
            for f in fragments {
                #expect(error.description.contains(f), "'\(error.description)' lacks '\(f)'", sourceLocation: sourceLocation)
            }
        } catch {
            Issue.record("unexpected error type \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func wrongChannelCount() throws {
        var rng = RandomGenerator(seed: 1)
        let conv = try Conv2d(name: "stage2.conv1", inChannels: 16, outChannels: 32, kernelSize: 3, rng: &rng)
        expectError(["stage2.conv1", "(N, 16, H, W)", "(8, 3, 32, 32)"]) {
            _ = try conv.forward(Tensor(zeros: [8, 3, 32, 32]), mode: .training)
        }
        let bn = try BatchNorm2d(name: "bn7", channels: 4)
        expectError(["bn7", "(N, 4, H, W)", "(2, 5, 3, 3)"]) { _ = try bn.forward(Tensor(zeros: [2, 5, 3, 3]), mode: .training) }
        let gate = try ChannelGate(name: "gate3", channels: 4)
        expectError(["gate3", "(2, 3, 3, 3)"]) { _ = try gate.forward(Tensor(zeros: [2, 3, 3, 3]), mode: .training) }
    }

    @Test func wrongRankAndZeroSizedDimensions() throws {
        var rng = RandomGenerator(seed: 2)
        let conv = try Conv2d(name: "conv", inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1, rng: &rng)
        expectError(["conv", "(3, 32, 32)"]) { _ = try conv.forward(Tensor(zeros: [3, 32, 32]), mode: .training) }
        expectError(["conv", "(0, 3, 8, 8)"]) { _ = try conv.forward(Tensor(zeros: [0, 3, 8, 8]), mode: .training) }
        expectError(["maxpool", "(2, 3, 0, 4)"]) { _ = try MaxPool2d(kernelSize: 2).forward(Tensor(zeros: [2, 3, 0, 4]), mode: .training) }
        expectError(["relu", "(0, 4)"]) { _ = try ReLU().forward(Tensor(zeros: [0, 4]), mode: .training) }
        let fc = try Linear(name: "classifier", inFeatures: 64, outFeatures: 10, rng: &rng)
        expectError(["classifier", "(N ≥ 1, 64)", "(2, 64, 1, 1)"]) { _ = try fc.forward(Tensor(zeros: [2, 64, 1, 1]), mode: .training) }
        expectError(["gap", "(4, 4)"]) { _ = try GlobalAvgPool().forward(Tensor(zeros: [4, 4]), mode: .training) }
    }

    @Test func badConfigurations() {
        var rng = RandomGenerator(seed: 3)
        expectError(["dw", "groups", "6"]) { _ = try Conv2d(name: "dw", inChannels: 6, outChannels: 6, kernelSize: 3, groups: 4, rng: &rng) }
        expectError(["c", "stride", "0"]) { _ = try Conv2d(name: "c", inChannels: 3, outChannels: 3, kernelSize: 3, stride: 0, rng: &rng) }
        expectError(["bn", "channels", "0"]) { _ = try BatchNorm2d(name: "bn", channels: 0) }
        expectError(["label smoothing"]) { _ = try SoftmaxCrossEntropy(labelSmoothing: 1) }
        expectError(["pool", "padding"]) { _ = try MaxPool2d(name: "pool", kernelSize: 2, padding: 2).forward(Tensor(zeros: [1, 1, 4, 4]), mode: .training) }
        expectError(["fc", "output features"]) { _ = try Linear(inFeatures: 3, outFeatures: 0, rng: &rng) }
    }

    @Test func residualShapeMismatchNamesBothPaths() throws {
        var rng = RandomGenerator(seed: 4)
        let body = try Conv2d(inChannels: 3, outChannels: 5, kernelSize: 3, padding: 1, rng: &rng)
        let block = Residual(name: "block2", body: body)
        expectError(["block2", "(2, 5, 4, 4)", "(2, 3, 4, 4)"]) { _ = try block.forward(Tensor(zeros: [2, 3, 4, 4]), mode: .training) }
        // The same block with BatchNorm last and a ReLU after it runs fused; same message.
        let fused = Sequential([Residual(name: "block3", body: Sequential([
            try Conv2d(inChannels: 3, outChannels: 5, kernelSize: 3, padding: 1, rng: &rng), try BatchNorm2d(channels: 5),
        ])), ReLU()])
        expectError(["block3", "(2, 5, 4, 4)", "(2, 3, 4, 4)"]) { _ = try fused.forward(Tensor(zeros: [2, 3, 4, 4]), mode: .training) }
    }

    @Test func labelsAndLogitsAreChecked() throws {
        let loss = try SoftmaxCrossEntropy()
        expectError(["label at index 1", "12", "0..<10"]) { _ = try loss.forward(logits: Tensor(zeros: [2, 10]), labels: [3, 12]) }
        expectError(["3 rows"]) { _ = try loss.forward(logits: Tensor(zeros: [2, 10]), labels: [1, 2, 3]) }
    }

    @Test func backwardWithoutForwardAndWrongGradientShape() throws {
        var rng = RandomGenerator(seed: 5)
        let conv = try Conv2d(name: "convX", inChannels: 2, outChannels: 2, kernelSize: 1, rng: &rng)
        expectError(["convX", "without"]) { _ = try conv.backward(Tensor(zeros: [1, 2, 2, 2])) }
        _ = try conv.forward(Tensor(zeros: [1, 2, 2, 2]), mode: .training)
        expectError(["convX.backward", "(1, 2, 2, 2)", "(1, 2, 3, 3)"]) { _ = try conv.backward(Tensor(zeros: [1, 2, 3, 3])) }
    }

    /// `.inference` gives the evaluation-mode output bit for bit, keeps no backward caches (a
    /// backward after it is refused, naming the layer) and drops those of an earlier training pass.
    @Test func inferenceKeepsNoBackwardCaches() throws {
        var rng = RandomGenerator(seed: 3)
        let layers: [Layer] = [
            try Conv2d(name: "c1", inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1, rng: &rng),
            try BatchNorm2d(name: "bn1", channels: 4), try ChannelGate(name: "g1", channels: 4), ReLU(name: "r1"),
            MaxPool2d(name: "mp", kernelSize: 2), Flatten(), try Linear(name: "fc", inFeatures: 4 * 3 * 3, outFeatures: 5, rng: &rng),
        ]
        let net = Sequential(layers)
        let x = Tensor.randomNormal([2, 3, 6, 6], std: 1, using: &rng)
        _ = try net.forward(x, mode: .training)   // moves the BN statistics away from their start
        let evaluated = try net.forward(x, mode: .evaluation)
        _ = try net.backward(Tensor(shape: evaluated.shape, repeating: 1))   // evaluation keeps caches
        let inferred = try net.forward(x, mode: .inference)
        #expect(inferred == evaluated)
        expectError(["fc"]) { _ = try net.backward(Tensor(shape: inferred.shape, repeating: 1)) }
        for layer in layers where !(layer is Flatten) {
            expectError([layer.name]) {
                _ = try layer.backward(Tensor(zeros: [1]))
            }
        }
    }
}
