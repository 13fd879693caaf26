import Foundation
import PFSData
import PFSModels

/// The data of a run: training part, optional validation part (split off the training data with
/// a seed), optional test part, and the per-channel normalisation every image gets.
public struct PreparedData: Sendable {
    public var train: ImageDataset
    public var validation: ImageDataset?
    /// Read only to report; nil when the source has no test part (an image folder without `test/`).
    public var test: ImageDataset?
    public var normalization: Normalization
    /// E.g. "bundled CIFAR-10 sample" or "cifar10 at /data/cifar".
    public var description: String

    public init(train: ImageDataset, validation: ImageDataset?, test: ImageDataset?, normalization: Normalization,
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

    static func folderHasTestPart(_ source: DataSource) -> Bool {
        guard let path = source.path else { return false }
        var isDirectory: ObjCBool = false
        let test = (path as NSString).appendingPathComponent("test")
        return FileManager.default.fileExists(atPath: test, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}

/// Reads a channel configuration from a JSON file: either a bare configuration (as `pfs flops
/// --save` or `architecture.json` write it) or a document with a `configuration` member (a pruned
/// architecture written by `pfs prune`).
public enum ConfigurationFile {
    public static func read(_ path: String) throws(TrainingError) -> ChannelConfiguration {
        let data = try AtomicFile.read(path)
        if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let inner = object["configuration"], JSONSerialization.isValidJSONObject(inner),
           let innerData = try? JSONSerialization.data(withJSONObject: inner) {
            return try wrap { try ChannelConfiguration.decode(innerData, file: path + " (configuration)") }
        }
        return try wrap { try ChannelConfiguration.decode(data, file: path) }
    }
}
