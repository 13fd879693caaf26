import Foundation
import PFSData
import PFSModels
import PFSNN
import PFSTensor

/// What a finished training job reports (also written as `result.json` in the run directory).
public struct TrainingResult: Codable, Sendable {
    public static let format = "pfs.training-result/1"
    /// The document's kind and version (nil in results of earlier versions).
    public var format: String? = TrainingResult.format
    public var configuration: ChannelConfiguration
    /// MACs per image (conv + linear, SPEC §5) and parameters of the trained network.
    public var macs: Int
    public var params: Int
    public var recipe: TrainingRecipe
    public var data: String
    /// Training images per epoch (nil in results of earlier versions).
    public var trainingImages: Int?
    public var history: [EpochRecord]
    public var validation: Evaluation?
    /// After the last epoch (no picking of epochs on the test set); nil without a test part.
    public var test: Evaluation?
    /// Wall time of all epochs, in seconds (including the parts before a resume).
    public var trainingSeconds: Double
}

/// Builds a network from a configuration, trains it with a recipe, evaluates it, and keeps
/// `checkpoint.safetensors`, `architecture.json`, `metrics.jsonl` and `result.json` in the run
/// directory.
public struct TrainingJob {
    public var configuration: ChannelConfiguration
    public var recipe: TrainingRecipe
    public var data: PreparedData
    public var runDirectory: String
    /// Continue from `runDirectory/checkpoint.safetensors` instead of starting afresh.
    public var resume: Bool
    /// Epochs whose weights are kept as `epoch-<e>.safetensors` (0 = the initial weights).
    public var keepEpochs: Set<Int> = []
    /// Terms added to the loss at every step, made for the job's network (e.g. Network Slimming's
    /// L1 penalty on BatchNorm scales).
    public var penalties: ((Network) -> [TrainingPenalty])?
    /// Raising it (or SIGINT/SIGTERM) saves and stops the job after its current step.
    public var stop = StopRequest()

    public init(configuration: ChannelConfiguration, recipe: TrainingRecipe, data: PreparedData, runDirectory: String,
                resume: Bool) {
        self.configuration = configuration
        self.recipe = recipe
        self.data = data
        self.runDirectory = runDirectory
        self.resume = resume
    }

    public static let resultFileName = "result.json"

    /// Runs the job. Without `resume`, an existing checkpoint in the run directory is refused
    /// rather than overwritten.
    public func run(onEvent: (TrainingEvent) -> Void = { _ in }) throws(TrainingError) -> TrainingResult {
        let lock = try RunDirectoryLock.acquire(runDirectory)
        defer { lock.release() }
        let checkpointFile = (runDirectory as NSString).appendingPathComponent(Checkpoint.fileName)
        let exists = FileManager.default.fileExists(atPath: checkpointFile)
        if !resume && exists {
            throw .setting(field: "--out \(runDirectory)", expected: "a directory without a checkpoint "
                            + "(or --resume to continue it)", got: "an existing \(Checkpoint.fileName)")
        }
        if resume && !exists {
            throw .io(file: checkpointFile, action: "resume from", reason: "no checkpoint there")
        }
        try TrainingError.checkMemory(MemoryEstimate.training(configuration, batch: recipe.batchSize, threads: Engine.threads),
                                      what: "training \(configuration.architecture.rawValue) at batch \(recipe.batchSize)",
                                      remedy: "lower --batch-size or the network's widths")
        let network = try wrap { try ModelBuilder.build(configuration, seed: recipe.seed) }
        let trainer = try Trainer(network: network, recipe: recipe, train: data.train, validation: data.validation,
                                  normalization: data.normalization, dataDescription: data.description,
                                  runDirectory: runDirectory, penalties: penalties?(network) ?? [])
        trainer.keepEpochs = keepEpochs
        trainer.stop = stop
        if resume { try trainer.resume(from: try Checkpoint.read(checkpointFile)) }
        let state = try trainer.run(onEvent: onEvent)
        var validation: Evaluation?, test: Evaluation?
        if let validationSet = data.validation {
            validation = try Evaluator.evaluate(network, on: validationSet, normalization: data.normalization)
        }
        if let testSet = data.test {
            test = try Evaluator.evaluate(network, on: testSet, normalization: data.normalization)
        }
        let result = TrainingResult(
            configuration: configuration, macs: ComplexityCounter.totalMACs(configuration),
            params: ComplexityCounter.totalParams(configuration), recipe: recipe, data: data.description,
            trainingImages: data.train.count, history: state.history, validation: validation, test: test,
            trainingSeconds: state.history.reduce(0) { $0 + $1.seconds })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let bytes = try wrap { try encoder.encode(result) }
        try AtomicFile.write(bytes, to: (runDirectory as NSString).appendingPathComponent(Self.resultFileName))
        return result
    }

    /// The `result.json` of a finished run in `runDirectory`, or nil when the run has not finished.
    public static func finishedResult(in runDirectory: String) throws(TrainingError) -> TrainingResult? {
        let file = (runDirectory as NSString).appendingPathComponent(resultFileName)
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        let data = try AtomicFile.read(file)
        let result: TrainingResult
        do { result = try JSONDecoder().decode(TrainingResult.self, from: data) } catch {
            throw .format(file: file, field: "document", expected: "a training result written by pfs (\(TrainingResult.format))",
                          got: JSONText.describe(error, in: data))
        }
        if let format = result.format, format != TrainingResult.format {
            throw .format(file: file, field: "format", expected: TrainingResult.format, got: format)
        }
        return result
    }
}
