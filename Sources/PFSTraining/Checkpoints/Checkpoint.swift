import Foundation
import PFSData
import PFSModels
import PFSNN
import PFSTensor

/// One finished epoch of training, as written to `metrics.jsonl`.
public struct EpochRecord: Codable, Equatable, Sendable {
    /// 1-based epoch number.
    public var epoch: Int
    public var trainLoss: Double
    /// Fraction in [0, 1] of training images classified correctly (augmented, training mode).
    public var trainAccuracy: Double
    /// Mean over the epoch's images of the ``TrainingPenalty`` terms (nil when the run has none).
    public var penalty: Double?
    public var validationLoss: Double?
    public var validationAccuracy: Double?
    /// Learning rate of the epoch's last step.
    public var learningRate: Double
    /// Wall time of the epoch in seconds (training and validation).
    public var seconds: Double
    /// Training images per second.
    public var imagesPerSecond: Double
    /// The part of the training time the steps spent waiting for their batch from the data loader
    /// (decoding, augmentation), in seconds; nil in records of earlier versions.
    public var dataWaitSeconds: Double?

    public init(epoch: Int, trainLoss: Double, trainAccuracy: Double, penalty: Double? = nil, validationLoss: Double?,
                validationAccuracy: Double?, learningRate: Double, seconds: Double, imagesPerSecond: Double,
                dataWaitSeconds: Double? = nil) {
        self.dataWaitSeconds = dataWaitSeconds
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.trainAccuracy = trainAccuracy
        self.penalty = penalty
        self.validationLoss = validationLoss
        self.validationAccuracy = validationAccuracy
        self.learningRate = learningRate
        self.seconds = seconds
        self.imagesPerSecond = imagesPerSecond
    }
}

/// Where a run stands: what a checkpoint needs besides tensors so that `--resume` continues
/// exactly where it stopped.
public struct TrainingState: Codable, Equatable, Sendable {
    public var recipe: TrainingRecipe
    /// Per-channel normalisation used for every image of the run (also by `pfs eval`).
    public var normalization: Normalization
    /// Human-readable description of the training data (e.g. "cifar10 at /data").
    public var data: String
    /// Number of training images per epoch.
    public var trainingImages: Int
    /// ``PFSData/ImageDataset/fingerprint`` of the training images (nil in checkpoints of earlier versions).
    public var dataFingerprint: String?
    /// Fully finished epochs.
    public var completedEpochs: Int = 0
    /// Batches already done in epoch `completedEpochs + 1` (non-zero only after an interruption).
    public var stepInEpoch: Int = 0
    /// Optimiser steps done in the whole run.
    public var globalStep: Int = 0
    /// Running sums of the unfinished epoch: loss × images, correct images, images, seconds.
    public var partialLoss: Double = 0
    /// Running sum of penalty × images (nil without penalties).
    public var partialPenalty: Double?
    public var partialCorrect: Int = 0
    public var partialImages: Int = 0
    public var partialSeconds: Double = 0
    /// Running sum of the seconds the unfinished epoch's steps waited for their batch (nil in
    /// states of earlier versions; counted from 0 then).
    public var partialWaitSeconds: Double?
    public var history: [EpochRecord] = []

    public init(recipe: TrainingRecipe, normalization: Normalization, data: String, trainingImages: Int,
                dataFingerprint: String? = nil) {
        self.recipe = recipe
        self.normalization = normalization
        self.data = data
        self.trainingImages = trainingImages
        self.dataFingerprint = dataFingerprint
    }

    public var isFinished: Bool { completedEpochs >= recipe.epochs }
}

/// Checkpoints: a network's weights and BatchNorm statistics, the optimiser's buffers and the
/// ``TrainingState``, in one safetensors file (readable by numpy and PyTorch), plus the channel
/// configuration as JSON.
///
/// Tensor names: parameters by their own names (`stage1.block1.conv1.weight`), BatchNorm
/// statistics as `<bn name>.running_mean` / `.running_var`, optimiser buffers as
/// `optimizer/<parameter name>.<buffer>`. Metadata: `pfs.format` = `pfs.checkpoint/1`,
/// `pfs.architecture` (the configuration JSON) and, for training checkpoints, `pfs.state`.
/// Every file is written atomically: a reader sees the previous file or the new one, never a mix.
public enum Checkpoint {
    public static let fileName = "checkpoint.safetensors"
    public static let architectureFileName = "architecture.json"
    public static let metricsFileName = "metrics.jsonl"

