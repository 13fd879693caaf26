import PFSModels
import PFSNN

/// How the learning rate changes over a run. Every schedule is applied per optimiser step.
public enum ScheduleKind: String, Codable, CaseIterable, Sendable {
    /// Half-cosine from the base rate to 0 over all steps (the PyTorch peer's recipe).
    case cosine
    /// ×0.1 at 50% and 75% of the steps (the paper's CIFAR recipe, SPEC §6).
    case multistep
    /// The base rate throughout.
    case constant
}

/// A group of parameters that weight decay can be turned off for.
public enum WeightDecayExemption: String, Codable, CaseIterable, Sendable {
    /// BatchNorm scales γ and shifts β.
    case batchNorm = "batchnorm"
    /// Biases of convolutions and of the classifier.
    case bias
    /// Depthwise convolution weights (MobileNets).
    case depthwise

    /// The parameter roles of the group.
    public var roles: Set<ParameterRole> {
        switch self {
        case .batchNorm: return [.batchNormScale, .batchNormShift]
        case .bias: return [.bias]
        case .depthwise: return [.depthwiseWeight]
        }
    }
}

/// A named starting point for a ``TrainingRecipe``; explicit settings override it.
public enum RecipePreset: String, Codable, CaseIterable, Sendable {
    /// The CIFAR defaults of ``TrainingRecipe/init()``.
    case cifar
    /// The ImageNet reference of SPEC §6 (``TrainingRecipe/imageNet(batchSize:)``).
    case imagenet

    /// The preset's recipe for `batchSize` images per batch (nil: the preset's own batch size).
    public func recipe(batchSize: Int? = nil) -> TrainingRecipe {
        switch self {
        case .cifar:
            var recipe = TrainingRecipe()
            if let batchSize { recipe.batchSize = batchSize }
            return recipe
        case .imagenet: return TrainingRecipe.imageNet(batchSize: batchSize ?? 256)
        }
    }
}

/// Everything that decides how a network is trained, apart from the data and the network.
///
/// Defaults are the CIFAR recipe of the accuracy evidence: 30 epochs, batch 128, SGD lr 0.1,
/// momentum 0.9, weight decay 5e-4 (on every parameter, like `torch.optim.SGD(weight_decay:)`),
/// cosine schedule per step, random crop (4-pixel zero padding) and horizontal flip, seed 1.
/// ``imageNet(batchSize:)`` is the ImageNet reference.
public struct TrainingRecipe: Codable, Equatable, Sendable {
    public var epochs: Int = 30
    public var batchSize: Int = 128
    public var learningRate: Float = 0.1
    public var momentum: Float = 0.9
    public var nesterov: Bool = false
    public var weightDecay: Float = 5e-4
    public var schedule: ScheduleKind = .cosine
    public var labelSmoothing: Float = 0
    /// Parameter groups without weight decay (sorted, no repeats; empty = decay on every parameter).
    public var noWeightDecayOn: [WeightDecayExemption] = []
    /// Linear warm-up over the first epochs, per step (factor (s+1)/steps); the schedule then runs
    /// over the remaining steps. 0 = none.
    public var warmupEpochs: Int = 0
    /// Random crop with 4-pixel zero padding and horizontal flip on the training images.
    public var augment: Bool = true
    /// Seeds the weight initialisation and the data order/augmentation.
    public var seed: UInt64 = 1

    public init() {}

    /// The ImageNet reference (SPEC §6): 150 epochs, SGD with Nesterov momentum 0.9, learning rate
    /// 0.05 × batch / 256, weight decay 4e-5 except on BatchNorm, biases and depthwise weights,
    /// cosine schedule after a 5-epoch linear warm-up, label smoothing 0.1, augmentation on
    /// (RandomResizedCrop + flip on streamed folders), seed 1. The warm-up length is pfs's choice:
    /// SPEC §6 asks for a warm-up without fixing it.
    public static func imageNet(batchSize: Int = 256) -> TrainingRecipe {
        var recipe = TrainingRecipe()
        recipe.epochs = 150
        recipe.batchSize = batchSize
        recipe.learningRate = 0.05 * Float(batchSize) / 256
        recipe.momentum = 0.9
        recipe.nesterov = true
        recipe.weightDecay = 4e-5
        recipe.noWeightDecayOn = [.batchNorm, .bias, .depthwise]
        recipe.schedule = .cosine
        recipe.warmupEpochs = 5
        recipe.labelSmoothing = 0.1
        return recipe
    }

