import ArgumentParser
import Foundation
import PFSData
import PFSModels
import PFSPruning
import PFSTensor
import PFSTraining

extension ImportanceCriterion: ExpressibleByArgument {}
extension TrainingScheme: ExpressibleByArgument {}

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score every prunable channel with a criterion that needs no gate learning (for `pfs prune`).",
        discussion: """
            l1-norm: L1 norm of each output filter of a trained checkpoint, divided by its layer's mean. \
            network-slimming: |γ| of the BatchNorm at each gate position of a checkpoint trained with \
            `pfs train --slimming S`. random: the seeded random-structure baseline (random per-layer ratios). \
            Gates are scored by `pfs search` (random init, or --from-checkpoint); uniform scaling is `pfs scale`.
            """)

    @Option(help: "l1-norm, network-slimming or random.") var criterion: ImportanceCriterion
    @Option(help: "Trained run directory or checkpoint file (l1-norm, network-slimming).") var checkpoint: String?
    @Option(help: "Architecture (random).") var arch: Architecture?
    @Option(help: "Input as C×H×W (random; default 3x32x32).") var input: String = "3x32x32"
    @Option(help: "Number of classes (random).") var classes: Int = 10
    @Option(parsing: .unconditional, help: "Seed of the random scores.", transform: parseSeed) var seed: UInt64 = 1
    @Option(help: "Scores file to write (default: scores-<criterion>.json).") var out: String?

    func validate() throws {
        switch criterion {
        case .l1Norm, .networkSlimming:
            guard checkpoint != nil else { throw ValidationError("--criterion \(criterion.rawValue) needs --checkpoint RUN") }
            guard arch == nil else { throw ValidationError("--arch applies to --criterion random; the checkpoint names its network") }
        case .random:
            guard checkpoint == nil else { throw ValidationError("--criterion random takes --arch, not --checkpoint") }
            _ = try parseInputShape(input)
            guard classes >= 1 else { throw ValidationError("--classes must be at least 1, got \(classes)") }
        case .randomInitGates, .checkpointGates:
            throw ValidationError("--criterion \(criterion.rawValue): gates are learned by `pfs search`"
                + (criterion == .checkpointGates ? " --from-checkpoint RUN" : "") + "; `pfs prune` reads its gates file")
        case .uniform:
            throw ValidationError("--criterion uniform: uniform scaling selects no channels; use `pfs scale`")
        }
        try OutputPath.file("a scores file (JSON)", name: "scores.json").check(out)
    }

    func run() throws {
        let file = out ?? "scores-\(criterion.rawValue).json"
        let scores: ChannelScores
        if let checkpoint {
            let contents = try Checkpoint.read(checkpoint)
            let network = try ModelBuilder.build(contents.configuration, seed: 0)
            try Checkpoint.restore(contents, into: network)
            let epoch = contents.state.map(\.completedEpochs)
            let provenance = ScoreProvenance(criterion: criterion, checkpoint: contents.file, checkpointEpoch: epoch,
                                             data: contents.state?.data)
            let importance: ChannelImportance = criterion == .l1Norm ? FilterL1Norm() : BatchNormScaleMagnitude()
            scores = try ChannelScores.measure(network, with: importance, provenance: provenance)
        } else {
            let configuration = try ChannelConfiguration.standard(arch ?? .resnet20, input: try parseInputShape(input),
                                                                  classes: classes)
            let network = try ModelBuilder.build(configuration, seed: seed)
            scores = try ChannelScores.measure(network, with: RandomStructureScores(seed: seed),
                                               provenance: ScoreProvenance(criterion: .random, seed: seed))
        }
        try scores.save(to: file)
        let names = scores.configuration.prunableNames
        let width = max(5, names.map(\.count).max() ?? 0)
        print("\(scores.configuration.architecture.rawValue): \(scores.provenance.description)")
        print("layer".padding(toLength: width, withPad: " ", startingAt: 0) + "  channels       min      mean       max")
        for (name, layer) in zip(names, scores.scores) {
            let mean = layer.reduce(0, +) / Float(layer.count)
            print(name.padding(toLength: width, withPad: " ", startingAt: 0) + pad("\(layer.count)", 10)
                  + pad(String(format: "%.4f", layer.min() ?? 0), 10) + pad(String(format: "%.4f", mean), 10)
                  + pad(String(format: "%.4f", layer.max() ?? 0), 10))
        }
        print("saved  \(file)  (prune it: pfs prune \(file) --keep-macs 0.5)")
    }
}

