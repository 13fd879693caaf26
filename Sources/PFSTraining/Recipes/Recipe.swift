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

/// Everything that decides how a network is trained, apart from the data and the network.
///
/// Defaults are the CIFAR recipe of the accuracy evidence: 30 epochs, batch 128, SGD lr 0.1,
/// momentum 0.9, weight decay 5e-4 (on every parameter, like `torch.optim.SGD(weight_decay:)`),
/// cosine schedule per step, random crop (4-pixel zero padding) and horizontal flip, seed 1.
public struct TrainingRecipe: Codable, Equatable, Sendable {
    public var epochs: Int = 30
    public var batchSize: Int = 128
    public var learningRate: Float = 0.1
    public var momentum: Float = 0.9
    public var nesterov: Bool = false
    public var weightDecay: Float = 5e-4
    public var schedule: ScheduleKind = .cosine
    public var labelSmoothing: Float = 0
    /// Random crop with 4-pixel zero padding and horizontal flip on the training images.
    public var augment: Bool = true
    /// Seeds the weight initialisation and the data order/augmentation.
    public var seed: UInt64 = 1

    public init() {}

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
    }

    /// The per-step schedule for `stepsPerEpoch` optimiser steps per epoch.
    public func learningRateSchedule(stepsPerEpoch: Int) -> LearningRateSchedule {
        let total = epochs * stepsPerEpoch
        switch schedule {
        case .cosine: return .cosine(total: total)
        case .multistep: return .multiStep(milestones: [total / 2, total * 3 / 4], gamma: 0.1)
        case .constant: return .constant
        }
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