    /// The snapshot of the weights after `epoch` epochs (0 = the initial weights) that a run
    /// keeps when asked (``Trainer/keepEpochs``), e.g. `epoch-5.safetensors`.
    public static func snapshotFileName(epoch: Int) -> String { "epoch-\(epoch).safetensors" }
    public static let format = "pfs.checkpoint/1"
    static let optimizerPrefix = "optimizer/"

    /// A checkpoint read from disk.
    public struct Contents {
        /// The file it came from.
        public var file: String
        public var configuration: ChannelConfiguration
        public var tensors: [String: Tensor]
        /// Present for checkpoints written during training.
        public var state: TrainingState?

        public init(file: String, configuration: ChannelConfiguration, tensors: [String: Tensor], state: TrainingState?) {
            self.file = file
            self.configuration = configuration
            self.tensors = tensors
            self.state = state
        }
    }

    /// The checkpoint file of `path`: `path` itself when it is a file, `path/checkpoint.safetensors`
    /// when it is a run directory.
    public static func file(at path: String) -> String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            return (path as NSString).appendingPathComponent(fileName)
        }
        return path
    }

    /// Every tensor that defines `network`'s function: parameters, then BatchNorm statistics.
    public static func networkTensors(_ network: Network) -> [(name: String, tensor: Tensor)] {
        var out = network.parameters.map { (name: $0.name, tensor: $0.value) }
        for bn in network.batchNorms {
            out.append((name: "\(bn.name).running_mean", tensor: bn.runningMean))
            out.append((name: "\(bn.name).running_var", tensor: bn.runningVariance))
        }
        return out
    }

    /// Writes `network` (and, when given, the optimiser state and training state) to `file` atomically.
    public static func save(_ network: Network, optimizer: Optimizer? = nil, state: TrainingState? = nil,
                            to file: String) throws(TrainingError) {
        var tensors = networkTensors(network)
        if let optimizer {
            for (key, value) in optimizer.stateTensors().sorted(by: { $0.key < $1.key }) {
                tensors.append((name: optimizerPrefix + key, tensor: value))
            }
        }
        var metadata = ["pfs.format": format,
                        "pfs.architecture": String(decoding: network.configuration.jsonData(), as: UTF8.self)]
        if let state { metadata["pfs.state"] = String(decoding: try encodeJSON(state), as: UTF8.self) }
        try AtomicFile.write(SafeTensors.encode(tensors, metadata: metadata), to: file)
    }

    /// Reads a checkpoint file or run directory (see ``file(at:)``).
    public static func read(_ path: String) throws(TrainingError) -> Contents {
        let file = file(at: path)
        let contents = try SafeTensors.decode(try AtomicFile.read(file), file: file)
        guard contents.metadata["pfs.format"] == format else {
            throw .format(file: file, field: "metadata pfs.format", expected: format,
                          got: contents.metadata["pfs.format"] ?? "none (not a pfs checkpoint)")
        }
        guard let architecture = contents.metadata["pfs.architecture"] else {
            throw .format(file: file, field: "metadata pfs.architecture", expected: "the channel configuration JSON",
                          got: "none")
        }
        let configuration: ChannelConfiguration
        do {
            configuration = try ChannelConfiguration.decode(Data(architecture.utf8), file: file + " (pfs.architecture)")
        } catch {
            throw .model(error)
        }
        var state: TrainingState?
        if let text = contents.metadata["pfs.state"] {
            do {
                state = try JSONDecoder().decode(TrainingState.self, from: Data(text.utf8))
            } catch {
                throw .format(file: file, field: "metadata pfs.state", expected: "a training state", got: JSONText.describe(error, in: Data(text.utf8)))
            }
        }
        return Contents(file: file, configuration: configuration, tensors: contents.tensors, state: state)
    }

    /// Loads the checkpoint's tensors into `network` (and `optimizer`). Parameters whose role is in
    /// `skipping` keep their values (e.g. the gates when gate learning starts from a trained
    /// checkpoint). Throws when the widths differ or a tensor is missing or has another shape.
    public static func restore(_ contents: Contents, into network: Network, optimizer: Optimizer? = nil,
                               skipping: Set<ParameterRole> = []) throws(TrainingError) {
        let file = contents.file
        let mine = network.configuration, theirs = contents.configuration
        guard mine.architecture == theirs.architecture else {
            throw .mismatch(file: file, field: "architecture", expected: mine.architecture.rawValue,
                            got: theirs.architecture.rawValue)
        }
        if let i = zip(mine.widths, theirs.widths).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            throw .mismatch(file: file, field: "widths[\(i)] (\(mine.widths[i].name))", expected: "\(mine.widths[i].channels)",
                            got: "\(theirs.widths[i].channels)")
        }
        guard mine.widths.count == theirs.widths.count, mine.input == theirs.input, mine.classes == theirs.classes else {
            throw .mismatch(file: file, field: "configuration", expected: "\(mine.widths.count) widths, input \(mine.input), "
                                + "\(mine.classes) classes",
                            got: "\(theirs.widths.count) widths, input \(theirs.input), \(theirs.classes) classes")
        }
        func fetch(_ name: String, shape: [Int]) throws(TrainingError) -> Tensor {
            guard let t = contents.tensors[name] else {
                throw .mismatch(file: file, field: "tensor \(name)", expected: "present", got: "missing")
            }
            guard t.shape == shape else {
                throw .mismatch(file: file, field: "tensor \(name)", expected: "shape \(shape)", got: "shape \(t.shape)")
            }
            if let bad = t.scalars.firstIndex(where: { !$0.isFinite }) {
                throw .nonFinite(what: "\(file): tensor \(name)", detail: "\(t.scalars[bad]) at element \(bad)")
            }
            return t
        }
        // Check everything before changing anything, so a failed restore leaves the network intact.
        var parameterValues: [Tensor?] = []
        for p in network.parameters {
            parameterValues.append(skipping.contains(p.role) ? nil : try fetch(p.name, shape: p.value.shape))
        }
        var statistics: [(Tensor, Tensor)] = []
        for bn in network.batchNorms {
            statistics.append((try fetch("\(bn.name).running_mean", shape: bn.runningMean.shape),
                               try fetch("\(bn.name).running_var", shape: bn.runningVariance.shape)))
        }
        if let optimizer {
            var state: [String: Tensor] = [:]
            for (key, value) in contents.tensors where key.hasPrefix(optimizerPrefix) {
                state[String(key.dropFirst(optimizerPrefix.count))] = value
            }
            do { try optimizer.loadState(state) } catch { throw .mismatch(file: file, field: "optimizer state",
                                                                            expected: "buffers of this run's optimiser",
                                                                            got: error.description) }
        }
        for (p, value) in zip(network.parameters, parameterValues) { if let value { p.value = value } }
        for (bn, stats) in zip(network.batchNorms, statistics) {
            bn.runningMean = stats.0
            bn.runningVariance = stats.1
        }
    }

    /// Writes the configuration as `architecture.json` in `directory`, atomically.
    public static func saveArchitecture(_ configuration: ChannelConfiguration, in directory: String) throws(TrainingError) {
        try AtomicFile.write(configuration.jsonData(), to: (directory as NSString).appendingPathComponent(architectureFileName))
    }

    /// Writes the epoch history as JSON lines, atomically.
    public static func saveMetrics(_ history: [EpochRecord], to file: String) throws(TrainingError) {
        var data = Data()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for record in history {
            guard let line = try? encoder.encode(record) else { continue }
            data.append(line)
            data.append(0x0A)
        }
        try AtomicFile.write(data, to: file)
    }

    static func encodeJSON<T: Encodable>(_ value: T) throws(TrainingError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { return try encoder.encode(value) } catch {
            throw .format(file: "(memory)", field: "\(T.self)", expected: "encodable", got: "\(error)")
        }
    }
}
