import ArgumentParser
import Foundation
import PFSBench
import PFSData
import PFSModels
import PFSPruning
import PFSTraining

extension Architecture: ExpressibleByArgument {}
extension DatasetKind: ExpressibleByArgument {}
extension ScheduleKind: ExpressibleByArgument {}
extension RecipePreset: ExpressibleByArgument {}
extension GateSearchPreset: ExpressibleByArgument {}
extension FixedWidths: ExpressibleByArgument {}

/// Where the images come from.
struct DataOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Data directory (CIFAR-10/100 binary files or CLASS/*.png folders).",
                               discussion: "Default: the CIFAR-10 sample bundled with pfs (1,500 train / 500 test)."))
    var data: String?

    @Option(help: "Format of --data: cifar10, cifar100 or folder (default: detected).")
    var dataset: DatasetKind?

    @Option(help: "Resize every image to N×N (or H×W, e.g. 64x48) pixels (default: keep the size; 224 with --stream).")
    var imageSize: String?

    @Flag(help: ArgumentHelp(
        "Stream an image folder from disk instead of loading it (ImageNet-scale data).",
        discussion: "RandomResizedCrop + flip for training, resize + centre crop for evaluation, at --image-size N "
            + "(default 224), ImageNet mean/std; DIR/CLASS or DIR/train/CLASS with DIR/val as the part reported."))
    var stream = false

    @Option(help: "With --stream: decoding threads.") var decodeWorkers: Int = 2

    func validate() throws {
        let size = try parsedImageSize()
        if stream {
            guard data != nil, dataset == nil || dataset == .folder else {
                throw ValidationError("--stream reads an image folder: give --data DIR (and no --dataset other than folder)")
            }
            if let size, size.height != size.width {
                throw ValidationError("--stream takes a square --image-size N, got \(imageSize!)")
            }
            guard (1...256).contains(decodeWorkers) else {
                throw ValidationError("--decode-workers must be 1 … 256, got \(decodeWorkers)")
            }
        }
    }

    func parsedImageSize() throws -> (height: Int, width: Int)? { try Self.parseImageSize(imageSize) }

    /// Parses `N` or `HxW` (`--image-size`, a plan's `imageSize`).
    static func parseImageSize(_ imageSize: String?) throws -> (height: Int, width: Int)? {
        guard let imageSize else { return nil }
        let parts = imageSize.lowercased().split(separator: "x").map { Int($0) }
        guard (parts.count == 1 || parts.count == 2),
              parts.allSatisfy({ ($0 ?? 0) >= 1 && ($0 ?? 0) <= ImageDataset.maximumSide }) else {
            throw ValidationError("--image-size: expected N or HxW with sides of 1 … \(ImageDataset.maximumSide) pixels, got \(imageSize)")
        }
        return (parts[0]!, parts.count == 2 ? parts[1]! : parts[0]!)
    }

    /// Loads the data, with `validationFraction` split off the training part using `seed`.
    func prepare(validationFraction: Double, seed: UInt64) throws -> PreparedData {
        if stream {
            return try PreparedData.stream(folder: data!, size: try parsedImageSize()?.height ?? 224,
                                           validationFraction: validationFraction, splitSeed: seed, workers: decodeWorkers)
        }
        let source = try DataSource.resolve(path: data, kind: dataset)
        return try PreparedData.load(source, imageSize: try parsedImageSize(), validationFraction: validationFraction,
                                     splitSeed: seed)
    }
}

/// A standard architecture, optionally widened.
struct StandardArchitectureOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Architecture: \(Architecture.allCases.map(\.rawValue).joined(separator: ", ")).",
                               discussion: "Default resnet20."))
    var arch: Architecture?

    @Option(help: "Multiply every width of --arch by this factor (base-width expansion).")
    var widthMultiplier: Double = 1

    func validate() throws {
        guard widthMultiplier.isFinite && widthMultiplier > 0 else {
            throw ValidationError("--width-multiplier must be a positive number, got \(widthMultiplier)")
        }
    }

    /// The standard configuration for data of `input` shape and `classes` classes.
    func configuration(input: InputShape, classes: Int) throws -> ChannelConfiguration {
        do {
            return try ChannelConfiguration.standard(arch ?? .resnet20, input: input, classes: classes,
                                                     widthMultiplier: widthMultiplier)
        } catch {
            if widthMultiplier != 1 { throw ValidationError("--width-multiplier \(widthMultiplier): \(error)") }
            throw error
        }
    }
}

/// Which network: a standard architecture or a configuration file.
struct ArchitectureOptions: ParsableArguments {
    @OptionGroup var standard: StandardArchitectureOptions

    @Option(help: "Channel configuration JSON (architecture.json of a run, or a pruned architecture from `pfs prune`).")
    var config: String?

    var arch: Architecture? { standard.arch }
    var widthMultiplier: Double { standard.widthMultiplier }

    func validate() throws {
        if standard.arch != nil && config != nil { throw ValidationError("give --arch or --config, not both") }
        if config != nil && standard.widthMultiplier != 1 {
            throw ValidationError("--width-multiplier applies to --arch, not to --config")
        }
    }

    /// The configuration for data of `input` shape and `classes` classes.
    func configuration(input: InputShape, classes: Int) throws -> ChannelConfiguration {
        if let config {
            let configuration = try ConfigurationFile.read(config)
            guard configuration.input == input, configuration.classes == classes else {
                throw ValidationError("\(config): the configuration is for input \(configuration.input) and "
                    + "\(configuration.classes) classes, but the data has \(input) images in \(classes) classes")
            }
            return configuration
        }
        return try standard.configuration(input: input, classes: classes)
    }
}

/// The fields of a training recipe: a preset (`--recipe`), then any flag given overrides its
/// field. `pfs train` adds the seed and Scratch-B (``RecipeOptions``); `pfs pipeline` its seeds.
struct RecipeFieldOptions: ParsableArguments {
    @Option(name: .customLong("recipe"), help: ArgumentHelp(
        "Starting point of the recipe: cifar or imagenet (SPEC §6); the flags below override its fields.",
        discussion: "imagenet: 150 epochs, batch 256, Nesterov SGD lr 0.05 × batch/256, momentum 0.9, weight decay 4e-5 "
            + "not on BatchNorm/biases/depthwise, cosine after 5 warm-up epochs, label smoothing 0.1."))
    var preset: RecipePreset = .cifar
    @Option(help: "Epochs (cifar 30, 12 for pfs pipeline on the bundled sample; imagenet 150).") var epochs: Int?
    @Option(help: "Images per batch (cifar 128, imagenet 256).") var batchSize: Int?
    @Option(name: .customLong("lr"), help: "Base learning rate, SGD (cifar 0.1, imagenet 0.05 × batch/256).")
    var learningRate: Float?
    @Option(help: "SGD momentum (0.9).") var momentum: Float?
    @Flag(inversion: .prefixedNo, help: "Nesterov momentum (cifar off, imagenet on).") var nesterov: Bool?
    @Option(help: "L2 weight decay (cifar 5e-4 on every parameter, imagenet 4e-5).") var weightDecay: Float?
    @Option(help: ArgumentHelp("Comma-separated parameter groups without weight decay: batchnorm, bias, depthwise, or none.",
                               discussion: "cifar: none; imagenet: batchnorm,bias,depthwise."),
            transform: parseDecayExemptions)
    var noWeightDecayOn: [WeightDecayExemption]?
    @Option(help: "Learning-rate schedule per step: cosine, multistep (×0.1 at 50% and 75%) or constant (cosine).")
    var schedule: ScheduleKind?
    @Option(help: "Linear warm-up epochs before the schedule (cifar 0, imagenet 5).") var warmupEpochs: Int?
    @Option(help: "Label smoothing of the cross-entropy (cifar 0, imagenet 0.1).") var labelSmoothing: Float?
    @Flag(help: "No random crop / flip.") var noAugment = false

    func validate() throws { try Self.check(recipe(seed: 1)) }

    /// Throws the validation error of `recipe`, naming the flag.
    static func check(_ recipe: TrainingRecipe) throws {
        do { try recipe.validate() } catch { throw ValidationError(flagWording(error, flags)) }
    }

    /// The flag behind each recipe field.
    static let flags = ["epochs": "--epochs", "batch size": "--batch-size", "learning rate": "--lr", "momentum": "--momentum",
                        "nesterov": "--nesterov", "weight decay": "--weight-decay", "label smoothing": "--label-smoothing",
                        "warm-up epochs": "--warmup-epochs", "weight decay exemptions": "--no-weight-decay-on"]

    /// The preset's recipe with every given flag applied (the learning rate of the imagenet preset
    /// follows --batch-size unless --lr is given); `defaultEpochs` replaces the preset's epochs
    /// when --epochs is not given.
    func recipe(seed: UInt64, defaultEpochs: Int? = nil) -> TrainingRecipe {
        var recipe = preset.recipe(batchSize: batchSize)
        if let epochs = epochs ?? defaultEpochs { recipe.epochs = epochs }
        if let learningRate { recipe.learningRate = learningRate }
        if let momentum { recipe.momentum = momentum }
        if let nesterov { recipe.nesterov = nesterov }
        if let weightDecay { recipe.weightDecay = weightDecay }
        if let noWeightDecayOn { recipe.noWeightDecayOn = noWeightDecayOn }
        if let schedule { recipe.schedule = schedule }
        if let warmupEpochs { recipe.warmupEpochs = warmupEpochs }
        if let labelSmoothing { recipe.labelSmoothing = labelSmoothing }
        if noAugment { recipe.augment = false }
        recipe.seed = seed
        return recipe
    }
}

/// The training recipe of `pfs train`: its fields, the seed and Scratch-B.
struct RecipeOptions: ParsableArguments {
    @OptionGroup var fields: RecipeFieldOptions
    @Option(parsing: .unconditional, help: "Seed of the weights, data order, augmentation and validation split.",
            transform: parseSeed)
    var seed: UInt64 = 1
    @Flag(help: "Scratch-B: scale the epochs by (standard MACs / this network's MACs), the compute-matched budget.")
    var budgetMatched = false

    func recipe() -> TrainingRecipe { fields.recipe(seed: seed) }

    /// The recipe for `configuration`, with Scratch-B applied when asked.
    func recipe(for configuration: ChannelConfiguration) throws -> TrainingRecipe {
        budgetMatched ? try recipe().budgetMatched(for: configuration) : recipe()
    }
}

/// Parses `--no-weight-decay-on` text such as `batchnorm,bias` (or `none`) into groups in their canonical order.
func parseDecayExemptions(_ text: String) throws -> [WeightDecayExemption] {
    let names = text.lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    if names == ["none"] { return [] }
    var groups = Set<WeightDecayExemption>()
    for name in names {
        guard let group = WeightDecayExemption(rawValue: name) else {
            throw ValidationError("--no-weight-decay-on: expected batchnorm, bias, depthwise or none, got \(name)")
        }
        groups.insert(group)
    }
    return WeightDecayExemption.allCases.filter(groups.contains)
}

/// Parses `--input` text such as `3x32x32` (C×H×W).
func parseInputShape(_ text: String) throws -> InputShape {
    let parts = text.lowercased().split(separator: "x").map { Int($0) ?? 0 }
    guard parts.count == 3, parts.allSatisfy({ $0 >= 1 }) else {
        throw ValidationError("--input: expected C×H×W such as 3x32x32, got \(text)")
    }
    return InputShape(channels: parts[0], height: parts[1], width: parts[2])
}

/// Thousands separators: 1234567 → "1,234,567".
func grouped(_ value: Int) -> String { Complexity.grouped(value) }

/// "93.21%".
func percent(_ fraction: Double) -> String { String(format: "%.2f%%", fraction * 100) }

/// "1:02:03" or "2:03".
func clock(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "--:--" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
}

extension ModelBenchmark.Mode: ExpressibleByArgument {}

/// Parses `0,1,5,final` (`--keep-epochs`, checkpoint epochs).
func parseEpochList(_ text: String) throws -> [EpochReference] {
    let values = text.split(separator: ",", omittingEmptySubsequences: false).map { EpochReference(text: String($0)) }
    guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else {
        throw ValidationError("expected comma-separated epochs (numbers ≥ 0 or final) such as 0,1,5,final, got \(text)")
    }
    return values.map { $0! }
}

/// Parses `1,2,3` (seeds).
func parseSeedList(_ text: String) throws -> [UInt64] {
    let values = text.split(separator: ",", omittingEmptySubsequences: false)
        .map { UInt64($0.trimmingCharacters(in: .whitespaces)) }
    guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else {
        throw ValidationError("expected comma-separated non-negative integers such as 1,2,3, got \(text)")
    }
    guard Set(values).count == values.count else { throw ValidationError("each seed once, got \(text)") }
    return values.map { $0! }
}

/// Parses a seed (`--seed`), with a message for negative or non-integer values.
func parseSeed(_ text: String) throws -> UInt64 {
    guard let value = UInt64(text.trimmingCharacters(in: .whitespaces)) else {
        throw ValidationError("expected a whole number 0 … \(UInt64.max), got \(text)")
    }
    return value
}

/// A library error (`field: expected …, got …`) reworded with the flag the user typed.
func flagWording(_ error: Error, _ flags: [String: String]) -> String {
    let text = "\(error)"
    for (field, flag) in flags where text.hasPrefix(field + ":") {
        return flag + text.dropFirst(field.count)
    }
    return text
}
