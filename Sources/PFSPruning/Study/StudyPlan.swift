import Foundation
import PFSModels
import PFSTraining

/// An epoch of a pretraining run: a number (0 = the initial weights) or `"final"`.
public enum EpochReference: Codable, Equatable, Hashable, Sendable, CustomStringConvertible {
    case epoch(Int)
    case final

    /// The epoch number in a run of `epochs` epochs.
    public func resolved(epochs: Int) -> Int {
        switch self {
        case let .epoch(e): return e
        case .final: return epochs
        }
    }

    public var description: String {
        switch self {
        case let .epoch(e): return "\(e)"
        case .final: return "final"
        }
    }

    /// Parses `5` or `final`.
    public init?(text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "final" { self = .final } else if let e = Int(trimmed), e >= 0 { self = .epoch(e) } else { return nil }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let e = try? container.decode(Int.self) {
            guard e >= 0 else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "epoch \(e) (expected ≥ 0 or \"final\")")
            }
            self = .epoch(e)
            return
        }
        let text = try container.decode(String.self)
        guard text == "final" else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "\"\(text)\" (expected an epoch ≥ 0 or \"final\")")
        }
        self = .final
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case let .epoch(e): try container.encode(e)
        case .final: try container.encode("final")
        }
    }
}

/// The width expansion of one random-init-gates source (SPEC §3): the gates are learned on the
/// standard network × `widthMultiplier` (every width: e = 16 × multiplier for CIFAR ResNets), and
/// the pruned network keeps the fixed widths `fixedWidths` names.
public struct GateExpansion: Codable, Equatable, Hashable, Sendable {
    public var widthMultiplier: Double
    public var fixedWidths: FixedWidths

    public init(widthMultiplier: Double, fixedWidths: FixedWidths) {
        self.widthMultiplier = widthMultiplier
        self.fixedWidths = fixedWidths
    }

    /// `w2-expanded`, `w1.5-standard`: the part of a structure's id that names the expansion.
    public var label: String {
        var text = String(format: "%.4f", widthMultiplier)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return "w\(text)-\(fixedWidths.rawValue)"
    }
}

/// Where a study's structures come from: one entry of a plan's `sources`, which may stand for
/// several structures (one per seed or checkpoint epoch).
public enum StudySource: Codable, Equatable, Sendable {
    /// Gates learned on frozen random weights, one structure per seed (pruning from scratch). With
    /// `expansion` nil the search uses the plan's `search.widthMultiplier` and the pruned network
    /// the standard fixed widths; a source with its own expansion names it in its structures' ids.
    case randomInitGates(seeds: [UInt64], expansion: GateExpansion? = nil)
    /// Gates learned on the weights of the pretraining run after each of these epochs.
    case checkpointGates(epochs: [EpochReference])
    /// |γ| after training the full network with the L1 penalty s·Σ|γ| (s: nil = 1e-4 for VGG,
    /// 1e-5 otherwise).
    case networkSlimming(sparsity: Float?)
    /// Normalised filter L1 norms of the pretraining run after `epoch` epochs.
    case l1Norm(epoch: EpochReference)
    /// Random structures, one per seed.
    case random(seeds: [UInt64])
    /// Uniform width scaling.
    case uniform

    public var criterion: ImportanceCriterion {
        switch self {
        case .randomInitGates: return .randomInitGates
        case .checkpointGates: return .checkpointGates
        case .networkSlimming: return .networkSlimming
        case .l1Norm: return .l1Norm
        case .random: return .random
        case .uniform: return .uniform
        }
    }

    /// Network Slimming's default strength (SPEC §8): 1e-4 for VGG, 1e-5 for the others.
    public static func defaultSparsity(_ architecture: Architecture) -> Float {
        architecture.family == .vgg ? 1e-4 : 1e-5
    }

