import Foundation
import PFSData
import PFSModels
import PFSNN
import PFSTraining

/// What a study reports while it works.
public enum StudyEvent {
    /// Stage `index` of `total` begins (`resume`: from its checkpoint) or is skipped as finished;
    /// `epochs` is the length of its search or training run (nil for other stages).
    case stage(index: Int, total: Int, name: String, state: StageState, epochs: Int?)
    case search(GateSearchEvent)
    case train(TrainingEvent)

    public enum StageState: Sendable { case start, resume, skip }
}

/// Runs a ``StudyPlan`` into a directory, resumably:
///
///     DIR/plan.json                                   the plan as run
///     DIR/pretrain/                                   the full network's pretraining (epoch-<e>.safetensors kept)
///     DIR/slimming/                                   the full network trained with Network Slimming's L1 penalty
///     DIR/scores/<structure>/scores.json              channel scores (+ gates.json and search/ for gate sources)
///     DIR/structures/keep<P>/<structure>/pruned.json  the structure cut to P % of the standard MACs
///     DIR/training/keep<P>/<structure>/<scheme>-seed<k>/   training from scratch
///     DIR/results.csv, results.json, similarity.csv, summary.txt
///
/// Every stage runs once: a stage directory records the inputs it was made from (`stage.json`);
/// a rerun skips finished stages, resumes a half-done search or training run from its checkpoint,
/// and refuses — before any work — a plan that contradicts a stage already there, naming the run
/// and the field. Pretraining is shared by every source that needs it. Training runs go seed by
/// seed over all structures, so an interrupted study leaves complete rows for the seeds done, and
/// the result files are rewritten after every finished training run.
public struct Study {
    public var plan: StudyPlan
    public var directory: String
    /// Raising it (or SIGINT/SIGTERM) saves the current run and stops the study.
    public var stop = StopRequest()

    public init(plan: StudyPlan, directory: String) {
        self.plan = plan
        self.directory = directory
    }

    public static let planFileName = "plan.json"

    /// Runs (or continues) the study. `searchData` holds the seeded train/validation split used by
    /// pretraining, Network Slimming and the searches; `trainData` all training images (structures
    /// are trained on them) and the test part, read once per run to report.
    public func run(searchData: PreparedData, trainData allTrainingImages: PreparedData,
                    onEvent: (StudyEvent) -> Void = { _ in }) throws(PruningError) -> StudyReport {
        let start = Date()
        try plan.validate()
        let trainData = plan.evaluation == .test ? allTrainingImages : Self.validationData(searchData)
        let lock = try attempt { try RunDirectoryLock.acquire(directory) }
        defer { lock.release() }
        guard searchData.validation?.count ?? 0 > 0 else {
            throw .setting(field: "validationFraction", expected: "a validation split for the searches", got: "none")
        }
        let standard = try attempt {
            try ChannelConfiguration.standard(plan.architecture, input: trainData.inputShape, classes: trainData.classes)
        }
        let stages = try StudyStages(plan: plan, directory: directory, standard: standard, searchData: searchData,
                                     trainData: trainData, stop: stop)
        // Everything that could refuse the plan, before any work: budgets, then every stage on disk.
        let minimum = try BudgetSearch.minimumMACs(target: standard, minChannels: plan.minChannels)
        for budget in plan.budgets {
            let macs = try Budget.keepFraction(budget).macs(standardMACs: ComplexityCounter.totalMACs(standard))
            guard macs >= minimum else {
                throw .infeasibleBudget(budgetMACs: macs, minimumMACs: minimum, minChannels: plan.minChannels)
            }
        }
        try stages.checkAll()
        try attempt { try AtomicFile.write(plan.jsonData(), to: path(Self.planFileName)) }

        let total = stages.count
        var index = 0
        func begin(_ name: String, _ state: StudyEvent.StageState, _ epochs: Int?) {
            index += 1
            onEvent(.stage(index: index, total: total, name: name, state: state, epochs: epochs))
        }
        var pretraining: TrainingResult?
        if plan.needsPretraining { pretraining = try stages.pretrain(begin: begin, onEvent: onEvent) }
        var slimming: TrainingResult?
        if plan.structures.contains(where: { $0.criterion == .networkSlimming }) {
            slimming = try stages.slimming(begin: begin, onEvent: onEvent)
        }
        var scores: [String: ChannelScores] = [:]
        for structure in plan.structures where structure.criterion != .uniform {
            scores[structure.id] = try stages.scores(structure, begin: begin, onEvent: onEvent)
        }
        var pruned: [Double: [String: PrunedArchitecture]] = [:]
        for budget in plan.budgets {
            for structure in plan.structures {
                pruned[budget, default: [:]][structure.id] = try stages.structure(structure, budget: budget,
                                                                                   scores: scores[structure.id], begin: begin)
            }
        }
        var collector = StudyResultsCollector(plan: plan, directory: directory, standard: standard, pruned: pruned,
                                              scores: scores, pretraining: pretraining, slimming: slimming)
        for seed in plan.allTrainingSeeds {
            for scheme in plan.schemes {
                for budget in plan.budgets {
                    for structure in plan.structures(trainedWith: seed) {
                        let architecture = pruned[budget]![structure.id]!
                        let result = try stages.train(structure, budget: budget, pruned: architecture, scheme: scheme,
                                                      seed: seed, begin: begin, onEvent: onEvent)
                        collector.add(structure: structure, budget: budget, scheme: scheme, seed: seed, result: result)
                        try collector.write(totalSeconds: Date().timeIntervalSince(start), complete: false)
                    }
                }
            }
        }
        return try collector.write(totalSeconds: Date().timeIntervalSince(start), complete: true)
    }

