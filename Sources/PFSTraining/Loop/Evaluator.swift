import PFSData
import PFSModels
import PFSNN
import PFSTensor

/// Loss and accuracy of a network on a dataset.
public struct Evaluation: Codable, Equatable, Sendable {
    /// Mean cross-entropy (no label smoothing).
    public var loss: Double
    /// Fraction in [0, 1] of images whose arg-max logit is the label.
    public var accuracy: Double
    public var correct: Int
    public var images: Int
}

/// Runs a network over a dataset without changing it.
public enum Evaluator {
    /// Throws a ``TrainingError/mismatch(file:field:expected:got:)`` naming `dataset` when its
    /// images are not the network's input shape (C×H×W) or its classes not the network's outputs.
    public static func checkFits(_ dataset: any ImageSource, _ configuration: ChannelConfiguration) throws(TrainingError) {
        let input = configuration.input
        guard dataset.channels == input.channels, dataset.height == input.height, dataset.width == input.width else {
            throw .mismatch(file: dataset.source, field: "image shape", expected: "\(input) (the network's input)",
                            got: "\(dataset.channels)×\(dataset.height)×\(dataset.width)")
        }
        guard dataset.classCount == configuration.classes else {
            throw .mismatch(file: dataset.source, field: "classes",
                            expected: "\(configuration.classes) (the network's outputs)", got: "\(dataset.classCount)")
        }
    }

    /// Evaluates `network` on every image of `dataset` (no augmentation; a streamed folder's
    /// evaluation transform) with BatchNorm running
    /// statistics and no backward caches (``Mode/inference``) unless `mode` says otherwise.
    public static func evaluate(_ network: Layer, on dataset: any ImageSource, normalization: Normalization,
                                batchSize: Int = 250, mode: Mode = .inference) throws(TrainingError) -> Evaluation {
        if let network = network as? Network {
            try checkFits(dataset, network.configuration)
            try TrainingError.checkMemory(MemoryEstimate.inference(network.configuration, batch: batchSize, threads: Engine.threads),
                                          what: "evaluating \(network.name) at batch \(batchSize)", remedy: "lower --batch-size")
        }
        let loader = try wrap {
            try dataset.batches(batchSize: batchSize, shuffle: false, augment: false, normalization: normalization, seed: 0,
                                epoch: 0, startBatch: 0)
        }
        let loss = try wrap { try SoftmaxCrossEntropy() }
        var lossSum = 0.0, correct = 0, images = 0
        while let batch = try wrap({ try loader.nextBatch() }) {
            let logits = try wrap { try network.forward(batch.images, mode: mode) }
            let l = try wrap { try loss.forward(logits: logits, labels: batch.labels) }
            let n = batch.labels.count
            lossSum += Double(l) * Double(n)
            correct += Int((SoftmaxCrossEntropy.accuracy(logits: logits, labels: batch.labels) * Double(n)).rounded())
            images += n
        }
        guard lossSum.isFinite else {
            throw .nonFinite(what: "the network's outputs on \(dataset.source)",
                             detail: "the loss is \(lossSum); the weights or the data hold NaN or infinite values")
        }
        return Evaluation(loss: images > 0 ? lossSum / Double(images) : 0,
                          accuracy: images > 0 ? Double(correct) / Double(images) : 0, correct: correct, images: images)
    }
}

/// Runs `body`, turning whatever it throws into a ``TrainingError`` (see ``TrainingError/init(wrapping:)``).
@inline(__always)
public func wrap<T>(_ body: () throws -> T) throws(TrainingError) -> T {
    do { return try body() } catch { throw TrainingError(wrapping: error) }
}
