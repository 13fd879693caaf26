import Foundation
import PFSData
import PFSModels
import PFSNN
import PFSTensor

/// What a training run reports while it works (for progress bars and logs).
public enum TrainingEvent {
    /// An optimiser step finished: running means of the epoch so far (`loss` is the cross-entropy,
    /// `penalty` the sum of the ``TrainingPenalty`` terms, 0 without any).
    case step(epoch: Int, step: Int, steps: Int, loss: Double, penalty: Double, accuracy: Double,
              imagesPerSecond: Double)
    /// An epoch finished (and was checkpointed when the run has a directory).
    case epoch(EpochRecord)
}

/// Trains a network with SGD on a dataset, one checkpoint per epoch, resumable exactly.
///
/// **Exact resume.** Every random choice of an epoch (order, crops, flips) is a function of
/// (seed, epoch) (``BatchLoader``), the weights, BatchNorm statistics, momentum buffers and step
/// counters are in the checkpoint, and the learning rate is a function of the global step. A run
/// stopped after any step and resumed from its checkpoint therefore performs the same arithmetic
/// as an uninterrupted run: with one thread the final weights are bit-identical.
///
/// **Interruption.** When ``StopSignal`` is raised (Ctrl-C) the trainer finishes the current step,
/// writes a checkpoint that includes the position inside the epoch and throws
/// ``TrainingError/interrupted(file:)``.
///
/// **One loop for every objective.** Plain training uses SGD on every parameter but the gates.
/// Gate learning passes Adam over the gates and a gate-sparsity ``TrainingPenalty``; Network
/// Slimming passes an L1 penalty on BatchNorm scales. Each step is: forward, cross-entropy,
/// backward, every penalty's gradient, optimiser step.
///
/// **Kept epochs.** Epoch numbers in ``keepEpochs`` (0 = the initial weights) are also saved as
/// `epoch-<e>.safetensors` (``Checkpoint/snapshotFileName(epoch:)``), for studies that start
/// from checkpoints of a pretraining run.
public final class Trainer {
    public let network: Network
    public let optimizer: any Optimizer
    /// Terms added to the loss at every step.
    public let penalties: [TrainingPenalty]
    /// Epochs whose weights are kept as snapshots in the run directory (0 = before training).
    public var keepEpochs: Set<Int> = []
    /// Called when an epoch's record is complete (after validation), before its checkpoint is
    /// written: what it saves is never behind the checkpoint, so a resume can trust both.
    public var epochObserver: ((EpochRecord) throws(TrainingError) -> Void)?
    /// Called after every optimiser step with the state after it (position, running sums of the
    /// epoch). When it returns true the trainer writes a checkpoint at that position before going
    /// on: an observer that saves something at a step (a gate search validating every K steps)
    /// thereby gets a checkpoint that is never behind what it saved.
    public var stepObserver: ((TrainingState) throws(TrainingError) -> Bool)?
    public private(set) var state: TrainingState
    public let train: any ImageSource
    public let validation: (any ImageSource)?
    /// Where checkpoints and the metrics log go; nil keeps everything in memory.
    public let runDirectory: String?
    /// Stops (as if interrupted) after this many optimiser steps of this `run` call; for tests.
    public var stopAfterSteps: Int?
    /// Polled after every step: when raised (or on SIGINT/SIGTERM) the trainer saves and stops.
    public var stop = StopRequest()

    /// A fresh run. The network should be freshly built from `recipe.seed`. Without `optimizer`,
    /// SGD with the recipe's learning rate, momentum and weight decay updates every parameter but
    /// the gates; the optimiser's learning rate is set from the recipe's schedule at every step.
    public init(network: Network, recipe: TrainingRecipe, train: any ImageSource, validation: (any ImageSource)?,
                normalization: Normalization, dataDescription: String, runDirectory: String?,
                optimizer: (any Optimizer)? = nil, penalties: [TrainingPenalty] = []) throws(TrainingError) {
        try recipe.validate()
        guard train.count >= 1 else {
            throw .data(DataError(file: train.source, field: "training images", expected: "at least 1", got: "0"))
        }
        for dataset in [train] + (validation.map { [$0] } ?? []) as [any ImageSource] {
            try Evaluator.checkFits(dataset, network.configuration)
        }
        self.network = network
        self.train = train
        self.validation = validation
        self.runDirectory = runDirectory
        self.penalties = penalties
        if let optimizer {
            self.optimizer = optimizer
        } else {
            self.optimizer = try wrap {
                try SGD(network.parameters.filter { $0.role != .gate }, learningRate: recipe.learningRate,
                        momentum: recipe.momentum, nesterov: recipe.nesterov, weightDecay: recipe.weightDecaySetting)
            }
        }
        state = TrainingState(recipe: recipe, normalization: normalization, data: dataDescription,
                              trainingImages: train.count, dataFingerprint: train.fingerprint)
    }

