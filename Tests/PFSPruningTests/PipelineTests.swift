import Foundation
import PFSData
import PFSModels
import PFSPruning
import PFSTestSupport
import PFSTraining
import Testing

/// The whole method in one call: search → prune → train → evaluate, one candidate per seed.
@Suite struct PipelineTests {
    static func tinySettings(gateEpochs: Int, batchSize: Int) -> PipelineSettings {
        RunFixtures.pipelineSettings(gateEpochs: gateEpochs, batchSize: batchSize)
    }

    @Test func oneCandidatePerSeedWithinTheBudgetAndASummaryOnDisk() throws {
        let data = SyntheticData.dataset(count: 40)
        let normalization = Normalization(mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])
        let parts = try data.split(validationFraction: 0.25, seed: 1)
        let searchData = PreparedData(train: parts.train, validation: parts.validation, test: nil,
                                      normalization: normalization, description: "synthetic")
        let trainData = PreparedData(train: data, validation: nil, test: data, normalization: normalization,
                                     description: "synthetic")
        var settings = Self.tinySettings(gateEpochs: 2, batchSize: 10)
        settings.seeds = [1, 2]
        settings.budget = .keepFraction(0.5)
        settings.uniformBaseline = true
        let directory = NSTemporaryDirectory() + "pfs-pipeline-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var stages: [String] = []
        let report = try Pipeline(settings: settings, directory: directory).run(searchData: searchData,
                                                                               trainData: trainData) { event in
            if case let .stage(seed, name) = event { stages.append("\(name) \(seed.map(String.init) ?? "-")") }
        }
        #expect(stages == ["search 1", "prune 1", "train 1", "search 2", "prune 2", "train 2", "uniform baseline -"])
        #expect(report.candidates.map(\.seed) == [1, 2])
        let standard = try ChannelConfiguration.standard(.resnet20, input: searchData.inputShape, classes: 4)
        for candidate in report.candidates {
            #expect(candidate.pruned.macs.pruned <= ComplexityCounter.totalMACs(standard) / 2)
            #expect(candidate.training.macs == candidate.pruned.macs.pruned)
            #expect(candidate.training.test?.images == 40)
            #expect(FileManager.default.fileExists(atPath: candidate.gatesFile))
            #expect(candidate.pruned.scores.seed == candidate.seed)
            #expect(candidate.pruned.scores.criterion == .randomInitGates)
        }
        #expect(try #require(report.uniform).macs <= ComplexityCounter.totalMACs(standard) / 2)
        #expect(FileManager.default.fileExists(atPath: directory + "/summary.json"))
        #expect(FileManager.default.fileExists(atPath: directory + "/seed2/train/checkpoint.safetensors"))
    }

    /// Run again in the same directory with a budget that prunes to other widths: the earlier
    /// training run there is neither continued nor overwritten, and the error says what to do.
    @Test func aStaleTrainingRunOfOtherWidthsIsRefusedNamingTheDirectory() throws {
        let data = SyntheticData.dataset(count: 24)
        let prepared = PreparedData(train: data, validation: data, test: data, normalization: .identity(channels: 3),
                                    description: "synthetic")
        var settings = Self.tinySettings(gateEpochs: 1, batchSize: 12)
        settings.seeds = [1]
        settings.budget = .keepFraction(0.5)
        let directory = NSTemporaryDirectory() + "pfs-pipeline-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try Pipeline(settings: settings, directory: directory).run(searchData: prepared, trainData: prepared)
        let pruned = try Data(contentsOf: URL(fileURLWithPath: directory + "/seed1/pruned.json"))
        let gates = try Data(contentsOf: URL(fileURLWithPath: directory + "/seed1/gates.json"))
        settings.budget = .keepFraction(0.3)
        defer {   // refused before anything was rewritten: the directory's files still agree
            #expect((try? Data(contentsOf: URL(fileURLWithPath: directory + "/seed1/pruned.json"))) == pruned)
            #expect((try? Data(contentsOf: URL(fileURLWithPath: directory + "/seed1/gates.json"))) == gates)
        }
        do {
            _ = try Pipeline(settings: settings, directory: directory).run(searchData: prepared, trainData: prepared)
            Issue.record("a run of other widths was continued")
        } catch {
            guard case let .staleRun(stale, _) = error else { Issue.record("\(error)"); return }
            #expect(stale == directory + "/seed1/train")
            #expect(error.description.contains("another --out"))
        }
    }

    @Test func duplicateOrMissingSeedsAndBadBudgetsAreRefusedBeforeAnyWork() throws {
        let data = SyntheticData.dataset(count: 20)
        let prepared = PreparedData(train: data, validation: data, test: nil, normalization: .identity(channels: 3),
                                    description: "synthetic")
        var settings = PipelineSettings()
        settings.seeds = [3, 3]
        let pipeline = Pipeline(settings: settings, directory: NSTemporaryDirectory() + "pfs-unused")
        #expect(throws: PruningError.self) { _ = try pipeline.run(searchData: prepared, trainData: prepared) }
        settings.seeds = []
        #expect(throws: PruningError.self) {
            _ = try Pipeline(settings: settings, directory: "unused").run(searchData: prepared, trainData: prepared)
        }
        settings.seeds = [1]
        settings.budget = .keepFraction(1.5)
        #expect(throws: PruningError.setting(field: "keep-macs", expected: "a fraction in (0, 1] of the standard MACs",
                                             got: "1.5")) {
            _ = try Pipeline(settings: settings, directory: "unused").run(searchData: prepared, trainData: prepared)
        }
        // Refused before the directory is touched (it would have been created to lock it).
        #expect(!FileManager.default.fileExists(atPath: "unused"))
    }
}