    func path(_ components: String...) -> String {
        components.reduce(directory) { ($0 as NSString).appendingPathComponent($1) }
    }

    /// The training split of `searchData` with its validation split in the place of the test part:
    /// what structures train and report on under ``StudyEvaluation/validation``.
    static func validationData(_ searchData: PreparedData) -> PreparedData {
        PreparedData(train: searchData.train, validation: nil, test: searchData.validation,
                     normalization: searchData.normalization,
                     description: searchData.description + ", training split (validation split reported)")
    }

    /// `keep50` for 0.5, `keep33.3` for 0.333.
    public static func budgetLabel(_ fraction: Double) -> String {
        let percent = fraction * 100
        var text = String(format: "%.2f", percent)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return "keep" + text
    }
}

/// The stages of one study: where each lives, what it is made from, and how it runs.
struct StudyStages {
    let plan: StudyPlan
    let directory: String
    let standard: ChannelConfiguration
    let searchData: PreparedData
    let trainData: PreparedData
    /// Inputs every stage shares (network and data), and those of stages on the train/validation split.
    let common: StageInputs
    let split: StageInputs
    /// The study's stop, handed to every search and training run.
    let stop: StopRequest

    init(plan: StudyPlan, directory: String, standard: ChannelConfiguration, searchData: PreparedData,
         trainData: PreparedData, stop: StopRequest) throws(PruningError) {
        self.plan = plan
        self.stop = stop
        self.directory = directory
        self.standard = standard
        self.searchData = searchData
        self.trainData = trainData
        var common = StageInputs()
        common["architecture"] = plan.architecture.rawValue
        common["data"] = trainData.description
        common["data.trainingImages"] = "\(trainData.train.count)"
        common["data.input"] = "\(trainData.inputShape)"
        common["data.classes"] = "\(trainData.classes)"
        common["data.fingerprint"] = trainData.train.fingerprint
        self.common = common
        var split = common
        split["validationFraction"] = "\(plan.validationFraction)"
        split["splitSeed"] = "\(plan.splitSeed)"
        self.split = split
    }

    func path(_ components: String...) -> String {
        components.reduce(directory) { ($0 as NSString).appendingPathComponent($1) }
    }

    // MARK: Where and from what