    enum CodingKeys: String, CodingKey { case kind, seeds, epochs, epoch, sparsity, widthMultiplier, fixedWidths }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try c.decode(String.self, forKey: .kind)
        guard let criterion = ImportanceCriterion(rawValue: kind) else {
            throw DecodingError.dataCorruptedError(
                forKey: .kind, in: c, debugDescription: "\"\(kind)\" (expected one of "
                    + ImportanceCriterion.allCases.map(\.rawValue).joined(separator: ", ") + ")")
        }
        let allowed: Set<CodingKeys>
        switch criterion {
        case .randomInitGates:
            let multiplier = try c.decodeIfPresent(Double.self, forKey: .widthMultiplier)
            let fixed = try c.decodeIfPresent(FixedWidths.self, forKey: .fixedWidths)
            let expansion = multiplier == nil && fixed == nil
                ? nil : GateExpansion(widthMultiplier: multiplier ?? 1, fixedWidths: fixed ?? .standard)
            self = .randomInitGates(seeds: try c.decode([UInt64].self, forKey: .seeds), expansion: expansion)
            allowed = [.kind, .seeds, .widthMultiplier, .fixedWidths]
        case .checkpointGates:
            self = .checkpointGates(epochs: try c.decode([EpochReference].self, forKey: .epochs)); allowed = [.kind, .epochs]
        case .networkSlimming:
            self = .networkSlimming(sparsity: try c.decodeIfPresent(Float.self, forKey: .sparsity))
            allowed = [.kind, .sparsity]
        case .l1Norm:
            self = .l1Norm(epoch: try c.decodeIfPresent(EpochReference.self, forKey: .epoch) ?? .final)
            allowed = [.kind, .epoch]
        case .random:
            self = .random(seeds: try c.decode([UInt64].self, forKey: .seeds)); allowed = [.kind, .seeds]
        case .uniform:
            self = .uniform; allowed = [.kind]
        }
        if let stray = c.allKeys.first(where: { !allowed.contains($0) }) {
            throw DecodingError.dataCorruptedError(forKey: stray, in: c,
                                                   debugDescription: "a field \(kind) does not take")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(criterion.rawValue, forKey: .kind)
        switch self {
        case let .randomInitGates(seeds, expansion):
            try c.encode(seeds, forKey: .seeds)
            try c.encodeIfPresent(expansion?.widthMultiplier, forKey: .widthMultiplier)
            try c.encodeIfPresent(expansion?.fixedWidths, forKey: .fixedWidths)
        case let .random(seeds): try c.encode(seeds, forKey: .seeds)
        case let .checkpointGates(epochs): try c.encode(epochs, forKey: .epochs)
        case let .networkSlimming(sparsity): try c.encodeIfPresent(sparsity, forKey: .sparsity)
        case let .l1Norm(epoch): try c.encode(epoch, forKey: .epoch)
        case .uniform: break
        }
    }

