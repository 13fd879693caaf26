import ArgumentParser
import Foundation
import PFSBench
import PFSData
import PFSModels
import PFSPruning
import PFSTensor
import PFSTraining

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Learn channel gates on frozen weights (random init by default) and save them with their history.",
        discussion: """
            Objective: cross-entropy + λ·(mean of all gates − r)², Adam on the gates only, BatchNorm in \
            training mode, a seeded train/validation split. After every epoch (or every --validate-every \
            steps) the gates are validated; the selected point is the best on validation among points with \
            at most r non-zero gates, else the last. Writes --out (default \
            runs/search-<arch>-seed<seed>/gates.json) at every validated point. --gate-preset imagenet is \
            the ImageNet variant: λ 0.05, r 0.5, one pass, validated every 1000 steps.
            """)

    @OptionGroup var architecture: ArchitectureOptions
    @OptionGroup var data: DataOptions
    @OptionGroup var gate: GateOptions
    @OptionGroup var engine: EngineOptions

    @Option(parsing: .unconditional, help: "Seed of the random weights, the split and the data order.", transform: parseSeed)
    var seed: UInt64 = 1
    @Option(help: ArgumentHelp("Learn the gates on the weights of this trained checkpoint (run directory or file) instead of a "
                               + "random init; the checkpoint names the network, so --arch, --config and "
                               + "--width-multiplier do not apply."))
    var fromCheckpoint: String?
    @Option(help: "Gates file to write; the search keeps its checkpoint in search/ beside it.") var out: String?
    @Flag(help: "Continue the interrupted search of --out from its checkpoint.") var resume = false

    func validate() throws {
        if fromCheckpoint != nil && (architecture.arch != nil || architecture.config != nil || architecture.widthMultiplier != 1) {
            throw ValidationError("--from-checkpoint: the checkpoint names the network; drop --arch, --config and --width-multiplier")
        }
        try OutputPath.file("a gates file (JSON)", name: "gates.json").check(out)
    }

    func run() throws {
        engine.apply()
        StopSignal.install()
        let prepared = try data.prepare(validationFraction: gate.validationFraction, seed: seed)
        var configuration = try architecture.configuration(input: prepared.inputShape, classes: prepared.classes)
        if let fromCheckpoint {
            configuration = try Checkpoint.read(fromCheckpoint).configuration
        }
        let settings = gate.settings(seed: seed, widthMultiplier: architecture.widthMultiplier, bundled: data.data == nil)
        let source: GateSource = fromCheckpoint.map { .checkpoint(file: $0) } ?? .randomInitialization(seed: seed)
        let file = out ?? "runs/search-\(configuration.architecture.rawValue)-seed\(seed)/gates.json"
        print("search \(configuration.architecture.rawValue) (\(grouped(ComplexityCounter.totalMACs(configuration))) MACs, "
              + "\(configuration.prunableWidths.reduce(0, +)) gates) from \(source.description)")
        print("data   \(prepared.description): \(prepared.train.count) train, \(prepared.validation?.count ?? 0) validation; "
              + "λ \(settings.lambda), r \(settings.targetRatio), Adam lr \(settings.learningRate), \(settings.epochs) epoch\(settings.epochs == 1 ? "" : "s"), "
              + "batch \(settings.batchSize)" + (settings.validateEverySteps.map { ", validated every \($0) steps" } ?? "")
              + ", \(Engine.threads) thread(s)")
        let search = try GateSearch(configuration: configuration, settings: settings, source: source, data: prepared)
        search.outputFile = file
        search.runDirectory = ((file as NSString).deletingLastPathComponent as NSString).appendingPathComponent("search")
        let checkpoint = (search.runDirectory! as NSString).appendingPathComponent(Checkpoint.fileName)
        if !resume && FileManager.default.fileExists(atPath: checkpoint) {
            throw ValidationError("\(checkpoint) holds a search already; continue it with --resume, or pass another --out")
        }
        let display = SearchDisplay(epochs: settings.epochs)
        let result: GateSearchResult
        do { result = try search.run(resume: resume, onEvent: display.handle) } catch {
            display.finish()
            if case .training(.interrupted) = error {
                throw InterruptedRun(resume: ResumeHint.command(adding: "--resume"))
            }
            throw error
        }
        display.finish()
        print("chosen \(describe(result.selection, r: settings.targetRatio))")
        print("time   \(clock(result.seconds)) for gate learning; saved \(file)")
    }
}

struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Turn channel scores (learned gates or `pfs score`) and a MAC budget into a pruned architecture.",
        discussion: """
            The budget is relative to the standard-width network; the result (JSON for `pfs train --config`) \
            also records the kept channel indices and where the scores came from. \(PrunedArchitecture.tieBreakRule).
            """)

    @Argument(help: "Gates file written by `pfs search`, or scores file written by `pfs score`.") var scores: String
    @OptionGroup var budget: BudgetOptions
    @OptionGroup var latency: LatencyBudgetOptions
    @OptionGroup var selection: ChannelSelectionOptions
    @Flag(help: ArgumentHelp(
        "Measure the pruned network's speed (fwd and train images/s at --speed-batch) next to the standard network's.",
        discussion: "With --round-to N the network pruned without rounding is measured too. The networks run one step each in turn (≥ 3 s each); the speed-up is the median of the rounds' ratios."))
    var measureSpeed = false
    @Option(help: "Batch size of --measure-speed.") var speedBatch = 128
    @Option(help: "Output file (default: pruned.json beside the scores file).") var out: String?
    @OptionGroup var engine: EngineOptions

    func validate() throws {
        if latency.maxLatencyMs != nil && (budget.keepMacs != nil || budget.maxMacs != nil) {
            throw ValidationError("give a MAC budget (--keep-macs, --max-macs) or --max-latency-ms, not both")
        }
        guard speedBatch >= 1 else { throw ValidationError("--speed-batch must be at least 1, got \(speedBatch)") }
        try OutputPath.file("a pruned architecture file (JSON)", name: "pruned.json").check(out)
    }

    func run() throws {
        engine.apply()
        let channelScores = try ChannelScores.load(scores)
        // A latency budget's table is found (or measured) once, for the result and for
        // --measure-speed's unrounded variant.
        var latencyTable: (table: LatencyTable, file: String)?
        if latency.maxLatencyMs != nil {
            let full = try PrunedArchitecture.target(searched: channelScores.configuration, fixedWidths: selection.fixedWidths).target
            latencyTable = try LatencyCache.table(for: full, batch: latency.latencyBatch, file: latency.latencyTable)
        }
        func prune(roundTo: Int) throws -> PrunedArchitecture {
            if let milliseconds = latency.maxLatencyMs, let (table, file) = latencyTable {
                return try PrunedArchitecture.make(from: channelScores, limit: table.limit(milliseconds: milliseconds),
                                                   detail: "batch \(table.batch), \(table.machine), table \(file)",
                                                   minChannels: selection.minChannels, roundTo: roundTo,
                                                   fixedWidths: selection.fixedWidths)
            }
            return try PrunedArchitecture.make(from: channelScores, budget: budget.budget, minChannels: selection.minChannels,
                                               roundTo: roundTo, fixedWidths: selection.fixedWidths)
        }
        var pruned = try prune(roundTo: selection.roundTo)
        if let (table, _) = latencyTable {
            pruned.costLimit?.measured = try LatencyTable.measureNetwork(pruned.configuration, batch: table.batch, minSeconds: 3)
        }
        let file = out ?? ((scores as NSString).deletingLastPathComponent as NSString).appendingPathComponent("pruned.json")
        try pruned.save(to: file)
        print("\(pruned.architecture.rawValue): scores of \(channelScores.provenance.description)")
        print(pruned.table())
        print("saved  \(file)  (train it: pfs train --config \(file))")
        if measureSpeed {
            try printSpeed(of: pruned, unrounded: selection.roundTo > 1 ? try prune(roundTo: 1) : nil, scores: channelScores)
        }
    }

    /// Measured fwd/train images/s of the standard network, the result and (with --round-to) the
    /// result without rounding, with the speed-up over the standard network.
    func printSpeed(of pruned: PrunedArchitecture, unrounded: PrunedArchitecture?, scores: ChannelScores) throws {
        let standard = try PrunedArchitecture.target(searched: scores.configuration, fixedWidths: .standard).standard
        var variants: [(String, ChannelConfiguration)] = [("standard", standard)]
        if let plain = unrounded {
            variants.append(("pruned, any width", plain.configuration))
            variants.append(("pruned, --round-to \(selection.roundTo)", pruned.configuration))
        } else {
            variants.append(("pruned", pruned.configuration))
        }
        let bar = ProgressLine()
        var rows = variants.map { [$0.0, Complexity.grouped(ComplexityCounter.totalMACs($0.1))] }
        for (m, mode) in [ModelBenchmark.Mode.fwd, .train].enumerated() {
            bar.update(done: m, total: 2, label: "\(mode.rawValue), \(variants.count) networks in turn")
            let measured = try ModelBenchmark(batch: speedBatch, minSeconds: 3).runInterleaved(variants.map(\.1), mode: mode)
            for (k, row) in measured.enumerated() {
                rows[k] += [String(format: "%.1f", row.imagesPerSecond),
                            String(format: "%.2f×", row.samples.speedUp(over: measured[0].samples))]
            }
        }
        bar.finish()
        print("speed  batch \(speedBatch), \(LatencyTable.Machine.current) (one step of each network in turn, "
              + "≥ 3 s each; medians, the speed-up as the median of each round's ratio)")
        print(renderTable(header: ["network", "MACs", "fwd img/s", "speed-up", "train img/s", "speed-up"], rows: rows))
    }
}