    var pretrainDirectory: String { path("pretrain") }
    var slimmingDirectory: String { path("slimming") }
    func scoresDirectory(_ s: StudyStructure) -> String { path("scores", s.id) }
    func structureDirectory(_ s: StudyStructure, budget: Double) -> String {
        path("structures", Study.budgetLabel(budget), s.id)
    }
    func trainingDirectory(_ s: StudyStructure, budget: Double, scheme: TrainingScheme, seed: UInt64) -> String {
        path("training", Study.budgetLabel(budget), s.id, "\(scheme.rawValue)-seed\(seed)")
    }

    var pretrainInputs: StageInputs {
        var inputs = split
        inputs.add(plan.pretrainingRecipe, prefix: "pretraining")
        inputs["pretraining.seed"] = "\(plan.pretrainingRecipe.seed)"
        return inputs
    }

    func slimmingInputs(sparsity: Float) -> StageInputs {
        var inputs = pretrainInputs
        inputs["sparsity"] = "\(sparsity)"
        return inputs
    }

    var searchInputs: StageInputs {
        var inputs = StageInputs()
        let s = plan.search
        inputs["search.lambda"] = "\(s.lambda)"
        inputs["search.targetRatio"] = "\(s.targetRatio)"
        inputs["search.learningRate"] = "\(s.learningRate)"
        inputs["search.epochs"] = "\(s.epochs)"
        inputs["search.batchSize"] = "\(s.batchSize)"
        return inputs
    }

    func scoresInputs(_ s: StudyStructure) -> StageInputs {
        var inputs: StageInputs
        switch s.kind {
        case let .randomInitGates(seed, expansion):
            inputs = split.merging(searchInputs)
            inputs["search.widthMultiplier"] = "\(expansion?.widthMultiplier ?? plan.search.widthMultiplier)"
            inputs["seed"] = "\(seed)"
        case let .checkpointGates(epoch):
            inputs = pretrainInputs.merging(searchInputs)
            inputs["search.seed"] = "\(plan.search.seed)"
            inputs["epoch"] = "\(epoch)"
        case let .networkSlimming(sparsity): inputs = slimmingInputs(sparsity: sparsity)
        case let .l1Norm(epoch):
            inputs = pretrainInputs
            inputs["epoch"] = "\(epoch)"
        case let .random(seed):
            inputs = common
            inputs["seed"] = "\(seed)"
        case .uniform: inputs = common
        }
        inputs["criterion"] = s.criterion.rawValue
        return inputs
    }

    func structureInputs(_ s: StudyStructure, budget: Double) -> StageInputs {
        var inputs = scoresInputs(s)
        inputs["budget"] = "\(budget)"
        inputs["minChannels"] = "\(plan.minChannels)"
        if let expansion = s.expansion { inputs["fixedWidths"] = expansion.fixedWidths.rawValue }
        return inputs
    }

    func trainingInputs(_ s: StudyStructure, budget: Double, scheme: TrainingScheme, seed: UInt64) -> StageInputs {
        var inputs = structureInputs(s, budget: budget)
        inputs.add(plan.training, prefix: "training")
        inputs["scheme"] = scheme.rawValue
        inputs["trainingSeed"] = "\(seed)"
        if plan.evaluation != .test { inputs["evaluation"] = plan.evaluation.rawValue }
        return inputs
    }

    /// Epochs of the pretraining run that sources start from.
    var keptPretrainingEpochs: Set<Int> { Set(plan.structures.compactMap(\.pretrainingEpoch)) }

    var slimmingSparsity: Float? {
        for s in plan.structures { if case let .networkSlimming(sparsity) = s.kind { return sparsity } }
        return nil
    }