    /// Parses the command-line form `KIND[:ARGS]`: `random-init-gates:1,2,3` (seeds),
    /// `checkpoint-gates:0,1,5,final` (epochs), `network-slimming[:1e-5]` (strength),
    /// `l1-norm[:EPOCH]`, `random:1,2` (seeds), `uniform`.
    public init(argument: String) throws(PruningError) {
        let parts = argument.split(separator: ":", maxSplits: 1).map(String.init)
        let kind = parts.first ?? ""
        let rest = parts.count > 1 ? parts[1] : nil
        func fail(_ expected: String) -> PruningError {
            .setting(field: "--source \(argument)", expected: expected, got: "\"\(argument)\"")
        }
        func list<T>(_ parse: (String) -> T?, _ what: String) throws(PruningError) -> [T] {
            guard let rest else { throw fail("\(kind):\(what), e.g. \(kind):1,2,3") }
            let values = rest.split(separator: ",", omittingEmptySubsequences: false).map { parse(String($0)) }
            guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else { throw fail("\(kind):\(what)") }
            return values.map { $0! }
        }
        guard let criterion = ImportanceCriterion(rawValue: kind) else {
            throw fail("KIND[:ARGS] with KIND one of " + ImportanceCriterion.allCases.map(\.rawValue).joined(separator: ", "))
        }
        switch criterion {
        case .randomInitGates: self = .randomInitGates(seeds: try list({ UInt64($0) }, "SEEDS"))
        case .checkpointGates: self = .checkpointGates(epochs: try list({ EpochReference(text: $0) }, "EPOCHS"))
        case .networkSlimming:
            guard let rest else { self = .networkSlimming(sparsity: nil); return }
            guard let s = Float(rest) else { throw fail("network-slimming[:S] with S a number, e.g. 1e-5") }
            self = .networkSlimming(sparsity: s)
        case .l1Norm:
            guard let rest else { self = .l1Norm(epoch: .final); return }
            guard let e = EpochReference(text: rest) else { throw fail("l1-norm[:EPOCH] with EPOCH a number or final") }
            self = .l1Norm(epoch: e)
        case .random: self = .random(seeds: try list({ UInt64($0) }, "SEEDS"))
        case .uniform:
            guard rest == nil else { throw fail("uniform (no arguments)") }
            self = .uniform
        }
    }
}

/// Where a study evaluates the structures it trains.
public enum StudyEvaluation: String, Codable, CaseIterable, Sendable {
    /// Train on every training image; report the test part (read once per run, to report).
    case test
    /// Train on the training split; report the held-out validation split (the searches' split):
    /// for choosing settings (e.g. a width expansion) without reading the test set.
    case validation

    /// "test" or "validation": how tables name the accuracy.
    public var label: String { rawValue }
}

/// Scratch-E trains every structure for the recipe's epochs; Scratch-B for the epochs that match
/// the standard network's compute (epochs × standard MACs / pruned MACs, SPEC §6).
public enum TrainingScheme: String, Codable, CaseIterable, Sendable {
    case scratchE = "scratch-e"
    case scratchB = "scratch-b"

    public var label: String { self == .scratchE ? "Scratch-E" : "Scratch-B" }
}

/// A comparison of pruned structures: which structures (sources × MAC budgets), how they are
/// trained from scratch (recipe, schemes, seeds), on which data. `pfs study --plan` reads it as
/// JSON; every field but `format`, `architecture`, `sources` and `training` has a default.
///
/// ```json
/// { "format": "pfs.study-plan/1", "architecture": "resnet20", "data": "/data/cifar-10-batches-bin",
///   "budgets": [0.5], "sources": [{"kind": "random-init-gates", "seeds": [1, 2, 3]},
///   {"kind": "checkpoint-gates", "epochs": [1, 5, "final"]}, {"kind": "uniform"}],
///   "pretraining": {"epochs": 20}, "training": {"epochs": 20}, "schemes": ["scratch-e"],
///   "trainingSeeds": [1, 2, 3] }
/// ```
public struct StudyPlan: Codable, Equatable, Sendable {
    public static let format = "pfs.study-plan/1"

    /// The gate-learning settings of a plan (SPEC §3 defaults).
    public struct Search: Codable, Equatable, Sendable {
        public var lambda: Float = 0.5
        public var targetRatio: Float = 0.2
        public var learningRate: Float = 0.01
        public var epochs: Int = 10
        public var batchSize: Int = 128
        public var widthMultiplier: Double = 1
        /// Seed of the data order of searches on checkpoints (random-init searches use their own seed).
        public var seed: UInt64 = 1

        public init() {}

        enum CodingKeys: String, CodingKey { case lambda, targetRatio, learningRate, epochs, batchSize, widthMultiplier, seed }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            lambda = try c.decodeIfPresent(Float.self, forKey: .lambda) ?? lambda
            targetRatio = try c.decodeIfPresent(Float.self, forKey: .targetRatio) ?? targetRatio
            learningRate = try c.decodeIfPresent(Float.self, forKey: .learningRate) ?? learningRate
            epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? epochs
            batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? batchSize
            widthMultiplier = try c.decodeIfPresent(Double.self, forKey: .widthMultiplier) ?? widthMultiplier
            seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? seed
        }

