import Foundation
import PFSData
import PFSModels
import PFSNN
import PFSPruning
import PFSTensor
import PFSTestSupport
import PFSTraining
import Testing

/// One test (or more) per class of bad input the hardening issue found: each failed before the fix.
@Suite(.serialized) struct InputErrorTests {
    static func small() throws -> ChannelConfiguration {
        try ChannelConfiguration.standard(.resnet20, input: InputShape(channels: 3, height: 8, width: 8), classes: 4,
                                          widthMultiplier: 0.25)
    }

    static func recipe(epochs: Int = 1) -> TrainingRecipe {
        var recipe = TrainingRecipe()
        recipe.epochs = epochs
        recipe.batchSize = 10
        return recipe
    }

    // MARK: 1. Sizes checked before memory is taken

    @Test func hugeWidthsAreRefusedBeforeAnythingIsAllocated() throws {
        var widths = try Self.small().prunableWidths
        widths[0] = 1_000_000_000
        let error = #expect(throws: ModelError.self) { _ = try Self.small().withPrunableWidths(widths).validate() }
        #expect(error?.description.contains("1 … 1048576 channels") == true)

        // Valid as a configuration: VGG-11 with two widths of 100,000 channels; its 3×3 convolution
        // between them alone has 9·10¹⁰ weights, far more memory than any machine has.
        let vgg = try ChannelConfiguration.standard(.vgg11, input: InputShape(channels: 3, height: 16, width: 16), classes: 4,
                                                    widthMultiplier: 0.25)
        var vggWidths = vgg.prunableWidths
        vggWidths[0] = 100_000
        vggWidths[1] = 100_000
        let wide = try vgg.withPrunableWidths(vggWidths)
        try wide.validate()
        let directory = RunFixtures.temporaryDirectory("memory")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let job = TrainingJob(configuration: wide, recipe: Self.recipe(), data: RunFixtures.trainData, runDirectory: directory,
                              resume: false)
        let refused = #expect(throws: TrainingError.self) { _ = try job.run() }
        guard case let .memory(_, needed, available, remedy)? = refused else { Issue.record("\(String(describing: refused))"); return }
        #expect(needed > available && remedy.contains("--batch-size"))
        #expect(refused?.description.contains("GiB") == true)

        // Sizes whose MAC count overflows 64 bits are refused by validate(), not trapped.
        var overflow = try ChannelConfiguration.standard(.vgg16)
        overflow.input = InputShape(channels: 3, height: 32_768, width: 32_768)
        overflow.widths = overflow.widths.map { Width(name: $0.name, channels: 1 << 20, prunable: $0.prunable) }
        #expect(throws: ModelError.self) { try overflow.validate() }
    }

    @Test func theMemoryEstimateIsOfTheRightOrder() throws {
        let resnet56 = try ChannelConfiguration.standard(.resnet56)
        let estimate = MemoryEstimate.training(resnet56, batch: 128, threads: 2)
        // Measured peak resident memory of the benchmark's ResNet-56 training step at batch 128: 633 MB.
        #expect(estimate.totalBytes > 0.6 * 633e6 && estimate.totalBytes < 2.5 * 633e6, "\(estimate)")
        let inference = MemoryEstimate.inference(resnet56, batch: 128, threads: 2)
        #expect(inference.totalBytes < estimate.totalBytes / 2)
    }

    @Test func anImageSizeTooLargeForMemoryIsRefused() throws {
        let error = #expect(throws: DataError.self) { _ = try DataSource.bundled.load(.test, imageSize: (20_000, 20_000)) }
        #expect(error?.description.contains("lower --image-size") == true)
        #expect(throws: DataError.self) { _ = try DataSource.bundled.load(.test, imageSize: (1 << 20, 8)) }
    }

    // MARK: 2. A run is tied to its data

    @Test func resumingOnOtherDataOfTheSameSizeIsRefused() throws {
        let directory = RunFixtures.temporaryDirectory("fingerprint")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var data = RunFixtures.trainData
        var job = TrainingJob(configuration: try Self.small(), recipe: Self.recipe(epochs: 2), data: data,
                              runDirectory: directory, resume: false)
        let trainer = try Trainer(network: try ModelBuilder.build(try Self.small(), seed: 1), recipe: Self.recipe(epochs: 2),
                                  train: data.train, validation: nil, normalization: data.normalization,
                                  dataDescription: "synthetic", runDirectory: directory)
        trainer.stopAfterSteps = 2
        #expect(throws: TrainingError.self) { try trainer.run() }
        // Same count, same shape, other pixels.
        data.train = SyntheticData.dataset(count: 40, seed: 99)
        data.description = "other synthetic"
        job.data = data
        job.resume = true
        let error = #expect(throws: TrainingError.self) { _ = try job.run() }
        #expect(error?.description.contains("training data") == true)
        #expect(error?.description.contains("synthetic (40×3×8×8 fnv1a:") == true)
        #expect(SyntheticData.dataset(count: 40).fingerprint == RunFixtures.images.fingerprint)
        #expect(SyntheticData.dataset(count: 40, seed: 99).fingerprint != RunFixtures.images.fingerprint)
    }

