import Foundation
import PFSData
import PFSModels
import PFSPruning
import PFSTensor
import PFSTestSupport
import PFSTraining
import Testing

/// `pfs study`: plans, every source end to end, interruption and resume, conflicts with a changed plan.
@Suite(.serialized) struct StudyTests {
    static func tinyPlan() -> StudyPlan { RunFixtures.studyPlan() }
    static var trainData: PreparedData { RunFixtures.trainData }
    static func searchData() throws -> PreparedData { try RunFixtures.searchData() }

    static func temporaryDirectory() -> String { RunFixtures.temporaryDirectory("study") }

    /// Runs with one thread (bit-identical arithmetic across interruptions), recording the stages.
    static func run(_ plan: StudyPlan, in directory: String, stopAtStep: Int? = nil)
        throws(PruningError) -> (report: StudyReport, stages: [(String, StudyEvent.StageState)]) {
        let saved = Engine.threads
        Engine.threads = 1
        defer { Engine.threads = saved }
        var stages: [(String, StudyEvent.StageState)] = []
        var steps = 0
        var study = Study(plan: plan, directory: directory)
        let stop = StopRequest()   // this study's alone: tests running beside it go on
        study.stop = stop
        let report = try study.run(searchData: try searchDataOrFail(), trainData: trainData) { event in
            switch event {
            case let .stage(_, _, name, state, _): stages.append((name, state))
            case .search(.step), .train(.step):
                steps += 1
                if steps == stopAtStep { stop.request() }
            default: break
            }
        }
        return (report, stages)
    }

    static func searchDataOrFail() throws(PruningError) -> PreparedData {
        do { return try searchData() } catch { throw PruningError(wrapping: error) }
    }

    /// Runs that must not change across an interruption: structures and test results.
    static func outcome(_ report: StudyReport) -> [String] {
        report.rows.map { "\($0.structure) \($0.scheme.rawValue) seed \($0.trainingSeed): \($0.macs) MACs, "
            + "acc \($0.testAccuracy ?? -1), loss \($0.testLoss ?? -1)" }
    }