struct StudyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "study",
        abstract: "Compare pruned structures from many sources at equal MACs, each trained from scratch over seeds (resumable).",
        discussion: """
            A study is a plan (--plan FILE, or built from the options below; --print-plan writes it): an \
            architecture, data, MAC budgets, structure sources (random-init gates, checkpoint gates of one \
            pretraining run, Network Slimming, L1-norm, random, uniform), the training recipe, Scratch-E and/or \
            Scratch-B, and the training seeds. Every stage runs once into --out; rerun the same command after an \
            interruption (Ctrl-C, kill, power loss) to continue where it stopped. A changed plan that contradicts \
            finished runs is refused, naming the run and the field. Writes results.csv, results.json, \
            similarity.csv and summary.txt (Table-1 summary, structure similarity, search cost). \
            With neither --plan nor --data: a small built-in plan on the bundled sample (a few minutes). \
            Relative data paths in a plan file are relative to the plan file. Plan files also take a width \
            expansion per random-init-gates source ("widthMultiplier": 2, "fixedWidths": "expanded"), per-structure \
            training seeds ("structureTrainingSeeds": {"random-init-gates-seed4": []} searches without training) \
            and "evaluation": "validation" (train on the training split, report the validation split).
            """)

    @Option(help: "Study plan JSON (pfs.study-plan/1).") var plan: String?
    @Option(help: "Study directory (default runs/study-<arch>).") var out: String?
    @Option(help: "Write the plan to this file and stop (edit it, then run it with --plan).") var printPlan: String?

    @OptionGroup(title: "Plan (without --plan)") var planOptions: StudyPlanOptions
    @OptionGroup var engine: EngineOptions

    func validate() throws {
        if plan != nil && planOptions.isGiven {
            throw ValidationError("give --plan or the plan options (\(planOptions.givenNames.joined(separator: ", "))), not both")
        }
        try OutputPath.directory("a study directory").check(out)
        try OutputPath.file("a study plan file (JSON)", name: "plan.json").check(printPlan, option: "--print-plan")
    }

    func run() throws {
        engine.apply()
        StopSignal.install()
        var studyPlan: StudyPlan
        if let plan {
            studyPlan = try StudyPlan.load(plan)
            if let data = studyPlan.data, !(data as NSString).isAbsolutePath {
                // Absolute, so that the same data reads the same in every stage record whatever
                // the directory the study is run from.
                var directory = (plan as NSString).deletingLastPathComponent
                if !(directory as NSString).isAbsolutePath {
                    directory = (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(directory)
                }
                studyPlan.data = ((directory as NSString).appendingPathComponent(data) as NSString).standardizingPath
            }
        } else {
            studyPlan = try planOptions.plan()
        }
        if let printPlan {
            try AtomicFile.write(studyPlan.jsonData(), to: printPlan)
            print("saved  \(printPlan)  (run it: pfs study --plan \(printPlan) --out DIR)")
            return
        }
        let directory = out ?? "runs/study-\(studyPlan.architecture.rawValue)"
        let source = try DataSource.resolve(path: studyPlan.data, kind: try studyPlan.dataset.map { text in
            guard let kind = DatasetKind(rawValue: text) else {
                throw ValidationError("plan field dataset: expected cifar10, cifar100 or folder, got \(text)")
            }
            return kind
        })
        let imageSize = try DataOptions.parseImageSize(studyPlan.imageSize)
        let searchData = try PreparedData.load(source, imageSize: imageSize, validationFraction: studyPlan.validationFraction,
                                               splitSeed: studyPlan.splitSeed)
        let trainData = try PreparedData.load(source, imageSize: imageSize, validationFraction: 0, splitSeed: studyPlan.splitSeed)
        let structures = studyPlan.structures
        print("study  \(studyPlan.architecture.rawValue) on \(trainData.description): \(structures.count) structures × "
              + "\(studyPlan.budgets.count) budget(s) × \(studyPlan.schemes.map(\.label).joined(separator: "/")) × "
              + "\(studyPlan.allTrainingSeeds.count) training seed(s), \(Engine.threads) thread(s)"
              + (studyPlan.evaluation == .validation ? ", validation split reported" : "") + " → \(directory)")
        print("       structures: " + structures.map(\.id).joined(separator: ", "))
        let display = StudyDisplay(plan: studyPlan)
        let report: StudyReport
        do {
            report = try Study(plan: studyPlan, directory: directory).run(searchData: searchData, trainData: trainData,
                                                                           onEvent: display.handle)
        } catch {
            display.finish()
            if case .training(.interrupted) = error {
                _ = try? writeReport(of: directory)
                throw InterruptedRun(resume: ResumeHint.command(adding: nil))
            }
            throw error
        }
        display.finish()
        print("")
        print(StudyText.summary(report), terminator: "")
        print("saved  \(directory)/{results.csv, results.json, similarity.csv, summary.txt}, \(try writeReport(of: directory))")
    }
}

