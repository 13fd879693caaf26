import Foundation
import PFSData
import PFSModels
import PFSNN
import PFSTensor
import PFSTraining

/// What gate learning reports while it works.
public enum GateSearchEvent {
    case step(epoch: Int, step: Int, steps: Int, objective: Double, meanGate: Double, imagesPerSecond: Double)
    case epoch(GateEpoch)
}

/// Learns channel gates on frozen weights (SPEC §3):
///
///     L(Λ) = CE(f(x; W, Λ), y) + λ · (Σ_j Σ_c g_jc / Σ_j C_j − r)²
///
/// Only the gates are optimised (Adam, no weight decay, projected to [0, 1] after every step).
/// Every other parameter is frozen, so the convolutions and the classifier skip their weight
/// gradients entirely; BatchNorm runs in training mode and its running statistics keep updating
/// (they are used for validation after each epoch).
public final class GateSearch {
    public let settings: GateSearchSettings
    public let source: GateSource
    /// The gated network (weights frozen).
    public let network: Network
    public let optimizer: Adam
    let data: PreparedData
    let loss: SoftmaxCrossEntropy
    let gateCount: Int
    /// Where to write the gates file after every epoch; nil keeps it in memory.
    public var outputFile: String?

    /// Builds the gated network of `configuration` (random weights from `settings.seed`, or the
    /// weights of `source`'s checkpoint, whose configuration must be the same) on `data` (which
    /// must have a validation part).
    public init(configuration: ChannelConfiguration, settings: GateSearchSettings, source: GateSource,
                data: PreparedData) throws(PruningError) {
        try settings.validate()
        guard data.validation?.count ?? 0 > 0 else {
            throw .setting(field: "validation data", expected: "a validation split for the selection rule", got: "none")
        }
        guard data.inputShape == configuration.input, data.classes == configuration.classes else {
            throw .mismatch(file: data.description, field: "data", expected: "\(configuration.input) images in "
                            + "\(configuration.classes) classes", got: "\(data.inputShape) in \(data.classes) classes")
        }
        self.settings = settings
        self.source = source
        self.data = data
        let seed: UInt64
        switch source {
        case let .randomInitialization(s): seed = s
        case .checkpoint: seed = settings.seed
        }
        let built = try attempt { try ModelBuilder.build(configuration, gates: true, seed: seed) }
        if case let .checkpoint(file) = source {
            let contents = try attempt { try Checkpoint.read(file) }
            try attempt { try Checkpoint.restore(contents, into: built, skipping: [.gate]) }
        }
        for p in built.parameters { p.isFrozen = p.role != .gate }
        let rate = settings.learningRate
        network = built
        optimizer = try attempt { try Adam(built.gates.map(\.gate), learningRate: rate) }
        loss = try attempt { try SoftmaxCrossEntropy() }
        gateCount = built.gates.reduce(0) { $0 + $1.channels }
    }

    /// Current gates, one array per prunable layer.
    public var gates: [[Float]] { network.gates.map { $0.gate.value.scalars } }

    /// Mean of all gates of the network.
    public var meanGate: Double { network.gates.reduce(0.0) { $0 + $1.gate.value.sum() } / Double(gateCount) }

    /// Fraction of gates that are > 0.
    public var nonZeroFraction: Double {
        Double(network.gates.reduce(0) { $0 + $1.gate.value.scalars.filter { $0 > 0 }.count }) / Double(gateCount)
    }

