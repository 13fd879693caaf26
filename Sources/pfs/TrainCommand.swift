import ArgumentParser
import Foundation
import PFSModels
import PFSPruning
import PFSTensor
import PFSTraining

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a network from scratch (a standard architecture or a configuration file).",
        discussion: """
            Writes to --out: checkpoint.safetensors (weights, BatchNorm statistics, optimiser state; \
            readable by numpy/PyTorch), architecture.json, metrics.jsonl (one line per epoch) and \
            result.json. The checkpoint is replaced atomically after every epoch and on Ctrl-C; \
            `--resume` continues exactly where it stopped (same options). The test part is read \
            once, after the last epoch, to report.
            """)

    @OptionGroup var architecture: ArchitectureOptions
    @OptionGroup var data: DataOptions
    @OptionGroup var recipe: RecipeOptions
    @OptionGroup var engine: EngineOptions

    @Option(help: "Fraction of the training data held out for validation (seeded split; 0 = none).")
    var validationFraction: Double = 0

    @Option(help: "Run directory (default: runs/<architecture>-seed<seed>).")
    var out: String?

    @Flag(help: "Continue the run in --out from its checkpoint.")
    var resume = false

    @Option(help: ArgumentHelp(
        "Also keep the weights after these epochs, e.g. 0,1,5,10,final (0 = the initial weights).",
        discussion: "Saved as epoch-<e>.safetensors in --out: the checkpoints `pfs search --from-checkpoint` and "
            + "`pfs score --checkpoint` start from."),
            transform: parseEpochList)
    var keepEpochs: [EpochReference] = []

    @Option(help: ArgumentHelp(
        "Network Slimming: add the L1 penalty S·Σ|γ| on the BatchNorm scales at the gate positions (e.g. 1e-5).",
        discussion: "Score the result with `pfs score --criterion network-slimming --checkpoint RUN`."))
    var slimming: Float?

    func validate() throws {
        guard validationFraction >= 0 && validationFraction < 1 else {
            throw ValidationError("--validation-fraction must be in [0, 1), got \(validationFraction)")
        }
        if let slimming, !(slimming.isFinite && slimming > 0) {
            throw ValidationError("--slimming must be a positive number such as 1e-5, got \(slimming)")
        }
        let epochs = recipe.recipe().epochs
        for epoch in keepEpochs where epoch.resolved(epochs: epochs) > epochs && !recipe.budgetMatched {
            throw ValidationError("--keep-epochs: \(epoch) is past the run's \(epochs) epochs")
        }
        try OutputPath.directory("a run directory").check(out)
    }

    func run() throws {
        engine.apply()
        StopSignal.install()
        let prepared = try data.prepare(validationFraction: validationFraction, seed: recipe.seed)
        let configuration = try architecture.configuration(input: prepared.inputShape, classes: prepared.classes)
        let recipe = try self.recipe.recipe(for: configuration)
        let directory = out ?? "runs/\(configuration.architecture.rawValue)-seed\(recipe.seed)"
        print("train  \(configuration.architecture.rawValue), \(grouped(ComplexityCounter.totalMACs(configuration))) MACs, "
              + "\(grouped(ComplexityCounter.totalParams(configuration))) params")
        print("data   \(prepared.description): \(prepared.train.count) train"
              + (prepared.validation.map { ", \($0.count) validation" } ?? "")
              + (prepared.test.map { ", \($0.count) test" } ?? "") + " images")
        print("recipe \(recipe.summary), \(Engine.threads) thread(s) → \(directory)")
        let display = TrainingDisplay(totalEpochs: recipe.epochs)
        var job = TrainingJob(configuration: configuration, recipe: recipe, data: prepared, runDirectory: directory,
                              resume: resume)
        job.keepEpochs = Set(keepEpochs.map { $0.resolved(epochs: recipe.epochs) })
        if let past = job.keepEpochs.first(where: { $0 > recipe.epochs }) {
            throw ValidationError("--keep-epochs: \(past) is past the run's \(recipe.epochs) epochs")
        }
        if let slimming {
            job.penalties = { [BatchNormL1Penalty(batchNorms: $0.prunableUnits.map(\.batchNorm), strength: slimming)] }
            print("slimming L1 penalty \(slimming)·Σ|γ| on the BatchNorm scales of \(configuration.prunableWidths.count) prunable widths")
        }
        let result: TrainingResult
        do { result = try job.run(onEvent: display.handle) } catch {
            display.finish()
            if case .interrupted = error { throw InterruptedRun(resume: ResumeHint.command(adding: "--resume")) }
            throw error
        }
        display.finish()
        if let test = result.test {
            print("test   accuracy \(percent(test.accuracy)), loss \(String(format: "%.4f", test.loss)) "
                  + "(\(test.images) images); training time \(clock(result.trainingSeconds))")
        }
        print("saved  \(directory)/{checkpoint.safetensors, architecture.json, metrics.jsonl, result.json}")
    }
}

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Evaluate a checkpoint (a run directory or a .safetensors file) on data.")

    @Argument(help: "Run directory or checkpoint file.")
    var checkpoint: String

    @OptionGroup var data: DataOptions
    @OptionGroup var engine: EngineOptions

    @Option(help: "Which part to evaluate: test or train.")
    var part: String = "test"

    @Option(help: "Images per batch.")
    var batchSize: Int = 250

    func validate() throws {
        guard ["test", "train"].contains(part) else { throw ValidationError("--part must be test or train, got \(part)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
    }

    func run() throws {
        engine.apply()
        let contents = try Checkpoint.read(checkpoint)
        let prepared = try data.prepare(validationFraction: 0, seed: 0)
        guard let dataset = part == "test" ? prepared.test : prepared.train else {
            throw ValidationError("\(prepared.description) has no test part; use --part train or a data folder with test/")
        }
        let network = try ModelBuilder.build(contents.configuration, seed: 0)
        try Checkpoint.restore(contents, into: network)
        let normalization = contents.state?.normalization ?? prepared.normalization
        let evaluation = try Evaluator.evaluate(network, on: dataset, normalization: normalization, batchSize: batchSize)
        print("\(contents.configuration.architecture.rawValue) from \(contents.file) on \(prepared.description) (\(part)): "
              + "accuracy \(percent(evaluation.accuracy)) (\(evaluation.correct)/\(evaluation.images)), "
              + "loss \(String(format: "%.4f", evaluation.loss))")
    }
}

struct FlopsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flops",
        abstract: "Per-layer MACs and parameters of an architecture or configuration file.",
        discussion: "1 MAC = one multiply + one add (FLOPs = 2 × MACs); conv and linear layers only (SPEC §5).")

    @OptionGroup var architecture: ArchitectureOptions

    @Option(help: "Input as C×H×W, e.g. 3x32x32 (default: 3x32x32, or 3x224x224 for resnet18/resnet50).")
    var input: String?

    @Option(help: "Number of classes.")
    var classes: Int = 10

    @Flag(help: "Print the per-layer records as JSON.")
    var json = false

    @Option(help: "Also write the channel configuration JSON to this file.")
    var save: String?

    @Option(help: "Batch size of the memory estimate printed with the table.")
    var batch: Int = 128

    func validate() throws {
        _ = try parsedInput()
        guard classes >= 1 else { throw ValidationError("--classes must be at least 1, got \(classes)") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        try OutputPath.file("a configuration file (JSON)", name: "config.json").check(save, option: "--save")
    }

    func parsedInput() throws -> InputShape? { try input.map(parseInputShape) }

    func run() throws {
        let configuration: ChannelConfiguration
        if let file = architecture.config {
            configuration = try ConfigurationFile.read(file)
        } else {
            let arch = architecture.arch ?? .resnet20
            let defaultInput: InputShape = arch.family == .imageNetResNet ? .imagenet : .cifar
            configuration = try ChannelConfiguration.standard(arch, input: try parsedInput() ?? defaultInput,
                                                              classes: classes,
                                                              widthMultiplier: architecture.widthMultiplier)
        }
        let complexity = ComplexityCounter.count(configuration)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(complexity), as: UTF8.self))
        } else {
            print("\(configuration.architecture.rawValue), input \(configuration.input), \(configuration.classes) classes")
            print(complexity.table(), terminator: "")
            let training = MemoryEstimate.training(configuration, batch: batch, threads: Engine.threads)
            let inference = MemoryEstimate.inference(configuration, batch: batch, threads: Engine.threads)
            print("memory estimate at batch \(batch), \(Engine.threads) thread(s): training about "
                  + "\(MemoryEstimate.describe(training.totalBytes)), inference about \(MemoryEstimate.describe(inference.totalBytes)) "
                  + "(\(MemoryEstimate.describe(MemoryEstimate.availableBytes)) available)")
        }
        if let save { try AtomicFile.write(configuration.jsonData(), to: save) }
    }
}