/// The options that build a study plan on the command line.
struct StudyPlanOptions: ParsableArguments {
    @Option(help: "Architecture (default resnet20).") var arch: Architecture?
    @OptionGroup var data: DataOptions
    @Option(help: "Comma-separated MAC budgets, fractions of the standard MACs to keep (default 0.5).",
            transform: parseFractions)
    var keepMacs: [Double]?
    @Option(name: .customLong("source"), parsing: .singleValue, help: ArgumentHelp(
        "A structure source (repeat the option): random-init-gates:SEEDS, checkpoint-gates:EPOCHS, "
            + "network-slimming[:S], l1-norm[:EPOCH], random:SEEDS, uniform.",
        discussion: "SEEDS/EPOCHS are comma-separated (EPOCH: a number or final). Default: the built-in plan's sources."),
            transform: parseSource)
    var sources: [StudySource] = []
    @Option(help: "Training epochs of every structure (Scratch-E; default 30).") var epochs: Int?
    @Option(help: "Epochs of the full network's pretraining and of Network Slimming (default: --epochs).")
    var pretrainEpochs: Int?
    @Option(help: "Gate-learning epochs (default 10).") var gateEpochs: Int?
    @Option(help: "Training schemes: scratch-e, scratch-b or both, comma-separated (default scratch-e).",
            transform: parseSchemes)
    var schemes: [TrainingScheme]?
    @Option(help: "Comma-separated training seeds: every structure is trained once per seed (default 1).",
            transform: parseSeedList)
    var trainingSeeds: [UInt64]?
    @Option(help: "Images per training batch.") var batchSize: Int?
    @Option(name: .customLong("lr"), help: "Base SGD learning rate.") var learningRate: Float?
    @Option(help: "L2 weight decay.") var weightDecay: Float?
    @Option(help: "Learning-rate schedule: cosine, multistep or constant.") var schedule: ScheduleKind?
    @Option(help: "Fraction of the training data held out for searches and the selection rule (default 0.1).")
    var validationFraction: Double?

    /// Names of the options given (for the "not both" error).
    var givenNames: [String] {
        var names: [String] = []
        if arch != nil { names.append("--arch") }
        if data.data != nil { names.append("--data") }
        if data.dataset != nil { names.append("--dataset") }
        if data.imageSize != nil { names.append("--image-size") }
        if keepMacs != nil { names.append("--keep-macs") }
        if !sources.isEmpty { names.append("--source") }
        if epochs != nil { names.append("--epochs") }
        if pretrainEpochs != nil { names.append("--pretrain-epochs") }
        if gateEpochs != nil { names.append("--gate-epochs") }
        if schemes != nil { names.append("--schemes") }
        if trainingSeeds != nil { names.append("--training-seeds") }
        if batchSize != nil { names.append("--batch-size") }
        if learningRate != nil { names.append("--lr") }
        if weightDecay != nil { names.append("--weight-decay") }
        if schedule != nil { names.append("--schedule") }
        if validationFraction != nil { names.append("--validation-fraction") }
        return names
    }