    @Test func aStudyInterruptedTwiceAndRerunEqualsAnUninterruptedOne() throws {
        let plan = Self.tinyPlan()
        let reference = Self.temporaryDirectory(), resumed = Self.temporaryDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: reference)
            try? FileManager.default.removeItem(atPath: resumed)
        }
        let full = try Self.run(plan, in: reference)
        #expect(full.report.complete)
        #expect(full.report.rows.count == plan.structures.count * 2)
        #expect(full.stages.allSatisfy { $0.1 == .start })
        for name in ["results.csv", "results.json", "similarity.csv", "summary.txt", "plan.json",
                     "pretrain/epoch-1.safetensors", "pretrain/epoch-2.safetensors",
                     "scores/random-init-gates-seed1/gates.json", "scores/checkpoint-gates-epoch2/scores.json",
                     "structures/keep50/uniform/pruned.json", "training/keep50/random-seed1/scratch-e-seed2/result.json"] {
            #expect(FileManager.default.fileExists(atPath: reference + "/" + name), "\(name)")
        }
        // Every structure within the budget; the report's tables cover every structure.
        let budgetMACs = ComplexityCounter.totalMACs(try ChannelConfiguration.standard(
            .resnet20, input: Self.trainData.inputShape, classes: 4)) / 2
        #expect(full.report.rows.allSatisfy { $0.macs <= budgetMACs })
        #expect(full.report.summary.count == plan.structures.count)
        #expect(full.report.summary.allSatisfy { $0.runs == 2 && $0.stdAccuracy != nil })
        #expect(full.report.similarity.first?.structures.count == plan.structures.count)
        let costs = Dictionary(uniqueKeysWithValues: full.report.costs.map { ($0.structure, $0) })
        let split = try Self.searchData().train.count      // 28 of the 40 images (stratified 75 %)
        #expect(costs["checkpoint-gates-epoch1"]!.pretrainingImages == split)     // 1 pretraining epoch
        #expect(costs["checkpoint-gates-epoch1"]!.scoringImages == split)         // 1 search epoch
        #expect(costs["l1-norm-epoch2"]!.pretrainingImages == 2 * split)
        #expect(costs["random-init-gates-seed1"]!.scoringImages == split && costs["random-init-gates-seed1"]!.pretrainingImages == 0)
        #expect(costs["uniform"]!.totalSeconds == 0)
        let csv = try String(contentsOfFile: reference + "/results.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 1 + full.report.rows.count)

        // First interruption: inside the first search (stage 3); second: inside a training run.
        let searchStep = 6 + 6 + 1     // pretraining and slimming take 6 steps each (2 epochs of 28 images / 10)
        #expect(throws: PruningError.self) { _ = try Self.run(plan, in: resumed, stopAtStep: searchStep) }
        #expect(FileManager.default.fileExists(atPath: resumed + "/scores/random-init-gates-seed1/search/checkpoint.safetensors"))
        #expect(!FileManager.default.fileExists(atPath: resumed + "/scores/random-init-gates-seed1/scores.json"))
        let second: (report: StudyReport, stages: [(String, StudyEvent.StageState)])
        do {
            _ = try Self.run(plan, in: resumed, stopAtStep: 19)
            Issue.record("the second run was not interrupted")
            return
        } catch {
            guard case .training(.interrupted) = error else { Issue.record("\(error)"); return }
        }
        let pretrainResult = try Data(contentsOf: URL(fileURLWithPath: resumed + "/pretrain/result.json"))
        second = try Self.run(plan, in: resumed)
        // Nothing finished is redone: the last run skipped everything up to the interrupted stage, which resumed.
        let firstRun = try #require(second.stages.firstIndex { $0.1 != .skip })
        #expect(second.stages[firstRun].1 == .resume, "\(second.stages[firstRun])")
        #expect(firstRun > 0 && second.stages[..<firstRun].allSatisfy { $0.1 == .skip })
        #expect(try Data(contentsOf: URL(fileURLWithPath: resumed + "/pretrain/result.json")) == pretrainResult)
        #expect(second.report.complete)
        #expect(Self.outcome(second.report) == Self.outcome(full.report))
        for s in plan.structures {
            let a = try PrunedArchitecture.load(reference + "/structures/keep50/\(s.id)/pruned.json")
            let b = try PrunedArchitecture.load(resumed + "/structures/keep50/\(s.id)/pruned.json")
            #expect(a.configuration == b.configuration && a.kept == b.kept, "\(s.id)")
        }

        // A third run finds everything done.
        let third = try Self.run(plan, in: resumed)
        #expect(third.stages.allSatisfy { $0.1 == .skip })
        #expect(Self.outcome(third.report) == Self.outcome(full.report))
    }

    @Test func aChangedPlanIsRefusedNamingTheRunAndTheFieldButNewStructuresAreAdded() throws {
        var plan = Self.tinyPlan()
        plan.sources = [.randomInitGates(seeds: [1]), .uniform]
        plan.trainingSeeds = [1]
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try Self.run(plan, in: directory)
        let results = try Data(contentsOf: URL(fileURLWithPath: directory + "/results.json"))

        var longer = plan
        longer.training.epochs = 2
        let error = #expect(throws: PruningError.self) { _ = try Self.run(longer, in: directory) }
        guard case let .planConflict(run, field, recorded, planned)? = error else {
            Issue.record("expected a plan conflict, got \(String(describing: error))")
            return
        }
        #expect(run == directory + "/training/keep50/random-init-gates-seed1/scratch-e-seed1")
        #expect(field == "training.epochs" && recorded == "1" && planned == "2")
        #expect(error?.description.contains("another --out") == true)
        // Refused before any work: nothing was rewritten.
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory + "/results.json")) == results)

        var lambda = plan
        lambda.search.lambda = 0.3
        let searchError = #expect(throws: PruningError.self) { _ = try Self.run(lambda, in: directory) }
        guard case let .planConflict(searchRun, searchField, _, _)? = searchError else { Issue.record("\(String(describing: searchError))"); return }
        #expect(searchRun == directory + "/scores/random-init-gates-seed1" && searchField == "search.lambda")

        // More structures and seeds are not a conflict: only the new stages run.
        var more = plan
        more.sources.append(.random(seeds: [4]))
        more.trainingSeeds = [1, 2]
        let extended = try Self.run(more, in: directory)
        let ran = extended.stages.filter { $0.1 != .skip }.map(\.0)
        #expect(ran.count == 1 + 1 + 4, "\(ran)")   // scores and structure of random-seed4, 4 new training runs
        #expect(ran.allSatisfy { $0.contains("random-seed4") || $0.hasSuffix("seed 2") })
        #expect(extended.report.rows.count == 6)
    }

    @Test func aPretrainingEpochThatWasNotKeptIsRefused() throws {
        var plan = Self.tinyPlan()
        plan.sources = [.checkpointGates(epochs: [.final])]
        plan.trainingSeeds = [1]
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try Self.run(plan, in: directory)
        plan.sources = [.checkpointGates(epochs: [.epoch(1), .final])]
        let error = #expect(throws: PruningError.self) { _ = try Self.run(plan, in: directory) }
        #expect(error?.description.contains("epoch-1.safetensors") == true, "\(String(describing: error))")
    }

    /// Each bad plan names its field.
    @Test(arguments: [
        (#"{"format": "pfs.study-plan/1", "architecture": "resnet20", "training": {}, "sources": [{"kind": "uniform"}, {"kind": "magic"}]}"#,
         "sources[1].kind"),
        (#"{"format": "pfs.study-plan/1", "architecture": "resnet20", "training": {"epochs": 3}, "pretraining": {"epochs": 5}, "sources": [{"kind": "checkpoint-gates", "epochs": [1, 7]}]}"#,
         "sources[0].epochs[1]"),
        (#"{"format": "pfs.study-plan/1", "architecture": "resnet20", "training": {}, "budgets": [1.0], "sources": [{"kind": "uniform"}]}"#,
         "budgets[0]"),
        (#"{"format": "pfs.study-plan/1", "architecture": "resnet20", "training": {}, "trainingSeeds": [], "sources": [{"kind": "uniform"}]}"#,
         "trainingSeeds"),
        (#"{"format": "pfs.study-plan/1", "architecture": "resnet20", "training": {}, "sources": [{"kind": "random-init-gates", "seeds": []}]}"#,
         "sources[0].seeds"),
        (#"{"format": "pfs.study-plan/1", "architecture": "resnet20", "training": {}, "sources": [{"kind": "uniform", "seeds": [1]}]}"#,
         "sources[0].seeds"),
        (#"{"format": "pfs.study-plan/2", "architecture": "resnet20", "training": {}, "sources": []}"#, "format"),
        (#"{"format": "pfs.study-plan/1", "architecture": "resnet21", "training": {}, "sources": []}"#, "architecture"),
        (#"{"format": "pfs.study-plan/1", "architecture": "resnet20", "training": {"epochs": 0}, "sources": [{"kind": "uniform"}]}"#,
         "training.epochs"),
        (#"{"format": "pfs.study-plan/1", "architecture": "resnet20", "training": {}, "sources": [{"kind": "random", "seeds": [1]}, {"kind": "random", "seeds": [2, 1]}]}"#,
         "sources[1]"),
        (#"{"format": "pfs.study-plan/1", "architecture": "resnet20", "training": {}, "sources": [{"kind": "uniform"}], "#,
         "(document)"),
    ])
    func badPlansAreRefusedNamingTheField(json: String, field: String) throws {
        let error = #expect(throws: PruningError.self) { _ = try StudyPlan.decode(Data(json.utf8), file: "plan.json") }
        guard case let .mismatch(file, got, _, _)? = error else {
            Issue.record("expected a mismatch naming the field, got \(String(describing: error))")
            return
        }
        #expect(file == "plan.json")
        #expect(got == field, "\(String(describing: error))")
    }

    @Test func plansRoundTripAndTheBuiltInPlanIsValid() throws {
        let plan = StudyPlan.builtIn
        try plan.validate()
        let decoded = try StudyPlan.decode(plan.jsonData(), file: "built-in")
        #expect(decoded == plan)
        let minimal = try StudyPlan.decode(Data(#"{"format": "pfs.study-plan/1", "architecture": "vgg16", "training": {"epochs": 20}, "sources": [{"kind": "network-slimming"}, {"kind": "l1-norm"}]}"#.utf8), file: "p")
        #expect(minimal.budgets == [0.5] && minimal.trainingSeeds == [1] && minimal.schemes == [.scratchE])
        #expect(minimal.structures.map(\.id) == ["network-slimming", "l1-norm-epoch20"])
        #expect(minimal.structures[0].kind == .networkSlimming(sparsity: 1e-4))   // VGG's default strength
        #expect(minimal.needsPretraining)
    }

    /// Expansion sources, search-only structures and validation evaluation: the plan fields the
    /// full-CIFAR reproduction needs.
    @Test func expandedSourcesSearchOnlyStructuresAndValidationEvaluation() throws {
        var plan = Self.tinyPlan()
        plan.sources = [.randomInitGates(seeds: [1, 2]),
                        .randomInitGates(seeds: [1], expansion: GateExpansion(widthMultiplier: 1.5, fixedWidths: .expanded)),
                        .uniform]
        plan.trainingSeeds = [1]
        plan.structureTrainingSeeds = ["random-init-gates-seed2": [], "uniform": [1, 3]]
        plan.evaluation = .validation
        try plan.validate()
        #expect(plan.structures.map(\.id) == ["random-init-gates-seed1", "random-init-gates-seed2",
                                              "random-init-gates-w1.5-expanded-seed1", "uniform"])
        #expect(plan.allTrainingSeeds == [1, 3])
        #expect(try StudyPlan.decode(plan.jsonData(), file: "p") == plan)
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let report = try Self.run(plan, in: directory).report
        #expect(report.complete)
        #expect(report.rows.map { "\($0.structure) \($0.trainingSeed)" }.sorted()
                == ["random-init-gates-seed1 1", "random-init-gates-w1.5-expanded-seed1 1", "uniform 1", "uniform 3"])
        // The search-only structure is in the similarity study, not in Table 1.
        #expect(report.similarity.first?.structures.count == 4)
        #expect(!report.summary.contains { $0.structure == "random-init-gates-seed2" })
        // The expanded source is a group of its own; uniform scaling correlates with nothing (its
        // kept ratios differ only by rounding); costs are relative to the standard-width searches.
        let similarity = try #require(report.similarity.first)
        #expect(similarity.groups == [.randomInit, .randomInit, .randomInitExpanded, .baselines])
        #expect(similarity.matrix[3].allSatisfy { $0 == nil } && similarity.matrix.allSatisfy { $0[3] == nil })
        #expect(similarity.matrix[0][1] != nil && similarity.matrix[0][2] != nil)
        // Group means count only the pairs that have a correlation: none with uniform scaling.
        let means = Dictionary(uniqueKeysWithValues: similarity.groupMeans.map { ("\($0.first)/\($0.second)", $0) })
        #expect(means["random-init/random-init"]?.pairs == 1 && means["random-init/random-init-expanded"]?.pairs == 2)
        #expect(means["random-init/baselines"]?.pairs == 0 && means["random-init/baselines"]?.mean == nil)
        #expect(means["baselines/baselines"] == nil)
        let costs = Dictionary(uniqueKeysWithValues: report.costs.map { ($0.structure, $0) })
        let reference = (costs["random-init-gates-seed1"]!.totalSeconds + costs["random-init-gates-seed2"]!.totalSeconds) / 2
        let expandedCost = try #require(costs["random-init-gates-w1.5-expanded-seed1"]?.relativeToRandomInit)
        #expect(abs(expandedCost - costs["random-init-gates-w1.5-expanded-seed1"]!.totalSeconds / reference) < 1e-9)
        // Epoch 0 of the pretraining run is random weights: kept apart from trained checkpoints.
        var checkpoints = plan
        checkpoints.sources = [.checkpointGates(epochs: [.epoch(0), .epoch(1), .final])]
        #expect(checkpoints.structures.map(\.group) == [.checkpointEpoch0, .checkpoints, .checkpoints])
        // The expanded structure kept the searched stem and stages; its search ran at × 1.5.
        let expanded = try PrunedArchitecture.load(directory + "/structures/keep50/random-init-gates-w1.5-expanded-seed1/pruned.json")
        let wide = try ChannelConfiguration.standard(.resnet20, input: Self.trainData.inputShape, classes: 4, widthMultiplier: 1.5)
        #expect(expanded.fixedWidths == .expanded)
        #expect(expanded.configuration.widths.filter { !$0.prunable } == wide.widths.filter { !$0.prunable })
        #expect(expanded.macs.pruned <= expanded.budget.targetMACs)
        // Structures trained on the training split and reported on the validation split.
        let validation = try Self.searchData()
        let run = try #require(try TrainingJob.finishedResult(in: directory + "/training/keep50/uniform/scratch-e-seed1"))
        #expect(run.trainingImages == validation.train.count && run.test?.images == validation.validation?.count)
        let summary = try String(contentsOfFile: directory + "/summary.txt", encoding: .utf8)
        #expect(summary.contains("validation accuracy after the last epoch") && summary.contains("validation acc %"))

        // Unknown ids are refused naming the field.
        var bad = plan
        bad.structureTrainingSeeds = ["random-init-gates-seed9": [1]]
        let error = #expect(throws: PruningError.self) { try bad.validate() }
        #expect(error?.description.contains("structureTrainingSeeds.random-init-gates-seed9") == true)
        let decodeError = #expect(throws: PruningError.self) {
            _ = try StudyPlan.decode(Data(#"{"format": "pfs.study-plan/1", "architecture": "resnet20", "training": {"epochs": 2}, "sources": [{"kind": "random-init-gates", "seeds": [1], "widthMultiplier": -2}]}"#.utf8), file: "p.json")
        }
        #expect(decodeError?.description.contains("sources[0].widthMultiplier") == true)
    }

    @Test func commandLineSources() throws {
        #expect(try StudySource(argument: "random-init-gates:1,2,3") == .randomInitGates(seeds: [1, 2, 3]))
        #expect(try StudySource(argument: "checkpoint-gates:0,5,final") == .checkpointGates(epochs: [.epoch(0), .epoch(5), .final]))
        #expect(try StudySource(argument: "network-slimming") == .networkSlimming(sparsity: nil))
        #expect(try StudySource(argument: "network-slimming:1e-4") == .networkSlimming(sparsity: 1e-4))
        #expect(try StudySource(argument: "l1-norm:10") == .l1Norm(epoch: .epoch(10)))
        #expect(try StudySource(argument: "uniform") == .uniform)
        for bad in ["pfs:1", "random-init-gates", "random:1,x", "checkpoint-gates:-1", "uniform:3", "network-slimming:big"] {
            let error = #expect(throws: PruningError.self) { _ = try StudySource(argument: bad) }
            #expect(error?.description.contains("--source \(bad)") == true)
        }
        #expect(Study.budgetLabel(0.5) == "keep50" && Study.budgetLabel(0.333) == "keep33.3" && Study.budgetLabel(0.25) == "keep25")
    }
}