struct PipelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Search → prune → train from scratch → evaluate, in one command (bundled CIFAR-10 sample by default).",
        discussion: """
            With no arguments: ResNet-20 on the bundled sample, 4 gate epochs, 50% of the standard MACs, \
            12 training epochs — a few minutes on two cores. Writes --out/seed<N>/{gates.json, pruned.json, \
            train/}, and summary.json.
            """)

    @OptionGroup var architecture: StandardArchitectureOptions
    @OptionGroup var data: DataOptions
    @OptionGroup var gate: GateOptions
    @OptionGroup var budget: BudgetOptions
    @OptionGroup var selection: ChannelSelectionOptions
    @OptionGroup var engine: EngineOptions

    @Option(help: "Comma-separated seeds: one candidate structure (and training run) per seed.", transform: parseSeedList)
    var seeds: [UInt64] = [1]
    @OptionGroup(title: "Training of the pruned network") var recipe: RecipeFieldOptions
    @Flag(help: "Scratch-B: scale the training epochs by standard MACs / pruned MACs.") var budgetMatched = false
    @Flag(help: "Also train the uniformly narrowed network of the same MACs (the baseline).") var uniform = false
    @Option(help: "Output directory (default runs/pipeline-<arch>).") var out: String?

    func validate() throws {
        try OutputPath.directory("a pipeline directory").check(out)
    }

    func run() throws {
        engine.apply()
        StopSignal.install()
        let bundled = data.data == nil
        var settings = PipelineSettings()
        settings.architecture = architecture.arch ?? .resnet20
        settings.gate = gate.settings(seed: seeds[0], widthMultiplier: architecture.widthMultiplier, bundled: bundled)
        settings.budget = budget.budget
        settings.minChannels = selection.minChannels
        settings.roundTo = selection.roundTo
        settings.fixedWidths = selection.fixedWidths
        settings.seeds = seeds
        settings.uniformBaseline = uniform
        settings.budgetMatched = budgetMatched
        settings.recipe = recipe.recipe(seed: seeds[0], defaultEpochs: bundled ? 12 : nil)
        try RecipeFieldOptions.check(settings.recipe)
        let directory = out ?? "runs/pipeline-\(settings.architecture.rawValue)"

        let searchData = try data.prepare(validationFraction: settings.gate.validationFraction, seed: seeds[0])
        let trainData = try data.prepare(validationFraction: 0, seed: seeds[0])
        print("pipeline \(settings.architecture.rawValue) on \(trainData.description), budget: \(settings.budget.description), "
              + "seeds \(seeds.map(String.init).joined(separator: ",")), \(Engine.threads) thread(s) → \(directory)")
        var searchDisplay: SearchDisplay?
        var trainDisplay: TrainingDisplay?
        let pipeline = Pipeline(settings: settings, directory: directory)
        let report: PipelineReport
        do {
            report = try pipeline.run(searchData: searchData, trainData: trainData) { event in
                switch event {
                case let .stage(seed, name):
                    searchDisplay?.finish()
                    trainDisplay?.finish()
                    print("\n== \(name)" + (seed.map { " (seed \($0))" } ?? ""))
                    searchDisplay = SearchDisplay(epochs: settings.gate.epochs)
                    trainDisplay = nil
                case let .search(e): searchDisplay?.handle(e)
                case let .train(e):
                    if trainDisplay == nil {
                        trainDisplay = TrainingDisplay(totalEpochs: settings.recipe.epochs)
                    }
                    trainDisplay?.handle(e)
                }
            }
        } catch {
            searchDisplay?.finish()
            trainDisplay?.finish()
            if case .training(.interrupted) = error { throw InterruptedRun(resume: ResumeHint.command(adding: nil)) }
            throw error
        }
        trainDisplay?.finish()
        print(PipelineSummary.text(report, settings: settings))
        print("saved  \(directory)/summary.json, \(try writeReport(of: directory))")
    }
}

