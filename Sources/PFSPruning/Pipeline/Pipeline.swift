import Foundation
import PFSData
import PFSModels
import PFSTraining

/// Settings of the whole method: search → prune → train from scratch → evaluate, per seed.
public struct PipelineSettings: Sendable {
    public var architecture: Architecture = .resnet20
    public var gate = GateSearchSettings()
    public var budget: Budget = .keepFraction(0.5)
    public var minChannels = 1
    /// Pruned widths rounded up to multiples of this (``BudgetSearch``); 1: any width.
    public var roundTo = 1
    /// Whose fixed widths the pruned network keeps when the gates were learned on a wider network.
    public var fixedWidths = FixedWidths.standard
    public var recipe = TrainingRecipe()
    /// One candidate structure per seed (the seed of the random weights of gate learning, and of
    /// the training run of that candidate).
    public var seeds: [UInt64] = [1]
    /// Also train the uniformly narrowed network of the same budget, as the baseline.
    public var uniformBaseline = false
    /// Scratch-B: scale training epochs by standard MACs / pruned MACs.
    public var budgetMatched = false

    public init() {}
}

/// One seed's outcome.
public struct PipelineCandidate: Codable, Sendable {
    public var seed: UInt64
    public var gatesFile: String
    public var pruned: PrunedArchitecture
    public var training: TrainingResult
    public var searchSeconds: Double
    public var pruneSeconds: Double
    public var trainSeconds: Double
}

/// The pipeline's summary (`summary.json`).
public struct PipelineReport: Codable, Sendable {
    public static let format = "pfs.pipeline-summary/1"
    /// The document's kind and version (nil in summaries of earlier versions).
    public var format: String? = PipelineReport.format
    public var data: String
    public var candidates: [PipelineCandidate]
    /// The uniformly narrowed baseline, when asked for.
    public var uniform: TrainingResult?
    public var uniformFactor: Double?
    public var totalSeconds: Double
}

/// Stages of the pipeline, for display.
public enum PipelineEvent {
    case stage(seed: UInt64?, name: String)
    case search(GateSearchEvent)
    case train(TrainingEvent)
}

/// Runs the method end to end and writes everything under one directory:
/// `seed<N>/gates.json`, `seed<N>/pruned.json`, `seed<N>/train/…`, `uniform/…`, `summary.json`.
public struct Pipeline {
    public var settings: PipelineSettings
    public var directory: String
    /// Raising it (or SIGINT/SIGTERM) saves the current search or training run and stops.
    public var stop = StopRequest()

    public init(settings: PipelineSettings, directory: String) {
        self.settings = settings
        self.directory = directory
    }