    var isGiven: Bool { !givenNames.isEmpty }

    /// The plan: the built-in one on the bundled sample, or one built from the options.
    func plan() throws -> StudyPlan {
        let builtIn = StudyPlan.builtIn
        var plan = StudyPlan(architecture: arch ?? builtIn.architecture,
                             sources: sources.isEmpty ? builtIn.sources : sources,
                             training: data.data == nil ? builtIn.training : StudyPlan.Recipe(epochs: 30))
        if let path = data.data {
            plan.data = (path as NSString).isAbsolutePath ? path
                : ((FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path) as NSString).standardizingPath
        } else {
            plan.search = builtIn.search
            plan.pretraining = builtIn.pretraining
            plan.trainingSeeds = builtIn.trainingSeeds
        }
        plan.dataset = data.dataset?.rawValue
        plan.imageSize = data.imageSize
        if let keepMacs { plan.budgets = keepMacs }
        if let epochs { plan.training.epochs = epochs }
        if let pretrainEpochs {
            var pretraining = plan.pretraining ?? plan.training
            pretraining.epochs = pretrainEpochs
            plan.pretraining = pretraining
        }
        if let gateEpochs { plan.search.epochs = gateEpochs }
        if let schemes { plan.schemes = schemes }
        if let trainingSeeds { plan.trainingSeeds = trainingSeeds }
        if let batchSize { plan.training.batchSize = batchSize }
        if let learningRate { plan.training.learningRate = learningRate }
        if let weightDecay { plan.training.weightDecay = weightDecay }
        if let schedule { plan.training.schedule = schedule }
        if let validationFraction { plan.validationFraction = validationFraction }
        do { try plan.validate() } catch { throw ValidationError(error.description) }
        return plan
    }
}

/// Parses one `--source`.
func parseSource(_ text: String) throws -> StudySource {
    do { return try StudySource(argument: text) } catch { throw ValidationError(error.description) }
}

/// Parses `0.5,0.3`.
func parseFractions(_ text: String) throws -> [Double] {
    let values = text.split(separator: ",", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
    guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else {
        throw ValidationError("expected comma-separated fractions such as 0.5,0.3, got \(text)")
    }
    return values.map { $0! }
}

/// Parses `scratch-e,scratch-b` (also `e,b`).
func parseSchemes(_ text: String) throws -> [TrainingScheme] {
    try text.split(separator: ",").map { part in
        let name = part.trimmingCharacters(in: .whitespaces).lowercased()
        guard let scheme = TrainingScheme(rawValue: name) ?? TrainingScheme(rawValue: "scratch-" + name) else {
            throw ValidationError("expected scratch-e and/or scratch-b, got \(text)")
        }
        return scheme
    }
}

/// Shows a study: one line per stage, with the search or training display of the running one.
final class StudyDisplay {
    private let plan: StudyPlan
    private var search: SearchDisplay?
    private var train: TrainingDisplay?
    private let start = Date()

    init(plan: StudyPlan) { self.plan = plan }

    func handle(_ event: StudyEvent) {
        switch event {
        case let .stage(index, total, name, state, epochs):
            finish()
            let elapsed = Date().timeIntervalSince(start)
            let tag = state == .skip ? "done, skipped" : state == .resume ? "resuming" : "running"
            print("\n[\(index)/\(total)] \(name) (\(tag))  — study time \(clock(elapsed))")
            fflush(stdout)
            search = SearchDisplay(epochs: epochs ?? plan.search.epochs)
            train = TrainingDisplay(totalEpochs: epochs ?? plan.training.epochs)
        case let .search(e): search?.handle(e)
        case let .train(e): train?.handle(e)
        }
    }

    func finish() {
        search?.finish()
        train?.finish()
    }
}
