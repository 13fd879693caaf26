import Foundation
import PFSData
import PFSModels
import PFSPruning
import PFSTraining

/// Tiny but real runs of the pipeline and the study, on synthetic 8×8 images, for tests of what
/// reads run directories (resume, reports).
public enum RunFixtures {
    public static let normalization = Normalization(mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])
    public static let images = SyntheticData.dataset(count: 40)

    /// 75 % / 25 % of ``images`` (stratified): the split of searches and pretraining.
    public static func searchData() throws -> PreparedData {
        let parts = try images.split(validationFraction: 0.25, seed: 1)
        return PreparedData(train: parts.train, validation: parts.validation, test: nil, normalization: normalization,
                            description: "synthetic")
    }

    /// All of ``images``, as training and test data.
    public static var trainData: PreparedData {
        PreparedData(train: images, validation: nil, test: images, normalization: normalization, description: "synthetic")
    }

    /// ResNet-20 with a short search and one training epoch of batch `batchSize`.
    public static func pipelineSettings(gateEpochs: Int, batchSize: Int) -> PipelineSettings {
        var settings = PipelineSettings()
        settings.architecture = .resnet20
        settings.gate.epochs = gateEpochs
        settings.gate.batchSize = batchSize
        settings.recipe.epochs = 1
        settings.recipe.batchSize = batchSize
        return settings
    }

    /// Every source of a study, tiny runs: 2 pretraining epochs, 1 search epoch, 1 training epoch,
    /// batches of 10, two training seeds.
    public static func studyPlan() -> StudyPlan {
        var recipe = StudyPlan.Recipe(epochs: 1)
        recipe.batchSize = 10
        var plan = StudyPlan(architecture: .resnet20,
                             sources: [.randomInitGates(seeds: [1]), .checkpointGates(epochs: [.epoch(1), .final]),
                                       .networkSlimming(sparsity: 1e-3), .l1Norm(epoch: .final), .random(seeds: [1]),
                                       .uniform],
                             training: recipe)
        var pretraining = recipe
        pretraining.epochs = 2
        plan.pretraining = pretraining
        plan.search.epochs = 1
        plan.search.batchSize = 10
        plan.trainingSeeds = [1, 2]
        return plan
    }

    /// A fresh directory path under the temporary directory (not created).
    public static func temporaryDirectory(_ prefix: String) -> String {
        NSTemporaryDirectory() + "pfs-\(prefix)-\(UUID().uuidString)"
    }

    /// A finished two-seed pipeline with the uniform baseline in `directory`.
    @discardableResult
    public static func pipeline(in directory: String) throws -> PipelineReport {
        var settings = pipelineSettings(gateEpochs: 2, batchSize: 10)
        settings.seeds = [1, 2]
        settings.uniformBaseline = true
        return try Pipeline(settings: settings, directory: directory).run(searchData: try searchData(), trainData: trainData)
    }
}

extension RunFixtures {
    /// Writes ``images`` (or `count` synthetic images) as `root/classK/NNN.png` (`train/` and
    /// `test/` when `split`), for tests that run the `pfs` command on an image folder.
    public static func writeImageFolder(at root: String, count: Int = 40, split: Bool = false) throws {
        let data = count == images.count ? images : SyntheticData.dataset(count: count)
        let plane = data.height * data.width
        for part in split ? ["train/", "test/"] : [""] {
            for i in 0..<data.count {
                let folder = root + "/" + part + data.classNames[data.labels[i]]
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                var interleaved = [UInt8](repeating: 0, count: plane * data.channels)
                for c in 0..<data.channels {
                    for p in 0..<plane { interleaved[p * data.channels + c] = data.pixels[(i * data.channels + c) * plane + p] }
                }
                let png = PNGImage(width: data.width, height: data.height, channels: data.channels, pixels: interleaved).encode()
                try Data(png).write(to: URL(fileURLWithPath: folder + String(format: "/%03d.png", i)))
            }
        }
    }
}
