import Foundation
import PFSData
import PFSModels
import PFSNN
import PFSTensor
import PFSTestSupport
import PFSTraining
import Testing

/// The training loop, checkpoints and exact resume.
@Suite(.serialized) struct TrainingLoopTests {
    let data = SyntheticData.dataset(count: 40)
    let normalization = Normalization(mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])

    func configuration() throws -> ChannelConfiguration {
        try ChannelConfiguration.standard(.resnet20, input: InputShape(channels: 3, height: 8, width: 8), classes: 4,
                                          widthMultiplier: 0.25)
    }

    func recipe(epochs: Int = 2) -> TrainingRecipe {
        var recipe = TrainingRecipe()
        recipe.epochs = epochs
        recipe.batchSize = 8
        recipe.learningRate = 0.05
        recipe.seed = 3
        return recipe
    }

    func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "pfs-training-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func trainer(_ directory: String?, epochs: Int = 2, train: (any ImageSource)? = nil,
                 validation: (any ImageSource)? = nil) throws -> Trainer {
        let network = try ModelBuilder.build(try configuration(), seed: 3)
        return try Trainer(network: network, recipe: recipe(epochs: epochs), train: train ?? data, validation: validation,
                           normalization: normalization, dataDescription: "synthetic", runDirectory: directory)
    }

    /// 40 PNGs of 10–14 px in 4 class folders, streamed at 8 px (random resized crops for
    /// training, resize 9 + centre crop 8 for evaluation), two decoding workers.
    func streamedFolder(_ root: String) throws -> StreamedImageFolder {
        for i in 0..<40 {
            let (h, w) = (10 + i % 5, 14 - i % 4)
            let pixels = (0..<(h * w * 3)).map { UInt8(truncatingIfNeeded: $0 * 7 + i * 31 + ($0 % 3) * 50) }
            let file = root + "/class\(i % 4)/img\(i).png"
            try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try Data(PNGImage(width: w, height: h, channels: 3, pixels: pixels).encode()).write(to: URL(fileURLWithPath: file))
        }
        return try StreamedImageFolder(index: try ImageFolderIndex.scan(root),
                                       training: .randomResizedCrop(size: 8, scale: 0.08...1, ratio: 0.75...(4.0 / 3), flip: true),
                                       evaluation: .centreCrop(resize: 9, size: 8), workers: 2, window: 2)
    }

    /// `--stream` data: both folder layouts, the seeded split, the part reported, ImageNet statistics.
    @Test func streamedFoldersPrepareBothLayouts() throws {
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = try streamedFolder(root + "/flat")
        let flat = try PreparedData.stream(folder: root + "/flat", size: 16, validationFraction: 0.25, splitSeed: 1)
        #expect(flat.train.count == 28 && flat.validation?.count == 12 && flat.test == nil)   // round(2.5) = 3 per class
        #expect(flat.normalization == .imageNet && flat.inputShape == InputShape(channels: 3, height: 16, width: 16))
        _ = try streamedFolder(root + "/layered/train")
        _ = try streamedFolder(root + "/layered/val")
        let layered = try PreparedData.stream(folder: root + "/layered", size: 16, validationFraction: 0, splitSeed: 1)
        #expect(layered.train.count == 40 && layered.validation == nil && layered.test?.count == 40)
        #expect(layered.train.fingerprint != layered.test?.fingerprint)
        let error = #expect(throws: TrainingError.self) {
            _ = try PreparedData.stream(folder: root + "/flat", size: 16, validationFraction: 1, splitSeed: 1)
        }
        #expect(error?.description.contains("validation fraction") == true)
    }

    /// Training on a folder streamed from disk resumes mid-epoch exactly, as in memory.
    @Test func aStreamedFolderTrainsAndResumesMidEpochExactly() throws {
        let saved = Engine.threads
        Engine.threads = 1
        defer { Engine.threads = saved }
        let root = temporaryDirectory(), a = temporaryDirectory(), b = temporaryDirectory()
        defer { for d in [root, a, b] { try? FileManager.default.removeItem(atPath: d) } }
        let folder = try streamedFolder(root)
        #expect(folder.count == 40 && folder.classCount == 4 && folder.height == 8)
        let uninterrupted = try trainer(a, train: folder, validation: folder)
        let reference = try uninterrupted.run()
        #expect(reference.history.count == 2 && reference.history.allSatisfy { $0.validationAccuracy != nil })
        let stopped = try trainer(b, train: folder, validation: folder)
        stopped.stopAfterSteps = 3                           // inside the first epoch (5 steps)
        #expect(throws: TrainingError.self) { try stopped.run() }
        let resumed = try trainer(b, train: folder, validation: folder)
        try resumed.resume(from: try Checkpoint.read(b))
        let final = try resumed.run()
        #expect(snapshot(resumed.network) == snapshot(uninterrupted.network))
        #expect(final.history.map(\.trainLoss) == reference.history.map(\.trainLoss))
        #expect(final.history.map(\.validationLoss) == reference.history.map(\.validationLoss))
        // A checkpoint of a streamed run is refused on another folder (its fingerprint differs).
        var other = folder
        other.index = other.index.subset(Array(0..<39))
        #expect(other.fingerprint != folder.fingerprint)
    }

    /// A stop request reaches only the runs that share it: the run it was raised for saves and
    /// stops after its current step, another run goes on to the end.
    @Test func aStopRequestStopsOnlyItsOwnRun() throws {
        let a = temporaryDirectory(), b = temporaryDirectory()
        defer { for d in [a, b] { try? FileManager.default.removeItem(atPath: d) } }
        let stopped = try trainer(a), other = try trainer(b)
        stopped.stop.request()
        #expect(!other.stop.isRequested)
        do {
            _ = try stopped.run()
            Issue.record("the run whose stop was requested was not interrupted")
        } catch {
            guard case .interrupted = error else { Issue.record("\(error)"); return }
        }
        #expect(stopped.state.globalStep == 1)           // one step, then saved and stopped
        #expect(FileManager.default.fileExists(atPath: a + "/" + Checkpoint.fileName))
        #expect(try other.run().history.count == 2)
    }

    /// Every tensor that defines the network's function, for bitwise comparison.
    func snapshot(_ network: Network) -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: Checkpoint.networkTensors(network).map { ($0.name, $0.tensor.scalars) })
    }

    @Test func checkpointWrittenAndReadBackGivesIdenticalOutputs() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try trainer(directory, epochs: 1)
        try first.run()                       // weights and BatchNorm statistics away from their init
        let file = Checkpoint.file(at: directory)
        let contents = try Checkpoint.read(file)
        #expect(contents.configuration == (try configuration()))
        #expect(contents.state?.completedEpochs == 1)

        let other = try ModelBuilder.build(try configuration(), seed: 99)
        try Checkpoint.restore(contents, into: other)
        let batch = try #require(try BatchLoader(dataset: data, batchSize: 16, shuffle: false, augmentation: .none,
                                                 normalization: normalization, seed: 0, epoch: 0, prefetch: 0).next())
        let expected = try first.network.forward(batch.images, mode: .evaluation)
        let got = try other.forward(batch.images, mode: .evaluation)
        #expect(got.scalars == expected.scalars)
        #expect(snapshot(other) == snapshot(first.network))
    }

    @Test(arguments: [3, 5, 7])
    func resumeAfterAStopEqualsAnUninterruptedRun(stopAfter: Int) throws {
        let saved = Engine.threads
        Engine.threads = 1
        defer { Engine.threads = saved }
        let uninterruptedDirectory = temporaryDirectory(), resumedDirectory = temporaryDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: uninterruptedDirectory)
            try? FileManager.default.removeItem(atPath: resumedDirectory)
        }
        let uninterrupted = try trainer(uninterruptedDirectory)
        let reference = try uninterrupted.run()

        let stopped = try trainer(resumedDirectory)
        stopped.stopAfterSteps = stopAfter   // 5 steps per epoch: mid-epoch, boundary, second epoch
        #expect(throws: TrainingError.interrupted(file: Checkpoint.file(at: resumedDirectory))) { try stopped.run() }
        let resumed = try trainer(resumedDirectory)
        try resumed.resume(from: try Checkpoint.read(resumedDirectory))
        #expect(resumed.state.globalStep == stopAfter)
        let final = try resumed.run()

        #expect(snapshot(resumed.network) == snapshot(uninterrupted.network))
        #expect(resumed.optimizer.stateTensors() == uninterrupted.optimizer.stateTensors())
        #expect(final.globalStep == reference.globalStep)
        #expect(final.history.map(\.trainLoss) == reference.history.map(\.trainLoss))
        let lines = try String(contentsOfFile: resumedDirectory + "/" + Checkpoint.metricsFileName, encoding: .utf8)
            .split(separator: "\n")
        #expect(lines.count == 2)
    }

    @Test func trainingLowersTheLoss() throws {
        let run = try trainer(nil, epochs: 6).run()
        let losses = run.history.map(\.trainLoss)
        #expect(losses.count == 6)
        #expect(try #require(losses.last) < losses[0] * 0.8)
    }

    @Test func restoreRefusesAnotherConfigurationNamingTheWidth() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let network = try ModelBuilder.build(try configuration(), seed: 1)
        try Checkpoint.save(network, to: directory + "/weights.safetensors")
        var widths = try configuration().prunableWidths
        widths[2] = 1
        let pruned = try ModelBuilder.build(try configuration().withPrunableWidths(widths), seed: 1)
        let contents = try Checkpoint.read(directory + "/weights.safetensors")
        let error = #expect(throws: TrainingError.self) { try Checkpoint.restore(contents, into: pruned) }
        let message = error?.description ?? ""
        #expect(message.contains("widths[") && message.contains("stage1.block3.conv1"))
        #expect(message.contains("weights.safetensors"))
    }

    @Test func resumeRefusesAnotherRecipe() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try trainer(directory, epochs: 1)
        try first.run()
        let longer = try trainer(directory, epochs: 3)
        #expect(throws: TrainingError.self) { try longer.resume(from: try Checkpoint.read(directory)) }
    }

    @Test func badRecipesAreRefusedNamingTheSetting() {
        var recipe = TrainingRecipe()
        recipe.learningRate = -1
        #expect(throws: TrainingError.setting(field: "learning rate", expected: "a positive number", got: "-1.0")) {
            try recipe.validate()
        }
        recipe = TrainingRecipe()
        recipe.epochs = 0
        #expect(throws: TrainingError.setting(field: "epochs", expected: "1 … 100000", got: "0")) { try recipe.validate() }
        recipe = TrainingRecipe()
        recipe.momentum = 1
        #expect(throws: TrainingError.self) { try recipe.validate() }
    }

    @Test func dataOfAnotherShapeOrClassCountIsRefused() throws {
        let network = try ModelBuilder.build(try configuration(), seed: 1)
        let wrongClasses = SyntheticData.dataset(count: 12, classes: 3)
        #expect(throws: TrainingError.self) {
            _ = try Trainer(network: network, recipe: recipe(), train: wrongClasses, validation: nil,
                            normalization: normalization, dataDescription: "x", runDirectory: nil)
        }
        let wrongSize = SyntheticData.dataset(count: 12, classes: 4, height: 10, width: 10)
        #expect(throws: TrainingError.self) {
            _ = try Trainer(network: network, recipe: recipe(), train: wrongSize, validation: nil,
                            normalization: normalization, dataDescription: "x", runDirectory: nil)
        }
    }

    @Test func scratchBScalesEpochsByTheMACRatio() {
        #expect(TrainingRecipe.budgetMatchedEpochs(160, fullMACs: 100, prunedMACs: 50) == 320)
        #expect(TrainingRecipe.budgetMatchedEpochs(30, fullMACs: 125_747_840, prunedMACs: 62_873_920) == 60)
        #expect(TrainingRecipe.budgetMatchedEpochs(10, fullMACs: 100, prunedMACs: 100) == 10)
    }

    @Test func scratchBRecipeUsesTheStandardNetworkOfTheConfiguration() throws {
        let standard = try ChannelConfiguration.standard(.resnet20)
        let narrow = standard.scaled(by: 0.5)
        var recipe = TrainingRecipe()
        recipe.epochs = 20
        let matched = try recipe.budgetMatched(for: narrow)
        let expected = TrainingRecipe.budgetMatchedEpochs(20, fullMACs: ComplexityCounter.totalMACs(standard),
                                                          prunedMACs: ComplexityCounter.totalMACs(narrow))
        #expect(matched.epochs == expected && expected > 60)
        #expect(try recipe.budgetMatched(for: standard).epochs == 20)
    }

    @Test func schedulesFollowTheRecipe() {
        var recipe = TrainingRecipe()
        recipe.epochs = 4
        recipe.schedule = .multistep
        let multi = recipe.learningRateSchedule(stepsPerEpoch: 10)
        #expect(multi.factor(at: 19) == 1 && abs(multi.factor(at: 20) - 0.1) < 1e-7 && abs(multi.factor(at: 30) - 0.01) < 1e-8)
        recipe.schedule = .cosine
        let cosine = recipe.learningRateSchedule(stepsPerEpoch: 10)
        #expect(cosine.factor(at: 0) == 1 && abs(cosine.factor(at: 20) - 0.5) < 1e-6 && cosine.factor(at: 40) < 1e-6)
    }

    /// The ImageNet preset is SPEC §6's recipe: its learning rate follows the batch size, its
    /// warm-up comes before a cosine over the remaining steps, and BatchNorm, biases and depthwise
    /// weights get no weight decay.
    @Test func theImageNetRecipeIsTheReference() throws {
        let recipe = RecipePreset.imagenet.recipe(batchSize: 64)
        #expect(recipe == TrainingRecipe.imageNet(batchSize: 64))
        #expect(recipe.epochs == 150 && recipe.batchSize == 64 && abs(recipe.learningRate - 0.0125) < 1e-9)
        #expect(recipe.nesterov && recipe.momentum == 0.9 && recipe.weightDecay == 4e-5 && recipe.labelSmoothing == 0.1)
        #expect(recipe.schedule == .cosine && recipe.warmupEpochs == 5 && recipe.noWeightDecayOn == [.batchNorm, .bias, .depthwise])
        #expect(RecipePreset.imagenet.recipe().learningRate == 0.05 && RecipePreset.cifar.recipe() == TrainingRecipe())
        try recipe.validate()

        // 5 warm-up epochs of 10 steps: (s+1)/50, then a cosine over the other 1,450 steps.
        let schedule = recipe.learningRateSchedule(stepsPerEpoch: 10)
        #expect(schedule.factor(at: 0) == 1 / 50 && schedule.factor(at: 24) == 25 / 50 && schedule.factor(at: 49) == 1)
        #expect(schedule.factor(at: 50) == 1 && abs(schedule.factor(at: 50 + 725) - 0.5) < 1e-6 && schedule.factor(at: 1500) < 1e-6)

        let decay = recipe.weightDecaySetting
        #expect(decay.rate == 4e-5 && decay.excludedRoles == [.batchNormScale, .batchNormShift, .bias, .depthwiseWeight])
        #expect(TrainingRecipe().weightDecaySetting == WeightDecay(5e-4))
    }

    /// The trainer's optimiser gives exempt parameters no weight decay and the others the recipe's.
    @Test func exemptParametersAreNotDecayed() throws {
        var recipe = recipe(epochs: 1)
        recipe.weightDecay = 0.5
        recipe.noWeightDecayOn = [.batchNorm, .bias]
        let network = try ModelBuilder.build(try configuration(), seed: 3)
        let trainer = try Trainer(network: network, recipe: recipe, train: data, validation: nil,
                                  normalization: normalization, dataDescription: "synthetic", runDirectory: nil)
        let sgd = try #require(trainer.optimizer as? SGD)
        let bn = try #require(network.parameters.first { $0.role == .batchNormScale })
        let conv = try #require(network.parameters.first { $0.role == .weight })
        #expect(sgd.weightDecay.rate(for: bn) == 0 && sgd.weightDecay.rate(for: conv) == 0.5)
    }

    /// Recipes written before the exemptions and the warm-up existed still decode (and resume):
    /// the new fields take their defaults. Bad values of the new fields are named.
    @Test func olderRecipesDecodeAndNewFieldsAreChecked() throws {
        let old = """
            {"epochs": 3, "batchSize": 8, "learningRate": 0.05, "momentum": 0.9, "nesterov": false, "weightDecay": 0.0005,
             "schedule": "cosine", "labelSmoothing": 0, "augment": true, "seed": 3}
            """
        let decoded = try JSONDecoder().decode(TrainingRecipe.self, from: Data(old.utf8))
        #expect(decoded == recipe(epochs: 3))
        let roundTrip = try JSONDecoder().decode(TrainingRecipe.self, from: JSONEncoder().encode(TrainingRecipe.imageNet()))
        #expect(roundTrip == TrainingRecipe.imageNet())

        var recipe = recipe(epochs: 3)
        recipe.warmupEpochs = 3
        #expect(throws: TrainingError.setting(field: "warm-up epochs", expected: "0 … 2 (fewer than the epochs)", got: "3")) {
            try recipe.validate()
        }
        recipe.warmupEpochs = 0
        recipe.noWeightDecayOn = [.bias, .batchNorm]
        #expect(throws: TrainingError.self) { try recipe.validate() }
    }

    /// The step observer sees every step; when it asks, a checkpoint is written at that position;
    /// its own time (here a 0.4 s sleep per step) is not counted as training time.
    @Test func theStepObserverCanAskForACheckpointAndIsNotTrainingTime() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let trainer = try trainer(directory, epochs: 1)   // 40 images, batch 8: 5 steps
        var seen: [Int] = []
        var positionAtStep3: Int?
        trainer.stepObserver = { state in
            seen.append(state.globalStep)
            if state.globalStep == 4 { positionAtStep3 = (try? Checkpoint.read(directory))?.state?.stepInEpoch }
            Thread.sleep(forTimeInterval: 0.4)
            return state.globalStep == 3
        }
        try trainer.run()
        #expect(seen == [1, 2, 3, 4, 5])
        #expect(positionAtStep3 == 3)
        let seconds = try #require(trainer.state.history.first?.seconds)
        #expect(seconds < 1.6, "observer time counted as training: \(seconds) s for 5 steps with 2 s of sleeping")
    }

    /// A data source whose every batch takes 0.25 s to arrive: the epoch records that wait as
    /// data-wait time, inside its training time.
    @Test func timeWaitingForBatchesIsRecorded() throws {
        final class SlowStream: BatchStream {
            let inner: any BatchStream
            init(_ inner: any BatchStream) { self.inner = inner }
            var batchCount: Int { inner.batchCount }
            func nextBatch() throws(DataError) -> Batch? {
                Thread.sleep(forTimeInterval: 0.25)
                return try inner.nextBatch()
            }
            func cancel() { inner.cancel() }
        }
        struct SlowSource: ImageSource {
            let inner: ImageDataset
            var count: Int { inner.count }
            var channels: Int { inner.channels }
            var height: Int { inner.height }
            var width: Int { inner.width }
            var classCount: Int { inner.classCount }
            var source: String { "slow" }
            var fingerprint: String { inner.fingerprint }
            func batches(batchSize: Int, shuffle: Bool, augment: Bool, normalization: Normalization, seed: UInt64,
                         epoch: Int, startBatch: Int) throws(DataError) -> any BatchStream {
                SlowStream(try inner.batches(batchSize: batchSize, shuffle: shuffle, augment: augment,
                                             normalization: normalization, seed: seed, epoch: epoch, startBatch: startBatch))
            }
        }
        let trainer = try trainer(nil, epochs: 1, train: SlowSource(inner: data))   // 40 images, batch 8: 5 waits for a batch
        try trainer.run()
        let record = try #require(trainer.state.history.first)
        let wait = try #require(record.dataWaitSeconds)
        #expect(wait >= 1.25 && wait <= record.seconds, "waited \(wait) s of \(record.seconds) s")
        #expect(trainer.state.partialWaitSeconds == nil)
    }

    @Test func aJobRefusesToOverwriteARunWithoutResume() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let prepared = PreparedData(train: data, validation: nil, test: data, normalization: normalization,
                                    description: "synthetic")
        var job = TrainingJob(configuration: try configuration(), recipe: recipe(epochs: 1), data: prepared,
                              runDirectory: directory, resume: false)
        let result = try job.run()
        #expect(result.test?.images == 40)
        #expect(FileManager.default.fileExists(atPath: directory + "/result.json"))
        #expect(throws: TrainingError.self) { _ = try job.run() }
        job.resume = true
        let again = try job.run()     // already finished: resumes, trains nothing, reports the same weights
        #expect(again.test == result.test)
    }

    /// `keepEpochs`: snapshots of the initial weights and of chosen epochs, also across a resume.
    @Test func keptEpochsAreSnapshotsOfThoseEpochsWeights() throws {
        let saved = Engine.threads
        Engine.threads = 1
        defer { Engine.threads = saved }
        let directory = temporaryDirectory(), reference = temporaryDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: reference)
        }
        let initial = snapshot(try trainer(nil, epochs: 3).network)
        let stopped = try trainer(directory, epochs: 3)
        stopped.keepEpochs = [0, 1, 3]
        stopped.stopAfterSteps = 7        // 5 steps per epoch: inside epoch 2
        #expect(throws: TrainingError.self) { try stopped.run() }
        #expect(FileManager.default.fileExists(atPath: directory + "/epoch-0.safetensors"))
        #expect(FileManager.default.fileExists(atPath: directory + "/epoch-1.safetensors"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/epoch-2.safetensors"))
        let resumed = try trainer(directory, epochs: 3)
        resumed.keepEpochs = [0, 1, 3]
        try resumed.resume(from: try Checkpoint.read(directory))
        try resumed.run()

        let zero = try ModelBuilder.build(try configuration(), seed: 0)
        try Checkpoint.restore(try Checkpoint.read(directory + "/epoch-0.safetensors"), into: zero)
        #expect(snapshot(zero) == initial)
        let uninterrupted = try trainer(reference, epochs: 1)
        try uninterrupted.run()
        let one = try ModelBuilder.build(try configuration(), seed: 0)
        try Checkpoint.restore(try Checkpoint.read(directory + "/epoch-1.safetensors"), into: one)
        #expect(try Checkpoint.read(directory + "/epoch-1.safetensors").state?.completedEpochs == 1)
        let three = try ModelBuilder.build(try configuration(), seed: 0)
        try Checkpoint.restore(try Checkpoint.read(directory + "/epoch-3.safetensors"), into: three)
        #expect(snapshot(three) == snapshot(resumed.network))
        #expect(!FileManager.default.fileExists(atPath: directory + "/epoch-2.safetensors"))
        // Epoch 1 of a 3-epoch run has its learning rate schedule, so compare with the run's own state.
        #expect(snapshot(one) != initial && snapshot(one) != snapshot(three))
    }

    /// A penalty's value is added to the step's loss and recorded per epoch.
    @Test func penaltiesAreRecordedPerEpoch() throws {
        final class Constant: TrainingPenalty {
            let name = "constant"
            var calls = 0
            func value() -> Double { 0.25 }
            func accumulateGradient() -> Double { calls += 1; return 0.25 }
        }
        let network = try ModelBuilder.build(try configuration(), seed: 3)
        let penalty = Constant()
        let trainer = try Trainer(network: network, recipe: recipe(epochs: 2), train: data, validation: nil,
                                  normalization: normalization, dataDescription: "synthetic", runDirectory: nil,
                                  penalties: [penalty])
        var stepPenalties: [Double] = []
        let state = try trainer.run { event in
            if case let .step(_, _, _, _, penalty, _, _) = event { stepPenalties.append(penalty) }
        }
        #expect(penalty.calls == 10)
        #expect(state.history.map(\.penalty) == [0.25, 0.25])
        #expect(stepPenalties.allSatisfy { abs($0 - 0.25) < 1e-12 })
    }
}