    /// Runs every stage for every seed. `searchData` carries the 90/10 split for gate learning;
    /// `trainData` the data the pruned networks are trained on (and tested on, once, to report).
    public func run(searchData: PreparedData, trainData: PreparedData,
                    onEvent: (PipelineEvent) -> Void = { _ in }) throws(PruningError) -> PipelineReport {
        guard !settings.seeds.isEmpty else { throw .setting(field: "seeds", expected: "at least one seed", got: "none") }
        guard Set(settings.seeds).count == settings.seeds.count else {
            throw .setting(field: "seeds", expected: "distinct seeds", got: settings.seeds.map(String.init).joined(separator: ","))
        }
        let start = Date()
        let standard = try attempt {
            try ChannelConfiguration.standard(settings.architecture, input: searchData.inputShape, classes: searchData.classes)
        }
        let searched = settings.gate.widthMultiplier == 1 ? standard : standard.scaled(by: settings.gate.widthMultiplier)
        // Check the budget before spending any time or touching the directory.
        _ = try settings.budget.macs(standardMACs: ComplexityCounter.totalMACs(standard))
        let lock = try attempt { try RunDirectoryLock.acquire(directory) }
        defer { lock.release() }
        var candidates: [PipelineCandidate] = []
        for seed in settings.seeds {
            let seedDirectory = (directory as NSString).appendingPathComponent("seed\(seed)")
            onEvent(.stage(seed: seed, name: "search"))
            var gate = settings.gate
            gate.seed = seed
            let t0 = Date()
            let search = try GateSearch(configuration: searched, settings: gate, source: .randomInitialization(seed: seed),
                                        data: searchData)
            let gatesFile = (seedDirectory as NSString).appendingPathComponent("gates.json")
            search.outputFile = gatesFile
            search.runDirectory = (seedDirectory as NSString).appendingPathComponent("search")
            search.stop = stop
            let resumeSearch = FileManager.default.fileExists(
                atPath: (search.runDirectory! as NSString).appendingPathComponent(Checkpoint.fileName))
            let result = try search.run(resume: resumeSearch) { onEvent(.search($0)) }
            let searchSeconds = resumeSearch ? result.seconds : Date().timeIntervalSince(t0)

            onEvent(.stage(seed: seed, name: "prune"))
            let t1 = Date()
            let pruned = try PrunedArchitecture.make(from: result, gatesFile: gatesFile, budget: settings.budget,
                                                     minChannels: settings.minChannels, roundTo: settings.roundTo,
                                                     fixedWidths: settings.fixedWidths)
            let trainDirectory = (seedDirectory as NSString).appendingPathComponent("train")
            try refuseStaleRun(in: trainDirectory, for: pruned.configuration)
            try pruned.save(to: (seedDirectory as NSString).appendingPathComponent("pruned.json"))
            let pruneSeconds = Date().timeIntervalSince(t1)

            onEvent(.stage(seed: seed, name: "train"))
            let training = try train(pruned.configuration, seed: seed, data: trainData, directory: trainDirectory,
                                     onEvent: onEvent)
            candidates.append(PipelineCandidate(seed: seed, gatesFile: gatesFile, pruned: pruned, training: training,
                                                searchSeconds: searchSeconds, pruneSeconds: pruneSeconds,
                                                trainSeconds: training.trainingSeconds))
        }
        var uniform: TrainingResult?
        var factor: Double?
        if settings.uniformBaseline {
            onEvent(.stage(seed: nil, name: "uniform baseline"))
            let budgetMACs = try settings.budget.macs(standardMACs: ComplexityCounter.totalMACs(standard))
            let fit = try UniformScaling.fit(standard, budgetMACs: budgetMACs)
            factor = fit.factor
            uniform = try train(fit.configuration, seed: settings.seeds[0], data: trainData,
                                directory: (directory as NSString).appendingPathComponent("uniform"), onEvent: onEvent)
        }
        let report = PipelineReport(data: trainData.description, candidates: candidates, uniform: uniform,
                                    uniformFactor: factor, totalSeconds: Date().timeIntervalSince(start))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let bytes = try attempt { try encoder.encode(report) }
        try attempt { try AtomicFile.write(bytes, to: (directory as NSString).appendingPathComponent("summary.json")) }
        return report
    }

    /// Refuses, before anything is written, a training run in `directory` of other widths (left by
    /// an earlier pipeline run whose search or budget chose another structure).
    func refuseStaleRun(in directory: String, for configuration: ChannelConfiguration) throws(PruningError) {
        let file = (directory as NSString).appendingPathComponent(Checkpoint.fileName)
        guard FileManager.default.fileExists(atPath: file) else { return }
        let existing = try attempt { try Checkpoint.read(file) }.configuration
        guard existing != configuration else { return }
        let i = zip(existing.widths, configuration.widths).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        let detail = i.map { "\(existing.widths[$0].name) has \(existing.widths[$0].channels) channels there, "
            + "\(configuration.widths[$0].channels) now" } ?? "another configuration"
        throw .staleRun(directory: directory, detail: detail)
    }

    func train(_ configuration: ChannelConfiguration, seed: UInt64, data: PreparedData, directory: String,
               onEvent: (PipelineEvent) -> Void) throws(PruningError) -> TrainingResult {
        var recipe = settings.recipe
        recipe.seed = seed
        if settings.budgetMatched { recipe = try attempt { try recipe.budgetMatched(for: configuration) } }
        // A finished or interrupted run of the same stage is continued rather than redone.
        let resume = FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent(Checkpoint.fileName))
        var job = TrainingJob(configuration: configuration, recipe: recipe, data: data, runDirectory: directory,
                              resume: resume)
        job.stop = stop
        do {
            return try job.run { onEvent(.train($0)) }
        } catch {
            // The checkpoint there belongs to other widths: an earlier run whose search ended elsewhere.
            if resume, case .mismatch = error { throw .staleRun(directory: directory, detail: error.description) }
            throw .training(error)
        }
    }
}