    /// Reads every field; those added after the first release (``noWeightDecayOn``,
    /// ``warmupEpochs``) take their defaults when absent, so older checkpoints still resume.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epochs = try c.decode(Int.self, forKey: .epochs)
        batchSize = try c.decode(Int.self, forKey: .batchSize)
        learningRate = try c.decode(Float.self, forKey: .learningRate)
        momentum = try c.decode(Float.self, forKey: .momentum)
        nesterov = try c.decode(Bool.self, forKey: .nesterov)
        weightDecay = try c.decode(Float.self, forKey: .weightDecay)
        schedule = try c.decode(ScheduleKind.self, forKey: .schedule)
        labelSmoothing = try c.decode(Float.self, forKey: .labelSmoothing)
        noWeightDecayOn = try c.decodeIfPresent([WeightDecayExemption].self, forKey: .noWeightDecayOn) ?? []
        warmupEpochs = try c.decodeIfPresent(Int.self, forKey: .warmupEpochs) ?? 0
        augment = try c.decode(Bool.self, forKey: .augment)
        seed = try c.decode(UInt64.self, forKey: .seed)
    }

    /// One line: "30 epochs, batch 128, SGD lr 0.1 cosine, momentum 0.9, weight decay 0.0005, seed 1"
    /// plus whatever differs from plain SGD (Nesterov, exemptions, warm-up, smoothing, no augmentation).
    public var summary: String {
        var text = "\(epochs) epochs, batch \(batchSize), SGD lr \(learningRate) \(schedule.rawValue), momentum \(momentum)"
        if nesterov { text += " (Nesterov)" }
        text += ", weight decay \(weightDecay)"
        if !noWeightDecayOn.isEmpty { text += " (not on \(noWeightDecayOn.map(\.rawValue).joined(separator: ", ")))" }
        if warmupEpochs > 0 { text += ", \(warmupEpochs) warm-up epochs" }
        if labelSmoothing > 0 { text += ", label smoothing \(labelSmoothing)" }
        if !augment { text += ", no augmentation" }
        return text + ", seed \(seed)"
    }

    /// The weight decay of the optimiser: the rate, minus the exempt groups.
    public var weightDecaySetting: WeightDecay {
        WeightDecay(weightDecay, excluding: noWeightDecayOn.reduce(into: Set<ParameterRole>()) { $0.formUnion($1.roles) })
    }

    /// Bounds far beyond any real run, so that step counts and Scratch-B epochs cannot overflow.
    public static let maximumEpochs = 100_000
    public static let maximumBatchSize = 1 << 20

    /// Throws a ``TrainingError/setting(field:expected:got:)`` naming the first bad field.
    public func validate() throws(TrainingError) {
        func check(_ ok: Bool, _ field: String, _ expected: String, _ got: String) throws(TrainingError) {
            if !ok { throw .setting(field: field, expected: expected, got: got) }
        }
        try check(epochs >= 1 && epochs <= Self.maximumEpochs, "epochs", "1 … \(Self.maximumEpochs)", "\(epochs)")
        try check(batchSize >= 1 && batchSize <= Self.maximumBatchSize, "batch size", "1 … \(Self.maximumBatchSize)",
                  "\(batchSize)")
        try check(learningRate.isFinite && learningRate > 0, "learning rate", "a positive number", "\(learningRate)")
        try check(momentum.isFinite && momentum >= 0 && momentum < 1, "momentum", "a number in [0, 1)", "\(momentum)")
        try check(!nesterov || momentum > 0, "nesterov", "a positive momentum", "momentum \(momentum)")
        try check(weightDecay.isFinite && weightDecay >= 0, "weight decay", "0 or a positive number", "\(weightDecay)")
        try check(labelSmoothing.isFinite && labelSmoothing >= 0 && labelSmoothing < 1, "label smoothing",
                  "a number in [0, 1)", "\(labelSmoothing)")
        try check(warmupEpochs >= 0 && warmupEpochs < epochs, "warm-up epochs", "0 … \(epochs - 1) (fewer than the epochs)",
                  "\(warmupEpochs)")
        let canonical = WeightDecayExemption.allCases.filter(noWeightDecayOn.contains)
        try check(noWeightDecayOn == canonical, "weight decay exemptions", "distinct groups in the order "
                  + WeightDecayExemption.allCases.map(\.rawValue).joined(separator: ", "),
                  noWeightDecayOn.map(\.rawValue).joined(separator: ", "))
    }

    /// The per-step schedule for `stepsPerEpoch` optimiser steps per epoch.
    /// With ``warmupEpochs``, the warm-up's steps come first and the schedule spans the rest.
    public func learningRateSchedule(stepsPerEpoch: Int) -> LearningRateSchedule {
        let warmup = warmupEpochs * stepsPerEpoch
        let total = epochs * stepsPerEpoch - warmup
        let main: LearningRateSchedule
        switch schedule {
        case .cosine: main = .cosine(total: total)
        case .multistep: main = .multiStep(milestones: [total / 2, total * 3 / 4], gamma: 0.1)
        case .constant: main = .constant
        }
        return warmup > 0 ? .warmup(steps: warmup, then: main) : main
    }

    /// Scratch-B (SPEC §6): the epochs that give a network of `prunedMACs` the compute of
    /// `epochs` epochs of a network of `fullMACs`, rounded to the nearest epoch.
    public static func budgetMatchedEpochs(_ epochs: Int, fullMACs: Int, prunedMACs: Int) -> Int {
        guard prunedMACs > 0 else { return epochs }
        let scaled = (Double(epochs) * Double(fullMACs) / Double(prunedMACs)).rounded()
        return max(1, scaled.isFinite ? Int(min(scaled, Double(Int32.max))) : epochs)
    }

    /// This recipe with Scratch-B applied for `configuration`: epochs scaled by the MACs of the
    /// standard network of its architecture, input and classes over its own MACs.
    public func budgetMatched(for configuration: ChannelConfiguration) throws(TrainingError) -> TrainingRecipe {
        let standard = try wrap {
            try ChannelConfiguration.standard(configuration.architecture, input: configuration.input,
                                              classes: configuration.classes)
        }
        var recipe = self
        recipe.epochs = Self.budgetMatchedEpochs(epochs, fullMACs: ComplexityCounter.totalMACs(standard),
                                                 prunedMACs: ComplexityCounter.totalMACs(configuration))
        return recipe
    }
}