    /// Continues from a checkpoint of the same run: loads weights, BatchNorm statistics, momentum
    /// and position. Throws when the checkpoint belongs to another recipe or training set size.
    public func resume(from contents: Checkpoint.Contents) throws(TrainingError) {
        guard let saved = contents.state else {
            throw .format(file: contents.file, field: "metadata pfs.state", expected: "a training checkpoint",
                          got: "weights only")
        }
        guard saved.recipe == state.recipe else {
            throw .mismatch(file: contents.file, field: "recipe", expected: state.recipe.summary,
                            got: saved.recipe.summary)
        }
        guard saved.trainingImages == state.trainingImages else {
            throw .mismatch(file: contents.file, field: "training images", expected: "\(state.trainingImages)",
                            got: "\(saved.trainingImages)")
        }
        if let theirs = saved.dataFingerprint, let mine = state.dataFingerprint, theirs != mine {
            throw .mismatch(file: contents.file, field: "training data",
                            expected: "the data the run was started with: \(saved.data) (\(theirs))",
                            got: "\(state.data) (\(mine)) — other images or another order; resume with the "
                                + "original --data, or start a new run in another --out")
        }
        try Checkpoint.restore(contents, into: network, optimizer: optimizer)
        state = saved
    }

    /// Trains until the recipe's last epoch; returns the final state (with the epoch history).
    @discardableResult
    public func run(onEvent: (TrainingEvent) -> Void = { _ in }) throws(TrainingError) -> TrainingState {
        let recipe = state.recipe
        let loss = try wrap { try SoftmaxCrossEntropy(labelSmoothing: recipe.labelSmoothing) }
        let stepsPerEpoch = (train.count + recipe.batchSize - 1) / recipe.batchSize
        let schedule = recipe.learningRateSchedule(stepsPerEpoch: stepsPerEpoch)
        var stepsThisCall = 0
        if let runDirectory { try Checkpoint.saveArchitecture(network.configuration, in: runDirectory) }
        try saveSnapshotIfKept()
        while !state.isFinished {
            let epoch = state.completedEpochs
            // After an interruption the epoch resumes at its next batch (earlier ones are not made).
            let loader = try wrap {
                try train.batches(batchSize: recipe.batchSize, shuffle: true, augment: recipe.augment,
                                  normalization: state.normalization, seed: recipe.seed, epoch: epoch,
                                  startBatch: state.stepInEpoch)
            }
            var index = state.stepInEpoch
            var clock = Date()
            while true {
                let asked = Date()
                guard let batch = try wrap({ try loader.nextBatch() }) else { break }
                state.partialWaitSeconds = (state.partialWaitSeconds ?? 0) + Date().timeIntervalSince(asked)
                defer { index += 1 }
                let lr = schedule.learningRate(base: recipe.learningRate, at: state.globalStep)
                optimizer.learningRate = lr
                optimizer.zeroGradients()
                let logits = try wrap { try network.forward(batch.images, mode: .training) }
                let l = try wrap { try loss.forward(logits: logits, labels: batch.labels) }
                guard l.isFinite else {
                    throw .diverged(epoch: epoch + 1, step: index + 1, detail: "loss is \(l) (learning rate \(lr))")
                }
                let gradient = try wrap { try loss.backward() }
                _ = try wrap { try network.backward(gradient) }
                var penalty = 0.0
                for term in penalties { penalty += term.accumulateGradient() }
                guard penalty.isFinite else {
                    throw .diverged(epoch: epoch + 1, step: index + 1, detail: "penalty is \(penalty)")
                }
                optimizer.step()

                let n = batch.labels.count
                let now = Date()
                state.partialSeconds += now.timeIntervalSince(clock)
                clock = now
                state.partialLoss += Double(l) * Double(n)
                if !penalties.isEmpty { state.partialPenalty = (state.partialPenalty ?? 0) + penalty * Double(n) }
                state.partialCorrect += Int((SoftmaxCrossEntropy.accuracy(logits: logits, labels: batch.labels)
                                             * Double(n)).rounded())
                state.partialImages += n
                state.stepInEpoch = index + 1
                state.globalStep += 1
                stepsThisCall += 1
                onEvent(.step(epoch: epoch + 1, step: index + 1, steps: stepsPerEpoch,
                              loss: state.partialLoss / Double(state.partialImages),
                              penalty: (state.partialPenalty ?? 0) / Double(state.partialImages),
                              accuracy: Double(state.partialCorrect) / Double(state.partialImages),
                              imagesPerSecond: Double(state.partialImages) / max(state.partialSeconds, 1e-9)))
                if let stepObserver {
                    if try stepObserver(state) { _ = try saveCheckpoint() }
                    clock = Date()   // what the observer did (a validation, a checkpoint) is not training time
                }
                if stop.isRequested || stopAfterSteps.map({ stepsThisCall >= $0 }) == true {
                    loader.cancel()
                    let file = try saveCheckpoint()
                    throw .interrupted(file: file ?? "memory")
                }
            }
            let trainSeconds = state.partialSeconds
            let started = Date()
            var validationResult: Evaluation?
            if let validation, validation.count > 0 {
                validationResult = try Evaluator.evaluate(network, on: validation, normalization: state.normalization)
            }
            let record = EpochRecord(
                epoch: epoch + 1, trainLoss: state.partialLoss / Double(max(state.partialImages, 1)),
                trainAccuracy: Double(state.partialCorrect) / Double(max(state.partialImages, 1)),
                penalty: state.partialPenalty.map { $0 / Double(max(state.partialImages, 1)) },
                validationLoss: validationResult?.loss, validationAccuracy: validationResult?.accuracy,
                learningRate: Double(optimizer.learningRate),
                seconds: trainSeconds + Date().timeIntervalSince(started),
                imagesPerSecond: Double(state.partialImages) / max(trainSeconds, 1e-9),
                dataWaitSeconds: state.partialWaitSeconds ?? 0)
            state.history.append(record)
            try epochObserver?(record)
            state.completedEpochs += 1
            state.stepInEpoch = 0
            state.partialLoss = 0
            state.partialPenalty = nil
            state.partialCorrect = 0
            state.partialImages = 0
            state.partialSeconds = 0
            state.partialWaitSeconds = nil
            try saveCheckpoint()
            try saveSnapshotIfKept()
            onEvent(.epoch(record))
        }
        return state
    }

    /// Saves the weights as the snapshot of the epoch just completed when that epoch is kept and
    /// has no snapshot yet. Runs at the start of `run` too, so a snapshot lost to an interruption
    /// between the checkpoint and the snapshot is written on resume (the weights are the same).
    func saveSnapshotIfKept() throws(TrainingError) {
        guard let runDirectory, state.stepInEpoch == 0, keepEpochs.contains(state.completedEpochs) else { return }
        let file = (runDirectory as NSString).appendingPathComponent(Checkpoint.snapshotFileName(epoch: state.completedEpochs))
        guard !FileManager.default.fileExists(atPath: file) else { return }
        try Checkpoint.save(network, state: state, to: file)
    }

    /// Writes the checkpoint and the metrics log (when the run has a directory); returns the file.
    @discardableResult
    func saveCheckpoint() throws(TrainingError) -> String? {
        guard let runDirectory else { return nil }
        let file = (runDirectory as NSString).appendingPathComponent(Checkpoint.fileName)
        try Checkpoint.save(network, optimizer: optimizer, state: state, to: file)
        try Checkpoint.saveMetrics(state.history,
                                   to: (runDirectory as NSString).appendingPathComponent(Checkpoint.metricsFileName))
        return file
    }
}