    /// Every stage directory with its inputs, in run order.
    var all: [(directory: String, stage: String, inputs: StageInputs)] {
        var list: [(String, String, StageInputs)] = []
        if plan.needsPretraining { list.append((pretrainDirectory, "pretrain", pretrainInputs)) }
        if let sparsity = slimmingSparsity { list.append((slimmingDirectory, "slimming", slimmingInputs(sparsity: sparsity))) }
        for s in plan.structures where s.criterion != .uniform {
            list.append((scoresDirectory(s), "scores", scoresInputs(s)))
        }
        for budget in plan.budgets {
            for s in plan.structures { list.append((structureDirectory(s, budget: budget), "structure", structureInputs(s, budget: budget))) }
        }
        for seed in plan.allTrainingSeeds {
            for scheme in plan.schemes {
                for budget in plan.budgets {
                    for s in plan.structures(trainedWith: seed) {
                        list.append((trainingDirectory(s, budget: budget, scheme: scheme, seed: seed), "training",
                                     trainingInputs(s, budget: budget, scheme: scheme, seed: seed)))
                    }
                }
            }
        }
        return list
    }

    var count: Int { all.count }

    /// Refuses the plan if any stage on disk was made from other inputs (before any work).
    func checkAll() throws(PruningError) {
        for stage in all { try StageLedger.check(stage.directory, stage: stage.stage, inputs: stage.inputs) }
    }

    // MARK: Running

    /// Runs or resumes a training job in `runDirectory`, or reads its result when it finished.
    func trainingJob(_ job: TrainingJob, name: String, inputs: StageInputs, stage: String,
                     begin: (String, StudyEvent.StageState, Int?) -> Void,
                     onEvent: (StudyEvent) -> Void) throws(PruningError) -> TrainingResult {
        let runDirectory = job.runDirectory
        if let finished = try attempt({ try TrainingJob.finishedResult(in: runDirectory) }) {
            begin(name, .skip, nil)
            return finished
        }
        try StageLedger.claim(runDirectory, stage: stage, inputs: inputs)
        var job = job
        job.stop = stop
        job.resume = FileManager.default.fileExists(atPath: (runDirectory as NSString).appendingPathComponent(Checkpoint.fileName))
        begin(name, job.resume ? .resume : .start, job.recipe.epochs)
        return try attempt { try job.run { onEvent(.train($0)) } }
    }

    func pretrain(begin: (String, StudyEvent.StageState, Int?) -> Void,
                  onEvent: (StudyEvent) -> Void) throws(PruningError) -> TrainingResult {
        let recipe = plan.pretrainingRecipe.recipe(seed: plan.pretrainingRecipe.seed)
        var job = TrainingJob(configuration: standard, recipe: recipe, data: withoutTest(searchData),
                              runDirectory: pretrainDirectory, resume: false)
        job.keepEpochs = keptPretrainingEpochs
        try checkSnapshots()
        let result = try trainingJob(job, name: "pretrain \(plan.architecture.rawValue), \(recipe.epochs) epochs",
                                     inputs: pretrainInputs, stage: "pretrain", begin: begin, onEvent: onEvent)
        try checkSnapshots()
        return result
    }

    /// Makes sure every pretraining epoch a source starts from has its snapshot. The one of the
    /// epoch the run stands at (between epochs) is the checkpoint's weights, and is written from
    /// it when missing (the trainer writes it too when it resumes there); an epoch the run went
    /// past without keeping it (an earlier plan did not ask for it) is refused.
    func checkSnapshots() throws(PruningError) {
        let checkpoint = (pretrainDirectory as NSString).appendingPathComponent(Checkpoint.fileName)
        guard FileManager.default.fileExists(atPath: checkpoint) else { return }
        let contents = try attempt { try Checkpoint.read(checkpoint) }
        let done = contents.state?.completedEpochs ?? 0
        let between = (contents.state?.stepInEpoch ?? 0) == 0
        for epoch in keptPretrainingEpochs.sorted() where epoch <= done {
            let file = (pretrainDirectory as NSString).appendingPathComponent(Checkpoint.snapshotFileName(epoch: epoch))
            guard !FileManager.default.fileExists(atPath: file) else { continue }
            guard epoch == done && between else {
                throw .planConflict(run: pretrainDirectory, field: "kept epochs",
                                    recorded: "no \(Checkpoint.snapshotFileName(epoch: epoch)) (the run is past epoch \(epoch))",
                                    planned: "a source starting from epoch \(epoch)")
            }
            let bytes = try attempt { try AtomicFile.read(checkpoint) }
            try attempt { try AtomicFile.write(bytes, to: file) }
        }
    }