        /// The settings of one search with data-order seed `seed`.
        public func settings(seed: UInt64, validationFraction: Double) -> GateSearchSettings {
            var s = GateSearchSettings()
            s.lambda = lambda
            s.targetRatio = targetRatio
            s.learningRate = learningRate
            s.epochs = epochs
            s.batchSize = batchSize
            s.widthMultiplier = widthMultiplier
            s.validationFraction = validationFraction
            s.seed = seed
            return s
        }
    }

    /// A training recipe as a plan states it (SGD; every field defaults to ``TrainingRecipe``'s).
    public struct Recipe: Codable, Equatable, Sendable {
        public var epochs: Int
        public var batchSize: Int
        public var learningRate: Float
        public var momentum: Float
        public var weightDecay: Float
        public var schedule: ScheduleKind
        /// Seed of a pretraining run (training runs take theirs from `trainingSeeds`).
        public var seed: UInt64

        public init(epochs: Int = 30) {
            let base = TrainingRecipe()
            self.epochs = epochs
            batchSize = base.batchSize
            learningRate = base.learningRate
            momentum = base.momentum
            weightDecay = base.weightDecay
            schedule = base.schedule
            seed = 1
        }

        enum CodingKeys: String, CodingKey { case epochs, batchSize, learningRate, momentum, weightDecay, schedule, seed }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init()
            epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? epochs
            batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? batchSize
            learningRate = try c.decodeIfPresent(Float.self, forKey: .learningRate) ?? learningRate
            momentum = try c.decodeIfPresent(Float.self, forKey: .momentum) ?? momentum
            weightDecay = try c.decodeIfPresent(Float.self, forKey: .weightDecay) ?? weightDecay
            schedule = try c.decodeIfPresent(ScheduleKind.self, forKey: .schedule) ?? schedule
            seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? seed
        }

        /// The full recipe with `seed`.
        public func recipe(seed: UInt64) -> TrainingRecipe {
            var r = TrainingRecipe()
            r.epochs = epochs
            r.batchSize = batchSize
            r.learningRate = learningRate
            r.momentum = momentum
            r.weightDecay = weightDecay
            r.schedule = schedule
            r.seed = seed
            return r
        }
    }

    public var format = StudyPlan.format
    public var architecture: Architecture
    /// The data directory (nil = the bundled CIFAR-10 sample), its kind (nil = detected) and an
    /// optional resize, as `--data`, `--dataset` and `--image-size` take them.
    public var data: String?
    public var dataset: String?
    public var imageSize: String?
    /// Fraction of the training data held out (seeded by `splitSeed`) for searches, pretraining
    /// and the selection rule; structures are trained from scratch on all training images.
    public var validationFraction: Double = 0.1
    public var splitSeed: UInt64 = 1
    /// MAC budgets as fractions of the standard network's MACs to keep, each in (0, 1).
    public var budgets: [Double] = [0.5]
    public var minChannels: Int = 1
    public var search = Search()
    /// The recipe of the full network's pretraining (checkpoint gates, L1-norm) and of Network
    /// Slimming's training; nil = the training recipe.
    public var pretraining: Recipe?
    public var sources: [StudySource]
    public var training: Recipe
    public var schemes: [TrainingScheme] = [.scratchE]
    public var trainingSeeds: [UInt64] = [1]
    /// Training seeds of single structures, by id, instead of `trainingSeeds`; `[]` = searched
    /// and compared for similarity but not trained. E.g. `{"random-init-gates-seed4": []}`.
    public var structureTrainingSeeds: [String: [UInt64]] = [:]
    /// Where trained structures are evaluated: on the test part (train on every training image),
    /// or on the validation split (train on the rest) to tune a choice without reading the test set.
    public var evaluation: StudyEvaluation = .test

    public init(architecture: Architecture, sources: [StudySource], training: Recipe) {
        self.architecture = architecture
        self.sources = sources
        self.training = training
    }

    enum CodingKeys: String, CodingKey {
        case format, architecture, data, dataset, imageSize, validationFraction, splitSeed, budgets, minChannels, search,
             pretraining, sources, training, schemes, trainingSeeds, structureTrainingSeeds, evaluation
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(String.self, forKey: .format)
        guard format == Self.format else {
            throw DecodingError.dataCorruptedError(forKey: .format, in: c,
                                                   debugDescription: "\"\(format)\" (expected \"\(Self.format)\")")
        }
        architecture = try c.decode(Architecture.self, forKey: .architecture)
        data = try c.decodeIfPresent(String.self, forKey: .data)
        dataset = try c.decodeIfPresent(String.self, forKey: .dataset)
        imageSize = try c.decodeIfPresent(String.self, forKey: .imageSize)
        validationFraction = try c.decodeIfPresent(Double.self, forKey: .validationFraction) ?? validationFraction
        splitSeed = try c.decodeIfPresent(UInt64.self, forKey: .splitSeed) ?? splitSeed
        budgets = try c.decodeIfPresent([Double].self, forKey: .budgets) ?? budgets
        minChannels = try c.decodeIfPresent(Int.self, forKey: .minChannels) ?? minChannels
        search = try c.decodeIfPresent(Search.self, forKey: .search) ?? search
        pretraining = try c.decodeIfPresent(Recipe.self, forKey: .pretraining)
        sources = try c.decode([StudySource].self, forKey: .sources)
        training = try c.decode(Recipe.self, forKey: .training)
        schemes = try c.decodeIfPresent([TrainingScheme].self, forKey: .schemes) ?? schemes
        trainingSeeds = try c.decodeIfPresent([UInt64].self, forKey: .trainingSeeds) ?? trainingSeeds
        structureTrainingSeeds = try c.decodeIfPresent([String: [UInt64]].self, forKey: .structureTrainingSeeds) ?? [:]
        evaluation = try c.decodeIfPresent(StudyEvaluation.self, forKey: .evaluation) ?? evaluation
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(format, forKey: .format)
        try c.encode(architecture, forKey: .architecture)
        try c.encodeIfPresent(data, forKey: .data)
        try c.encodeIfPresent(dataset, forKey: .dataset)
        try c.encodeIfPresent(imageSize, forKey: .imageSize)
        try c.encode(validationFraction, forKey: .validationFraction)
        try c.encode(splitSeed, forKey: .splitSeed)
        try c.encode(budgets, forKey: .budgets)
        try c.encode(minChannels, forKey: .minChannels)
        try c.encode(search, forKey: .search)
        try c.encodeIfPresent(pretraining, forKey: .pretraining)
        try c.encode(sources, forKey: .sources)
        try c.encode(training, forKey: .training)
        try c.encode(schemes, forKey: .schemes)
        try c.encode(trainingSeeds, forKey: .trainingSeeds)
        if !structureTrainingSeeds.isEmpty { try c.encode(structureTrainingSeeds, forKey: .structureTrainingSeeds) }
        if evaluation != .test { try c.encode(evaluation, forKey: .evaluation) }
    }

    /// The training seeds of `structure`, in order.
    public func trainingSeeds(for structure: StudyStructure) -> [UInt64] {
        structureTrainingSeeds[structure.id] ?? trainingSeeds
    }

    /// Every training seed of the plan: `trainingSeeds`, then the others single structures name (ascending).
    public var allTrainingSeeds: [UInt64] {
        let extra = Set(structureTrainingSeeds.values.joined()).subtracting(trainingSeeds).sorted()
        return trainingSeeds + extra
    }

    /// The structures trained with `seed`, in plan order.
    public func structures(trainedWith seed: UInt64) -> [StudyStructure] {
        structures.filter { trainingSeeds(for: $0).contains(seed) }
    }

    /// The pretraining recipe in effect.
    public var pretrainingRecipe: Recipe { pretraining ?? training }

    /// Whether some source needs the pretraining run.
    public var needsPretraining: Bool {
        sources.contains { if case .checkpointGates = $0 { return true }; if case .l1Norm = $0 { return true }; return false }
    }

    /// Checks everything that can be checked without data; errors name the field, e.g.
    /// `sources[1].epochs[2]` or `budgets[0]`.
    public func validate() throws(PruningError) {
        func fail(_ field: String, _ expected: String, _ got: String) -> PruningError {
            .setting(field: field, expected: expected, got: got)
        }
        guard !budgets.isEmpty else { throw fail("budgets", "at least one fraction of the standard MACs to keep", "[]") }
        for (i, b) in budgets.enumerated() where !(b.isFinite && b > 0 && b < 1) {
            throw fail("budgets[\(i)]", "a fraction in (0, 1) of the standard MACs to keep", "\(b)")
        }
        guard Set(budgets).count == budgets.count else { throw fail("budgets", "distinct budgets", "\(budgets)") }
        guard validationFraction > 0 && validationFraction < 1 else {
            throw fail("validationFraction", "a fraction in (0, 1)", "\(validationFraction)")
        }
        guard minChannels >= 1 else { throw fail("minChannels", "at least 1", "\(minChannels)") }
        do { try search.settings(seed: 1, validationFraction: validationFraction).validate() } catch {
            if case let .setting(field, expected, got) = error { throw fail("search.\(field)", expected, got) }
            throw error
        }
        for (name, recipe) in [("training", training), ("pretraining", pretrainingRecipe)] {
            do { try recipe.recipe(seed: 1).validate() } catch {
                if case let .setting(field, expected, got) = error { throw fail("\(name).\(field)", expected, got) }
                throw PruningError.training(error)
            }
        }
        guard !sources.isEmpty else { throw fail("sources", "at least one source", "[]") }
        guard !schemes.isEmpty else { throw fail("schemes", "scratch-e and/or scratch-b", "[]") }
        guard Set(schemes).count == schemes.count else { throw fail("schemes", "each scheme once", "\(schemes.map(\.rawValue))") }
        guard !trainingSeeds.isEmpty else { throw fail("trainingSeeds", "at least one seed", "[]") }
        guard Set(trainingSeeds).count == trainingSeeds.count else {
            throw fail("trainingSeeds", "distinct seeds", "\(trainingSeeds)")
        }
        let pretrainEpochs = pretrainingRecipe.epochs
        for (i, source) in sources.enumerated() {
            switch source {
            case let .randomInitGates(seeds, expansion):
                guard !seeds.isEmpty else { throw fail("sources[\(i)].seeds", "at least one seed", "[]") }
                if let m = expansion?.widthMultiplier, !(m.isFinite && m > 0 && m <= 64) {
                    throw fail("sources[\(i)].widthMultiplier", "a number in (0, 64]", "\(m)")
                }
            case let .random(seeds):
                guard !seeds.isEmpty else { throw fail("sources[\(i)].seeds", "at least one seed", "[]") }
            case let .checkpointGates(epochs):
                guard !epochs.isEmpty else { throw fail("sources[\(i)].epochs", "at least one pretraining epoch", "[]") }
                for (k, e) in epochs.enumerated() where e.resolved(epochs: pretrainEpochs) > pretrainEpochs {
                    throw fail("sources[\(i)].epochs[\(k)]", "an epoch of the pretraining run (0…\(pretrainEpochs) or final)",
                               "\(e)")
                }
            case let .l1Norm(epoch):
                guard epoch.resolved(epochs: pretrainEpochs) <= pretrainEpochs else {
                    throw fail("sources[\(i)].epoch", "an epoch of the pretraining run (0…\(pretrainEpochs) or final)", "\(epoch)")
                }
            case let .networkSlimming(sparsity):
                if let sparsity, !(sparsity.isFinite && sparsity > 0) {
                    throw fail("sources[\(i)].sparsity", "a positive number", "\(sparsity)")
                }
            case .uniform: break
            }
        }
        var seen: [String: Int] = [:]
        for (i, source) in sources.enumerated() {
            for structure in structures(of: source) {
                if let first = seen[structure.id] {
                    throw fail("sources[\(i)]", "structures not already given by sources[\(first)]", structure.id)
                }
                seen[structure.id] = i
            }
        }
        for (id, seeds) in structureTrainingSeeds.sorted(by: { $0.key < $1.key }) {
            guard seen[id] != nil else {
                throw fail("structureTrainingSeeds.\(id)", "the id of a structure of the plan ("
                           + structures.map(\.id).joined(separator: ", ") + ")", "\"\(id)\"")
            }
            guard Set(seeds).count == seeds.count else {
                throw fail("structureTrainingSeeds.\(id)", "distinct seeds", "\(seeds)")
            }
        }
    }

    /// The structures one source stands for.
    public func structures(of source: StudySource) -> [StudyStructure] {
        let epochs = pretrainingRecipe.epochs
        switch source {
        case let .randomInitGates(seeds, expansion):
            return seeds.map { StudyStructure(kind: .randomInitGates(seed: $0, expansion: expansion)) }
        case let .checkpointGates(list):
            return list.map { StudyStructure(kind: .checkpointGates(epoch: $0.resolved(epochs: epochs))) }
        case let .networkSlimming(sparsity):
            return [StudyStructure(kind: .networkSlimming(sparsity: sparsity ?? StudySource.defaultSparsity(architecture)))]
        case let .l1Norm(epoch): return [StudyStructure(kind: .l1Norm(epoch: epoch.resolved(epochs: epochs)))]
        case let .random(seeds): return seeds.map { StudyStructure(kind: .random(seed: $0)) }
        case .uniform: return [StudyStructure(kind: .uniform)]
        }
    }

    /// Every structure of the plan, in the order of its sources.
    public var structures: [StudyStructure] { sources.flatMap { structures(of: $0) } }

    /// Decodes and validates a plan; errors name `file` and the field.
    public static func decode(_ data: Data, file: String) throws(PruningError) -> StudyPlan {
        let plan: StudyPlan
        do { plan = try JSONDecoder().decode(StudyPlan.self, from: data) } catch let error as DecodingError {
            let e = ChannelConfiguration.describe(error, file: file, data: data)
            throw .mismatch(file: file, field: e.field, expected: e.expected, got: e.got)
        } catch let error as ModelError {
            throw .mismatch(file: file, field: error.field, expected: error.expected, got: error.got)
        } catch {
            throw .mismatch(file: file, field: "(document)", expected: "a study plan (\(format))", got: JSONText.describe(error, in: data))
        }
        do { try plan.validate() } catch {
            if case let .setting(field, expected, got) = error { throw .mismatch(file: file, field: field, expected: expected, got: got) }
            throw error
        }
        return plan
    }

    /// Reads a plan file.
    public static func load(_ file: String) throws(PruningError) -> StudyPlan {
        try decode(try attempt { try AtomicFile.read(file) }, file: file)
    }

    public func jsonData() -> Data { prettyJSON(self) }

    /// The plan `pfs study` runs with no `--plan` and no `--data`: ResNet-20 on the bundled sample,
    /// 50 % of the MACs, two random-init searches of 3 epochs, checkpoint gates at epochs 1 and
    /// final of a 6-epoch pretraining, Network Slimming, L1-norm, random and uniform; each
    /// structure trained for 6 epochs with two seeds (under 10 minutes on two cores).
    public static var builtIn: StudyPlan {
        var plan = StudyPlan(architecture: .resnet20,
                             sources: [.randomInitGates(seeds: [1, 2]), .checkpointGates(epochs: [.epoch(1), .final]),
                                       .networkSlimming(sparsity: nil), .l1Norm(epoch: .final), .random(seeds: [1]),
                                       .uniform],
                             training: Recipe(epochs: 6))
        plan.search.epochs = 3
        plan.pretraining = Recipe(epochs: 6)
        plan.trainingSeeds = [1, 2]
        return plan
    }
}

