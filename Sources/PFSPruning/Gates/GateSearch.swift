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
/// gradients entirely, and (unless `PFS_SKIP_CLOSED_GATES=0`) the convolutions around each width
/// skip the channels of its closed gates (``PFSModels/Network/skipsClosedGates``); BatchNorm runs
/// in training mode and its running statistics keep updating for every channel (they are used for
/// validation after each epoch).
///
/// The loop is the ``Trainer``'s, with Adam over the gates and a ``GateSparsityPenalty``; with a
/// ``runDirectory`` it checkpoints like a training run and ``run(resume:onEvent:)`` continues an
/// interrupted search exactly where it stopped.
public final class GateSearch {
    public let settings: GateSearchSettings
    public let source: GateSource
    /// The gated network (weights frozen).
    public let network: Network
    public let optimizer: Adam
    public let penalty: GateSparsityPenalty
    let data: PreparedData
    let loss: SoftmaxCrossEntropy
    /// Where to write the gates file after every epoch; nil keeps it in memory.
    public var outputFile: String?
    /// Where the search keeps its checkpoint (gates, Adam state, position); nil keeps none.
    public var runDirectory: String?
    /// Raising it (or SIGINT/SIGTERM) saves and stops the search after its current step.
    public var stop = StopRequest()

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
        try attempt {
            try TrainingError.checkMemory(MemoryEstimate.training(configuration, batch: settings.batchSize, threads: Engine.threads),
                                          what: "gate learning on \(configuration.architecture.rawValue) at batch \(settings.batchSize)",
                                          remedy: "lower --gate-batch-size or --width-multiplier")
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
        built.skipsClosedGates = Engine.kernels.skipsClosedGates
        let rate = settings.learningRate
        network = built
        optimizer = try attempt { try Adam(built.gates.map(\.gate), learningRate: rate) }
        penalty = GateSparsityPenalty(gates: built.gates, lambda: settings.lambda, targetRatio: settings.targetRatio)
        loss = try attempt { try SoftmaxCrossEntropy() }
    }

    /// Current gates, one array per prunable layer.
    public var gates: [[Float]] { network.gates.map { $0.gate.value.scalars } }

    /// Mean of all gates of the network.
    public var meanGate: Double { penalty.meanGate() }

    /// Fraction of gates that are > 0.
    public var nonZeroFraction: Double {
        Double(network.gates.reduce(0) { $0 + $1.gate.value.scalars.filter { $0 > 0 }.count }) / Double(penalty.count)
    }

    /// The recipe of the training loop that learns the gates: the search's epochs, batch size,
    /// seed and augmentation, Adam's constant learning rate, no weight decay.
    public var recipe: TrainingRecipe {
        var recipe = TrainingRecipe()
        recipe.epochs = settings.epochs
        recipe.batchSize = settings.batchSize
        recipe.learningRate = settings.learningRate
        recipe.schedule = .constant
        recipe.momentum = 0
        recipe.weightDecay = 0
        recipe.augment = settings.augment
        recipe.seed = settings.seed
        return recipe
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
        let sparsity = penalty.accumulateGradient()
        return (Double(ce) + sparsity, Double(ce), SoftmaxCrossEntropy.accuracy(logits: logits, labels: labels))
    }

    /// The objective on one batch without touching gradients (for finite-difference checks).
    public func objective(images: Tensor, labels: [Int]) throws(PruningError) -> Double {
        let logits = try attempt { try network.forward(images, mode: .training) }
        let ce = try attempt { try loss.forward(logits: logits, labels: labels) }
        return Double(ce) + penalty.value()
    }