    // MARK: 3. Evaluation checks what it evaluates

    @Test func evaluationRefusesOtherShapesOtherClassesAndNonFiniteWeights() throws {
        let network = try ModelBuilder.build(try Self.small(), seed: 1)
        let wrongClasses = SyntheticData.dataset(count: 10, classes: 3)
        #expect(throws: TrainingError.self) {
            _ = try Evaluator.evaluate(network, on: wrongClasses, normalization: RunFixtures.normalization)
        }
        let wrongSize = SyntheticData.dataset(count: 10, height: 12, width: 12)
        #expect(throws: TrainingError.self) {
            _ = try Evaluator.evaluate(network, on: wrongSize, normalization: RunFixtures.normalization)
        }
        let directory = RunFixtures.temporaryDirectory("nan")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        network.parameters[3].value.withUnsafeMutableBufferPointer { $0[1] = .nan }
        try Checkpoint.save(network, to: directory + "/nan.safetensors")
        let other = try ModelBuilder.build(try Self.small(), seed: 2)
        let error = #expect(throws: TrainingError.self) { try Checkpoint.restore(try Checkpoint.read(directory + "/nan.safetensors"), into: other) }
        #expect(error?.description.contains(network.parameters[3].name) == true)
        // Outputs that are not finite (weights set in memory) are an error, not "loss nan".
        let outputs = #expect(throws: TrainingError.self) {
            _ = try Evaluator.evaluate(network, on: RunFixtures.images, normalization: RunFixtures.normalization)
        }
        #expect(outputs?.description.contains("finite") == true)
    }

    // MARK: 4. One writer per directory

    @Test func aSecondRunIntoALockedDirectoryIsRefusedAndALockDiesWithItsHolder() throws {
        let directory = RunFixtures.temporaryDirectory("lock")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try RunDirectoryLock.acquire(directory)
        let job = TrainingJob(configuration: try Self.small(), recipe: Self.recipe(), data: RunFixtures.trainData,
                              runDirectory: directory, resume: false)
        let error = #expect(throws: TrainingError.self) { _ = try job.run() }
        guard case let .locked(locked, holder)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(locked == directory && holder.contains("pid \(getpid())"))
        first.release()
        _ = try job.run()           // released: the next run goes ahead
    }

    // MARK: 5. Files are what they claim to be

    @Test func aGatesFileIsNotAConfigurationAndGatesMustBeInTheUnitInterval() throws {
        let directory = RunFixtures.temporaryDirectory("kinds")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = try Self.small()
        let gates = configuration.prunableWidths.map { [Float](repeating: 0.5, count: $0) }
        var result = GateSearchResult(configuration: configuration, settings: GateSearchSettings(),
                                      source: .randomInitialization(seed: 1), data: "x",
                                      history: [GateEpoch(epoch: 1, trainLoss: 1, objective: 1, trainAccuracy: 0, validationLoss: 1,
                                                          validationAccuracy: 0, meanGate: 0.5, nonZeroFraction: 1, seconds: 1,
                                                          imagesPerSecond: 1, gates: gates)],
                                      selection: GateSelection(epoch: 1, rule: .lastEpochNoneSparse), complete: true, seconds: 1)
        try result.save(to: directory + "/gates.json")
        let error = #expect(throws: TrainingError.self) { _ = try ConfigurationFile.read(directory + "/gates.json") }
        #expect(error?.description.contains("pfs prune") == true)
        // Gates outside [0, 1] are refused, naming the epoch, layer and channel.
        result.history[0].gates[2][1] = 1.5
        try result.save(to: directory + "/bad-gates.json")
        let range = #expect(throws: PruningError.self) { _ = try GateSearchResult.load(directory + "/bad-gates.json") }
        #expect(range?.description.contains("history[0].gates[2][1]") == true)
        // Every configuration says its kind; a wrong one is refused by name.
        let text = String(decoding: configuration.jsonData(), as: UTF8.self)
        #expect(text.contains("\"format\" : \"pfs.configuration/1\""))
        let other = text.replacingOccurrences(of: "pfs.configuration/1", with: "pfs.configuration/9")
        try Data(other.utf8).write(to: URL(fileURLWithPath: directory + "/other.json"))
        let kind = #expect(throws: TrainingError.self) { _ = try ConfigurationFile.read(directory + "/other.json") }
        #expect(kind?.description.contains("pfs.configuration/9") == true)
        // A configuration of an earlier version (no format) still reads.
        let old = text.replacingOccurrences(of: "\"format\" : \"pfs.configuration/1\",", with: "")
        try Data(old.utf8).write(to: URL(fileURLWithPath: directory + "/old.json"))
        #expect(try ConfigurationFile.read(directory + "/old.json") == configuration)
    }

    // MARK: 6. Nothing overwritten before a run is valid; interrupted writes cleaned up

    @Test func temporaryFilesOfInterruptedWritesAreRemovedByTheNextRun() throws {
        let directory = RunFixtures.temporaryDirectory("tmpfiles")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let stale = directory + "/.checkpoint.safetensors.tmp-999999"
        try Data(repeating: 7, count: 4096).write(to: URL(fileURLWithPath: stale))
        try Data("keep".utf8).write(to: URL(fileURLWithPath: directory + "/notes.txt"))
        let job = TrainingJob(configuration: try Self.small(), recipe: Self.recipe(), data: RunFixtures.trainData,
                              runDirectory: directory, resume: false)
        _ = try job.run()
        #expect(!FileManager.default.fileExists(atPath: stale))
        #expect(FileManager.default.fileExists(atPath: directory + "/notes.txt"))
        let left = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".tmp-") }
        #expect(left.isEmpty, "\(left)")
    }

    // MARK: 7. Data edge cases

    @Test func anEmptyClassFolderIsRefusedInBothLayouts() throws {
        let root = RunFixtures.temporaryDirectory("folders")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try RunFixtures.writeImageFolder(at: root + "/flat", count: 8)
        try RunFixtures.writeImageFolder(at: root + "/split", count: 8, split: true)
        for layout in ["flat", "split/train"] {
            try FileManager.default.createDirectory(atPath: root + "/\(layout)/zebra", withIntermediateDirectories: true)
        }
        for (layout, folder) in [("flat", "flat/zebra"), ("split", "split/train/zebra")] {
            let source = try DataSource.resolve(path: root + "/" + layout, kind: nil)
            let error = #expect(throws: DataError.self) { _ = try source.load(.train) }
            #expect(error?.description.contains(folder) == true, "\(layout): \(String(describing: error))")
        }
        // The test part may lack a class.
        try FileManager.default.removeItem(atPath: root + "/split/train/zebra")
        try FileManager.default.removeItem(atPath: root + "/split/test/class3")
        let source = try DataSource.resolve(path: root + "/split", kind: nil)
        #expect(try source.load(.test).classCount == 4)
    }

    // MARK: 8. Clear words

    @Test func jsonErrorsGiveLineAndColumnAndRemediesOnlyWhenTheyApply() throws {
        let directory = RunFixtures.temporaryDirectory("words")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data("{\n  \"architecture\": \"resnet20\",,\n}".utf8).write(to: URL(fileURLWithPath: directory + "/bad.json"))
        let error = #expect(throws: TrainingError.self) { _ = try ConfigurationFile.read(directory + "/bad.json") }
        #expect(error?.description.contains("line 2, column") == true, "\(String(describing: error))")
        let plan = #expect(throws: PruningError.self) {
            _ = try StudyPlan.decode(Data("{\"format\": \"pfs.study-plan/1\",\n\n  \"architecture\" \"vgg16\"}".utf8), file: "p.json")
        }
        #expect(plan?.description.contains("line 3, column") == true, "\(String(describing: plan))")
        #expect(!PruningError.infeasibleBudget(budgetMACs: 1, minimumMACs: 5, minChannels: 1).description.contains("--min-channels"))
        #expect(PruningError.infeasibleBudget(budgetMACs: 1, minimumMACs: 5, minChannels: 4).description.contains("--min-channels"))
        // File-system errors name the path and the system's reason.
        try Data("x".utf8).write(to: URL(fileURLWithPath: directory + "/file"))
        let io = #expect(throws: TrainingError.self) { try AtomicFile.write(Data(), to: directory + "/file/inside/x.json") }
        #expect(io?.description.contains(directory + "/file") == true)
        #expect(io?.description.contains("error 512") == false && io?.description.contains("a file of that name exists") == true)
    }
}