    /// The objective on one batch and, in every gate's `grad`, its gradient (gradients are reset
    /// first). Returns (objective, cross-entropy, accuracy).
    @discardableResult
    public func objectiveAndGradient(images: Tensor, labels: [Int]) throws(PruningError)
        -> (objective: Double, crossEntropy: Double, accuracy: Double) {
        for g in network.gates { g.gate.zeroGradient() }
        let logits = try attempt { try network.forward(images, mode: .training) }
        let ce = try attempt { try loss.forward(logits: logits, labels: labels) }
        let gradient = try attempt { try loss.backward() }
        _ = try attempt { try network.backward(gradient) }
        // Sparsity term: d/dg of λ(m − r)² with m = Σg/N is 2λ(m − r)/N for every gate.
        let mean = meanGate
        let deviation = mean - Double(settings.targetRatio)
        let regGrad = Float(2 * Double(settings.lambda) * deviation / Double(gateCount))
        for g in network.gates {
            g.gate.accumulateGradient { grad in for c in 0..<g.channels { grad[c] += regGrad } }
        }
        let objective = Double(ce) + Double(settings.lambda) * deviation * deviation
        return (objective, Double(ce), SoftmaxCrossEntropy.accuracy(logits: logits, labels: labels))
    }

    /// The objective on one batch without touching gradients (for finite-difference checks).
    public func objective(images: Tensor, labels: [Int]) throws(PruningError) -> Double {
        let logits = try attempt { try network.forward(images, mode: .training) }
        let ce = try attempt { try loss.forward(logits: logits, labels: labels) }
        let deviation = meanGate - Double(settings.targetRatio)
        return Double(ce) + Double(settings.lambda) * deviation * deviation
    }

    /// Runs every epoch, validating after each, and applies the selection rule.
    public func run(onEvent: (GateSearchEvent) -> Void = { _ in }) throws(PruningError) -> GateSearchResult {
        var result = GateSearchResult(configuration: network.configuration, settings: settings, source: source,
                                      data: data.description, history: [], selection: nil, complete: false, seconds: 0)
        let train = data.train
        let steps = (train.count + settings.batchSize - 1) / settings.batchSize
        for epoch in 0..<settings.epochs {
            let started = Date()
            let loader = try attempt {
                try BatchLoader(dataset: train, batchSize: settings.batchSize, shuffle: true,
                                augmentation: settings.augment ? .cifar : .none, normalization: data.normalization,
                                seed: settings.seed, epoch: epoch)
            }
            var ceSum = 0.0, objectiveSum = 0.0, correct = 0.0, seen = 0
            for (index, batch) in loader.enumerated() {
                let n = batch.labels.count
                let step = try objectiveAndGradient(images: batch.images, labels: batch.labels)
                guard step.objective.isFinite else {
                    throw .training(.diverged(epoch: epoch + 1, step: index + 1, detail: "gate objective is \(step.objective)"))
                }
                optimizer.step()
                ceSum += step.crossEntropy * Double(n)
                objectiveSum += step.objective * Double(n)
                correct += step.accuracy * Double(n)
                seen += n
                onEvent(.step(epoch: epoch + 1, step: index + 1, steps: steps, objective: objectiveSum / Double(seen),
                              meanGate: meanGate,
                              imagesPerSecond: Double(seen) / max(Date().timeIntervalSince(started), 1e-9)))
                if StopSignal.isRequested {
                    loader.cancel()
                    if let outputFile { try result.save(to: outputFile) }
                    throw .training(.interrupted(file: outputFile ?? "memory"))
                }
            }
            let trainSeconds = Date().timeIntervalSince(started)
            let validation = try attempt {
                try Evaluator.evaluate(network, on: data.validation!, normalization: data.normalization)
            }
            let record = GateEpoch(epoch: epoch + 1, trainLoss: ceSum / Double(max(seen, 1)),
                                   objective: objectiveSum / Double(max(seen, 1)),
                                   trainAccuracy: correct / Double(max(seen, 1)), validationLoss: validation.loss,
                                   validationAccuracy: validation.accuracy, meanGate: meanGate,
                                   nonZeroFraction: nonZeroFraction, seconds: Date().timeIntervalSince(started),
                                   imagesPerSecond: Double(seen) / max(trainSeconds, 1e-9), gates: gates)
            result.history.append(record)
            result.seconds += record.seconds
            result.selection = GateSelection.choose(from: result.history, targetRatio: settings.targetRatio)
            result.complete = epoch + 1 == settings.epochs
            if let outputFile { try result.save(to: outputFile) }
            onEvent(.epoch(record))
        }
        return result
    }
}