/// One structure of a study: a criterion with its inputs. Its ``id`` names its files.
public struct StudyStructure: Equatable, Hashable, Sendable {
    public enum Kind: Equatable, Hashable, Sendable {
        case randomInitGates(seed: UInt64, expansion: GateExpansion?)
        case checkpointGates(epoch: Int)
        case networkSlimming(sparsity: Float)
        case l1Norm(epoch: Int)
        case random(seed: UInt64)
        case uniform
    }

    public var kind: Kind

    /// E.g. `random-init-gates-seed1`, `random-init-gates-w2-expanded-seed1`, `checkpoint-gates-epoch5`,
    /// `network-slimming`, `uniform`.
    public var id: String {
        switch kind {
        case let .randomInitGates(seed, nil): return "random-init-gates-seed\(seed)"
        case let .randomInitGates(seed, expansion?): return "random-init-gates-\(expansion.label)-seed\(seed)"
        case let .checkpointGates(epoch): return "checkpoint-gates-epoch\(epoch)"
        case .networkSlimming: return "network-slimming"
        case let .l1Norm(epoch): return "l1-norm-epoch\(epoch)"
        case let .random(seed): return "random-seed\(seed)"
        case .uniform: return "uniform"
        }
    }

    public var criterion: ImportanceCriterion {
        switch kind {
        case .randomInitGates: return .randomInitGates
        case .checkpointGates: return .checkpointGates
        case .networkSlimming: return .networkSlimming
        case .l1Norm: return .l1Norm
        case .random: return .random
        case .uniform: return .uniform
        }
    }