    /// Runs every epoch, validating after each (or every ``GateSearchSettings/validateEverySteps``
    /// steps and at each epoch's end), and applies the selection rule to the validated points.
    /// With `resume`, continues from the checkpoint in ``runDirectory`` and the history in
    /// ``outputFile``; a search validated every K steps also checkpoints at each of its points, so
    /// an interrupted pass resumes mid-pass.
    public func run(resume: Bool = false, onEvent: (GateSearchEvent) -> Void = { _ in }) throws(PruningError)
        -> GateSearchResult {
        let lock = try runDirectory.map { (directory) throws(PruningError) in try attempt { try RunDirectoryLock.acquire(directory) } }
        defer { lock?.release() }
        var result = GateSearchResult(configuration: network.configuration, settings: settings, source: source,
                                      data: data.description, history: [], selection: nil, complete: false, seconds: 0,
                                      trainingImagesPerEpoch: data.train.count)
        // Validated every K steps, the search validates itself, inside epochs and at their ends;
        // per epoch, the trainer validates at the end of each.
        let every = settings.validateEverySteps
        let trainer = try attempt {
            try Trainer(network: network, recipe: recipe, train: data.train, validation: every == nil ? data.validation : nil,
                        normalization: data.normalization, dataDescription: data.description,
                        runDirectory: runDirectory, optimizer: optimizer, penalties: [penalty])
        }
        trainer.stop = stop
        if resume {
            result.history = try resumeHistory(trainer)
            result.seconds = result.history.reduce(0) { $0 + $1.seconds }
            result.selection = GateSelection.choose(from: result.history, targetRatio: settings.targetRatio)
        }
        let outputFile = self.outputFile
        let targetRatio = settings.targetRatio
        let epochs = settings.epochs
        let stepsPerEpoch = self.stepsPerEpoch
        try withoutActuallyEscaping(onEvent) { (onEvent) throws(PruningError) -> Void in
            func record(_ entry: GateEpoch, endsEpoch: Bool) throws(TrainingError) {
                result.history.append(entry)
                result.seconds = result.history.reduce(0) { $0 + $1.seconds }
                result.selection = GateSelection.choose(from: result.history, targetRatio: targetRatio)
                result.complete = endsEpoch && entry.epoch == epochs
                if let outputFile { try AtomicFile.write(result.jsonData(), to: outputFile) }
                onEvent(.epoch(entry))
            }
            if let every {
                trainer.stepObserver = { [unowned self] (state: TrainingState) throws(TrainingError) -> Bool in
                    guard state.globalStep % every == 0, state.stepInEpoch < stepsPerEpoch else { return false }
                    try record(self.validatedPoint(state, history: result.history), endsEpoch: false)
                    return true
                }
                trainer.epochObserver = { [unowned self, unowned trainer] (_: EpochRecord) throws(TrainingError) -> Void in
                    try record(self.validatedPoint(trainer.state, history: result.history), endsEpoch: true)
                }
            } else {
                trainer.epochObserver = { [unowned self] (epochRecord: EpochRecord) throws(TrainingError) -> Void in
                    let e = epochRecord
                    let entry = GateEpoch(epoch: e.epoch, trainLoss: e.trainLoss, objective: e.trainLoss + (e.penalty ?? 0),
                                          trainAccuracy: e.trainAccuracy, validationLoss: e.validationLoss ?? 0,
                                          validationAccuracy: e.validationAccuracy ?? 0, meanGate: self.meanGate,
                                          nonZeroFraction: self.nonZeroFraction, seconds: e.seconds,
                                          imagesPerSecond: e.imagesPerSecond, gates: self.gates)
                    try record(entry, endsEpoch: true)
                }
            }
            defer {
                trainer.epochObserver = nil
                trainer.stepObserver = nil
            }
            do throws(TrainingError) {
                try trainer.run { event in
                    if case let .step(epoch, step, steps, loss, penalty, _, rate) = event {
                        onEvent(.step(epoch: epoch, step: step, steps: steps, objective: loss + penalty,
                                      meanGate: self.meanGate, imagesPerSecond: rate))
                    }
                }
            } catch {
                if case .interrupted = error, let outputFile { try result.save(to: outputFile) }
                throw .training(error)
            }
        }
        result.complete = true
        return result
    }

    /// Optimiser steps per epoch (the last batch of an epoch may be smaller).
    var stepsPerEpoch: Int { (data.train.count + settings.batchSize - 1) / settings.batchSize }