/// The pipeline's closing summary: widths per layer, MACs, params, accuracy and time per stage.
enum PipelineSummary {
    static func text(_ report: PipelineReport, settings: PipelineSettings) -> String {
        var lines: [String] = []
        for c in report.candidates {
            let selection = c.pruned.scores.selectedEpoch.flatMap { epoch in
                c.pruned.scores.rule.map { GateSelection(epoch: epoch, step: c.pruned.scores.selectedStep, rule: $0) }
            }
            lines.append("\n== seed \(c.seed): gates of \(describe(selection, r: settings.gate.targetRatio))")
            lines.append(c.pruned.table())
        }
        lines.append("\n== summary")
        var rows: [[String]] = [["network", "MACs", "% std", "params", "test acc", "search", "prune", "train"]]
        let standardMACs = report.candidates.first?.pruned.macs.standard ?? 0
        for c in report.candidates {
            rows.append(["pruned, seed \(c.seed)", grouped(c.training.macs),
                         String(format: "%.1f%%", 100 * Double(c.training.macs) / Double(max(standardMACs, 1))),
                         grouped(c.training.params), c.training.test.map { percent($0.accuracy) } ?? "-",
                         clock(c.searchSeconds), String(format: "%.2fs", c.pruneSeconds), clock(c.trainSeconds)])
        }
        if let u = report.uniform {
            rows.append(["uniform ×" + String(format: "%.3f", report.uniformFactor ?? 0), grouped(u.macs),
                         String(format: "%.1f%%", 100 * Double(u.macs) / Double(max(standardMACs, 1))),
                         grouped(u.params), u.test.map { percent($0.accuracy) } ?? "-", "-", "-", clock(u.trainingSeconds)])
        }
        let widths = (0..<rows[0].count).map { col in rows.map { $0[col].count }.max() ?? 0 }
        for (i, row) in rows.enumerated() {
            lines.append(row.enumerated().map { col, cell in
                col == 0 ? cell.padding(toLength: widths[0], withPad: " ", startingAt: 0) : pad(cell, widths[col] + 2)
            }.joined())
            if i == 0 { lines.append(String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1))) }
        }
        lines.append("total time \(clock(report.totalSeconds))")
        return lines.joined(separator: "\n")
    }
}

struct ScaleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "Uniformly narrow a standard architecture to a MAC budget (the baseline of SPEC §8).",
        discussion: "Finds the largest factor s such that every width × s (rounded) fits the budget; writes the configuration.")

    @Option(help: "Architecture.") var arch: Architecture = .resnet20
    @Option(help: "Input as C×H×W (default 3x32x32).") var input: String = "3x32x32"
    @Option(help: "Number of classes.") var classes: Int = 10
    @OptionGroup var budget: BudgetOptions
    @Option(help: "Output configuration file.") var out: String = "uniform.json"

    func validate() throws {
        _ = try parseInputShape(input)
        guard classes >= 1 else { throw ValidationError("--classes must be at least 1, got \(classes)") }
        try OutputPath.file("a configuration file (JSON)", name: "uniform.json").check(out)
    }

    func run() throws {
        let standard = try ChannelConfiguration.standard(arch, input: try parseInputShape(input), classes: classes)
        let standardMACs = ComplexityCounter.totalMACs(standard)
        let target = try budget.budget.macs(standardMACs: standardMACs)
        let fit = try UniformScaling.fit(standard, budgetMACs: target)
        try AtomicFile.write(fit.configuration.jsonData(), to: out)
        let macs = ComplexityCounter.totalMACs(fit.configuration)
        print("\(arch.rawValue) × \(String(format: "%.4f", fit.factor)): \(grouped(macs)) MACs "
              + "(\(String(format: "%.2f%%", 100 * Double(macs) / Double(standardMACs))) of \(grouped(standardMACs))), "
              + "budget \(grouped(target)), \(grouped(ComplexityCounter.totalParams(fit.configuration))) params")
        print(fit.configuration.widths.map { "\($0.name) \($0.channels)" }.joined(separator: ", "))
        print("saved  \(out)  (train it: pfs train --config \(out))")
    }
}