    /// The group of the similarity summary this structure belongs to.
    public var group: StructureGroup {
        switch kind {
        case .randomInitGates(_, nil): return .randomInit
        case .randomInitGates: return .randomInitExpanded
        case .checkpointGates(0): return .checkpointEpoch0
        case .checkpointGates: return .checkpoints
        default: return .baselines
        }
    }

    /// The source's seed (random-init gates, random scores).
    public var seed: UInt64? {
        switch kind {
        case let .randomInitGates(s, _), let .random(s): return s
        default: return nil
        }
    }

    /// The pretraining epoch the structure starts from (checkpoint gates, L1-norm).
    public var pretrainingEpoch: Int? {
        switch kind {
        case let .checkpointGates(e), let .l1Norm(e): return e
        default: return nil
        }
    }

    /// The source's own width expansion (random-init gates only).
    public var expansion: GateExpansion? {
        if case let .randomInitGates(_, expansion) = kind { return expansion }
        return nil
    }
}

/// The groups of the structure-similarity summary (SPEC §7, the paper's Fig. 2). Written to
/// `results.json`/`results.csv` as the raw values.
public enum StructureGroup: String, Codable, CaseIterable, Sendable, CustomStringConvertible {
    /// Random-init gates at the standard widths.
    case randomInit = "random-init"
    /// Random-init gates learnt on a wider network (`--width-multiplier`, either variant).
    case randomInitExpanded = "random-init-expanded"
    /// Gates on the pretraining run's initialisation (epoch 0: random weights), kept apart so that
    /// it neither passes for a trained checkpoint nor counts twice when it equals a random-init seed.
    case checkpointEpoch0 = "checkpoint-epoch0"
    /// Gates on trained checkpoints of the pretraining run.
    case checkpoints
    /// Uniform, random, L1-norm and Network Slimming structures.
    case baselines

    public var description: String { rawValue }
}