    func slimming(begin: (String, StudyEvent.StageState, Int?) -> Void,
                  onEvent: (StudyEvent) -> Void) throws(PruningError) -> TrainingResult {
        let sparsity = slimmingSparsity!
        let recipe = plan.pretrainingRecipe.recipe(seed: plan.pretrainingRecipe.seed)
        var job = TrainingJob(configuration: standard, recipe: recipe, data: withoutTest(searchData),
                              runDirectory: slimmingDirectory, resume: false)
        job.penalties = { network in
            [BatchNormL1Penalty(batchNorms: network.prunableUnits.map(\.batchNorm), strength: sparsity)]
        }
        return try trainingJob(job, name: "network slimming (s = \(sparsity)), \(recipe.epochs) epochs",
                               inputs: slimmingInputs(sparsity: sparsity), stage: "slimming", begin: begin, onEvent: onEvent)
    }

    func scores(_ s: StudyStructure, begin: (String, StudyEvent.StageState, Int?) -> Void,
                onEvent: (StudyEvent) -> Void) throws(PruningError) -> ChannelScores {
        let dir = scoresDirectory(s)
        let file = (dir as NSString).appendingPathComponent("scores.json")
        let name = "scores \(s.id)"
        if FileManager.default.fileExists(atPath: file) {
            begin(name, .skip, nil)
            return try ChannelScores.load(file)
        }
        let inputs = scoresInputs(s)
        try StageLedger.claim(dir, stage: "scores", inputs: inputs)
        let scores: ChannelScores
        switch s.kind {
        case let .randomInitGates(seed, expansion):
            var settings = plan.search.settings(seed: seed, validationFraction: plan.validationFraction)
            if let expansion { settings.widthMultiplier = expansion.widthMultiplier }
            let searched = settings.widthMultiplier == 1 ? standard : standard.scaled(by: settings.widthMultiplier)
            scores = try search(searched, settings: settings, source: .randomInitialization(seed: seed), directory: dir,
                                checkpointEpoch: nil, name: name, begin: begin, onEvent: onEvent)
        case let .checkpointGates(epoch):
            var settings = plan.search.settings(seed: plan.search.seed, validationFraction: plan.validationFraction)
            settings.widthMultiplier = 1   // the gates go on the pretrained (standard) network
            let snapshot = (pretrainDirectory as NSString).appendingPathComponent(Checkpoint.snapshotFileName(epoch: epoch))
            scores = try search(standard, settings: settings, source: .checkpoint(file: snapshot), directory: dir,
                                checkpointEpoch: epoch, name: name, begin: begin, onEvent: onEvent)
        case let .networkSlimming(sparsity):
            begin(name, .start, nil)
            let file = (slimmingDirectory as NSString).appendingPathComponent(Checkpoint.fileName)
            scores = try score(checkpoint: file, with: BatchNormScaleMagnitude(),
                               provenance: ScoreProvenance(criterion: .networkSlimming, checkpoint: file,
                                                           checkpointEpoch: plan.pretrainingRecipe.epochs,
                                                           sparsity: sparsity, data: searchData.description))
        case let .l1Norm(epoch):
            begin(name, .start, nil)
            let file = (pretrainDirectory as NSString).appendingPathComponent(Checkpoint.snapshotFileName(epoch: epoch))
            scores = try score(checkpoint: file, with: FilterL1Norm(),
                               provenance: ScoreProvenance(criterion: .l1Norm, checkpoint: file, checkpointEpoch: epoch,
                                                           data: searchData.description))
        case let .random(seed):
            begin(name, .start, nil)
            let network = try attempt { try ModelBuilder.build(standard, seed: seed) }
            scores = try ChannelScores.measure(network, with: RandomStructureScores(seed: seed),
                                               provenance: ScoreProvenance(criterion: .random, seed: seed))
        case .uniform:
            preconditionFailure("uniform scaling has no scores")
        }
        try scores.save(to: file)
        return scores
    }

