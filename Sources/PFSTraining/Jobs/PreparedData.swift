import Foundation
import PFSData
import PFSModels

/// The data of a run: training part, optional validation part (split off the training data with
/// a seed), optional test part, and the per-channel normalisation every image gets.
public struct PreparedData: Sendable {
    public var train: any ImageSource
    public var validation: (any ImageSource)?
    /// Read only to report; nil when the source has no test part (an image folder without `test/`).
    public var test: (any ImageSource)?
    public var normalization: Normalization
    /// E.g. "bundled CIFAR-10 sample" or "cifar10 at /data/cifar".
    public var description: String

    public init(train: any ImageSource, validation: (any ImageSource)?, test: (any ImageSource)?, normalization: Normalization,
                description: String) {
        self.train = train
        self.validation = validation
        self.test = test
        self.normalization = normalization
        self.description = description
    }

    /// The input shape of networks for this data.
    public var inputShape: InputShape { InputShape(channels: train.channels, height: train.height, width: train.width) }
    public var classes: Int { train.classCount }

    /// Loads `source` (resized to `imageSize` when given), splits `validationFraction` of the
    /// training part off with `splitSeed`, and picks the normalisation: the SPEC's CIFAR-10
    /// constants for CIFAR-10, otherwise the mean and std measured on the training part.
    public static func load(_ source: DataSource, imageSize: (height: Int, width: Int)? = nil,
                            validationFraction: Double, splitSeed: UInt64) throws(TrainingError) -> PreparedData {
        let all = try wrap { try source.load(.train, imageSize: imageSize) }
        var train = all
        var validation: ImageDataset?
        if validationFraction > 0 {
            let parts = try wrap { try all.split(validationFraction: validationFraction, seed: splitSeed) }
            train = parts.train
            validation = parts.validation
            guard train.count > 0, parts.validation.count > 0 else {
                throw .data(DataError(file: all.source, field: "validation fraction",
                                      expected: "a split leaving images on both sides",
                                      got: "\(validationFraction) of \(all.count) images"))
            }
        }
        var test: ImageDataset?
        if source.kind != .folder || Self.folderHasTestPart(source) {
            test = try wrap { try source.load(.test, imageSize: imageSize) }
        }
        let normalization: Normalization = (source.kind == .cifar10 && all.channels == 3)
            ? .cifar10 : .measured(from: train)
        return PreparedData(train: train, validation: validation, test: test, normalization: normalization,
                            description: source.description)
    }

    /// An image folder streamed from disk instead of loaded (ImageNet-scale data): RGB at
    /// `size` px, RandomResizedCrop + flip for training and resize ⌊size·8/7⌋ + centre crop for
    /// evaluation (256/224 at 224), ImageNet mean and std, `workers` decoding threads.
    /// Layouts: `DIR/CLASS/…` (training images only), or `DIR/train/CLASS/…` with `DIR/val/…`
    /// (or `DIR/test/…`) as the part read to report. `validationFraction` of the training images
    /// are split off (seeded, stratified) for validation.
    public static func stream(folder path: String, size: Int = 224, validationFraction: Double, splitSeed: UInt64,
                              workers: Int = 2) throws(TrainingError) -> PreparedData {
        func isFolder(_ name: String) -> Bool { hasSubfolder(path, name) }
        let layered = isFolder("train")
        let all = try wrap { layered ? try ImageFolderIndex.scan(path, part: "train") : try ImageFolderIndex.scan(path) }
        let reportPart = ["val", "test"].first(where: isFolder)
        let test = try wrap { () throws -> ImageFolderIndex? in
            guard layered, let reportPart else { return nil }
            return try ImageFolderIndex.scan(path, part: reportPart)
        }
        func streamed(_ index: ImageFolderIndex) throws(TrainingError) -> StreamedImageFolder {
            try wrap {
                try StreamedImageFolder(index: index,
                                        training: .randomResizedCrop(size: size, scale: 0.08...1, ratio: 0.75...(4.0 / 3), flip: true),
                                        evaluation: .centreCrop(resize: size * 8 / 7, size: size), workers: workers,
                                        window: max(2, workers + 1))
            }
        }
        var trainIndex = all
        var validation: StreamedImageFolder?
        if validationFraction > 0 {
            let parts = try wrap { try all.split(validationFraction: validationFraction, seed: splitSeed) }
            guard parts.train.count > 0, parts.validation.count > 0 else {
                throw .data(DataError(file: path, field: "validation fraction", expected: "a split leaving images on both sides",
                                      got: "\(validationFraction) of \(all.count) images"))
            }
            trainIndex = parts.train
            validation = try streamed(parts.validation)
        }
        return PreparedData(train: try streamed(trainIndex), validation: validation, test: try test.map(streamed),
                            normalization: .imageNet, description: "image folder at \(path), streamed at \(size) px")
    }

    static func folderHasTestPart(_ source: DataSource) -> Bool {
        guard let path = source.path else { return false }
        return hasSubfolder(path, "test")
    }

    /// Whether `path/name` is a directory.
    static func hasSubfolder(_ path: String, _ name: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent(name), isDirectory: &isDirectory)
            && isDirectory.boolValue
    }
}

/// Reads a channel configuration from a JSON file: a configuration (`pfs.configuration/1`, as
/// `architecture.json` and `pfs flops --save` write it, or one of an earlier version without a
/// `format`) or a pruned architecture (`pfs.pruned-architecture/…`, written by `pfs prune`, whose
/// `configuration` member is the network). Any other pfs document — a gates or scores file, a
/// study plan — is refused by name, with what to do instead.
public enum ConfigurationFile {
    public static func read(_ path: String) throws(TrainingError) -> ChannelConfiguration {
        let data = try AtomicFile.read(path)
        let object: [String: Any]
        do {
            guard let dictionary = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw TrainingError.format(file: path, field: "(document)", expected: "a JSON object (a network configuration)",
                                           got: "another JSON value")
            }
            object = dictionary
        } catch let error as TrainingError {
            throw error
        } catch {
            throw .format(file: path, field: "(document)", expected: "valid JSON (a network configuration)",
                          got: JSONText.describe(error, in: data))
        }
        let format = object["format"] as? String
        switch format {
        case nil, ChannelConfiguration.format?:
            return try wrap { try ChannelConfiguration.decode(data, file: path) }
        case let kind? where kind.hasPrefix("pfs.pruned-architecture/"):
            guard let inner = object["configuration"], JSONSerialization.isValidJSONObject(inner),
                  let innerData = try? JSONSerialization.data(withJSONObject: inner) else {
                throw .format(file: path, field: "configuration", expected: "the pruned network's configuration", got: "none")
            }
            return try wrap { try ChannelConfiguration.decode(innerData, file: path + " (configuration)") }
        case let kind?:
            let remedy: String
            switch kind {
            case "pfs.gates/1": remedy = "a gates file written by pfs search; cut it to a budget first: pfs prune \(path)"
            case "pfs.channel-scores/1": remedy = "a scores file written by pfs score; cut it to a budget first: pfs prune \(path)"
            case "pfs.study-plan/1": remedy = "a study plan; run it with pfs study --plan \(path)"
            default: remedy = "a \(kind) document"
            }
            throw .format(file: path, field: "format",
                          expected: "a network configuration (\(ChannelConfiguration.format), architecture.json or pfs flops "
                            + "--save) or a pruned architecture (pfs prune)", got: remedy)
        }
    }
}