    /// A point of a search validated every K steps: validates the current gates and reads the
    /// epoch's running means from the trainer's `state`. Its time is the training since the
    /// previous point of the epoch (from the state, so it survives a resume) plus this validation.
    func validatedPoint(_ state: TrainingState, history: [GateEpoch]) throws(TrainingError) -> GateEpoch {
        let epoch = state.completedEpochs + 1
        let started = Date()
        let validation = try Evaluator.evaluate(network, on: data.validation!, normalization: data.normalization)
        let validationSeconds = Date().timeIntervalSince(started)
        let trainedBefore = history.filter { $0.epoch == epoch }.reduce(0) { $0 + $1.seconds - ($1.validationSeconds ?? 0) }
        let images = Double(max(state.partialImages, 1))
        let loss = state.partialLoss / images
        return GateEpoch(epoch: epoch, step: state.globalStep, trainLoss: loss,
                         objective: loss + (state.partialPenalty ?? 0) / images,
                         trainAccuracy: Double(state.partialCorrect) / images, validationLoss: validation.loss,
                         validationAccuracy: validation.accuracy, meanGate: meanGate, nonZeroFraction: nonZeroFraction,
                         seconds: max(state.partialSeconds - trainedBefore, 0) + validationSeconds,
                         validationSeconds: validationSeconds,
                         imagesPerSecond: Double(state.partialImages) / max(state.partialSeconds, 1e-9), gates: gates)
    }

    /// The global steps at which a search validated every `every` steps records a point, up to
    /// `step`: multiples of `every` inside epochs, and every epoch's last step.
    static func validationSteps(upTo step: Int, every: Int, stepsPerEpoch: Int) -> [Int] {
        guard step >= 1 else { return [] }
        return (1...step).filter { $0 % stepsPerEpoch == 0 || $0 % every == 0 }
    }

    /// Restores the search's checkpoint and returns the history of the points it completed, from
    /// the gates file (written before each point's checkpoint, so never behind it).
    func resumeHistory(_ trainer: Trainer) throws(PruningError) -> [GateEpoch] {
        guard let runDirectory else {
            throw .setting(field: "resume", expected: "a run directory holding the search's checkpoint", got: "none")
        }
        try attempt { try trainer.resume(from: try Checkpoint.read(runDirectory)) }
        let completed = trainer.state.completedEpochs, step = trainer.state.globalStep
        let expected: [Int?]
        if let every = settings.validateEverySteps {
            expected = Self.validationSteps(upTo: step, every: every, stepsPerEpoch: stepsPerEpoch)
        } else {
            expected = completed > 0 ? Array(repeating: nil, count: completed) : []
        }
        guard !expected.isEmpty else { return [] }
        guard let outputFile else {
            throw .setting(field: "resume", expected: "the gates file of the interrupted search", got: "none")
        }
        let saved = try GateSearchResult.load(outputFile)
        guard saved.configuration == network.configuration, saved.settings == settings, saved.source == source else {
            throw .mismatch(file: outputFile, field: "search", expected: "the search being resumed (same network, "
                            + "settings and source)", got: "another search")
        }
        let history = settings.validateEverySteps == nil ? saved.history.filter { $0.epoch <= completed }
            : saved.history.filter { ($0.step ?? .max) <= step }
        let points = { (h: [GateEpoch]) in h.map { $0.step.map { "step \($0)" } ?? "epoch \($0.epoch)" }.joined(separator: ", ") }
        guard history.map(\.step) == expected,
              settings.validateEverySteps != nil || history.map(\.epoch) == Array(1...completed) else {
            let wanted = settings.validateEverySteps == nil ? "epochs 1…\(completed)"
                : "steps " + expected.compactMap { $0.map(String.init) }.joined(separator: ", ")
            throw .mismatch(file: outputFile, field: "history", expected: "\(wanted) (the checkpoint's)",
                            got: points(saved.history))
        }
        return history
    }
}