    func search(_ configuration: ChannelConfiguration, settings: GateSearchSettings, source: GateSource,
                directory dir: String, checkpointEpoch: Int?, name: String,
                begin: (String, StudyEvent.StageState, Int?) -> Void,
                onEvent: (StudyEvent) -> Void) throws(PruningError) -> ChannelScores {
        let search = try GateSearch(configuration: configuration, settings: settings, source: source, data: searchData)
        let gatesFile = (dir as NSString).appendingPathComponent("gates.json")
        search.outputFile = gatesFile
        search.runDirectory = (dir as NSString).appendingPathComponent("search")
        search.stop = stop
        let resume = FileManager.default.fileExists(
            atPath: (search.runDirectory! as NSString).appendingPathComponent(Checkpoint.fileName))
        begin(name, resume ? .resume : .start, settings.epochs)
        let result = try search.run(resume: resume) { onEvent(.search($0)) }
        return try ChannelScores(search: result, gatesFile: gatesFile, checkpointEpoch: checkpointEpoch)
    }

    func score(checkpoint file: String, with criterion: ChannelImportance,
               provenance: ScoreProvenance) throws(PruningError) -> ChannelScores {
        let contents = try attempt { try Checkpoint.read(file) }
        let network = try attempt { try ModelBuilder.build(contents.configuration, seed: 0) }
        try attempt { try Checkpoint.restore(contents, into: network) }
        return try ChannelScores.measure(network, with: criterion, provenance: provenance)
    }

    func structure(_ s: StudyStructure, budget: Double, scores: ChannelScores?,
                   begin: (String, StudyEvent.StageState, Int?) -> Void) throws(PruningError) -> PrunedArchitecture {
        let dir = structureDirectory(s, budget: budget)
        let file = (dir as NSString).appendingPathComponent("pruned.json")
        let name = "structure \(s.id) at \(Study.budgetLabel(budget))"
        if FileManager.default.fileExists(atPath: file) {
            begin(name, .skip, nil)
            return try PrunedArchitecture.load(file)
        }
        try StageLedger.claim(dir, stage: "structure", inputs: structureInputs(s, budget: budget))
        begin(name, .start, nil)
        let pruned: PrunedArchitecture
        if let scores {
            pruned = try PrunedArchitecture.make(from: scores, budget: .keepFraction(budget), minChannels: plan.minChannels,
                                                 fixedWidths: s.expansion?.fixedWidths ?? .standard)
        } else {
            pruned = try PrunedArchitecture.uniform(standard, budget: .keepFraction(budget))
        }
        try pruned.save(to: file)
        return pruned
    }

    func train(_ s: StudyStructure, budget: Double, pruned: PrunedArchitecture, scheme: TrainingScheme, seed: UInt64,
               begin: (String, StudyEvent.StageState, Int?) -> Void,
               onEvent: (StudyEvent) -> Void) throws(PruningError) -> TrainingResult {
        var recipe = plan.training.recipe(seed: seed)
        if scheme == .scratchB { recipe = try attempt { try recipe.budgetMatched(for: pruned.configuration) } }
        let job = TrainingJob(configuration: pruned.configuration, recipe: recipe, data: trainData,
                              runDirectory: trainingDirectory(s, budget: budget, scheme: scheme, seed: seed), resume: false)
        return try trainingJob(job, name: "train \(s.id) at \(Study.budgetLabel(budget)), \(scheme.label) "
                                   + "(\(recipe.epochs) epochs), seed \(seed)",
                               inputs: trainingInputs(s, budget: budget, scheme: scheme, seed: seed), stage: "training",
                               begin: begin, onEvent: onEvent)
    }

    func withoutTest(_ data: PreparedData) -> PreparedData {
        var copy = data
        copy.test = nil
        return copy
    }
}
