import Foundation
import PFSData
import PFSModels
import PFSNN
import PFSPruning
import PFSTensor
import PFSTestSupport
import PFSTraining
import Testing

/// Gate learning: the objective's gradient, projection, frozen weights, the selection rule.
@Suite(.serialized) struct GateLearningTests {
    static let data = SyntheticData.dataset(count: 48)
    static let largeData = SyntheticData.dataset(count: 48, height: 16, width: 16)
    static let normalization = Normalization(mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])

    static func prepared(size: Int = 8) throws -> PreparedData {
        let parts = try (size == 8 ? data : largeData).split(validationFraction: 0.25, seed: 1)
        return PreparedData(train: parts.train, validation: parts.validation, test: nil, normalization: normalization,
                            description: "synthetic")
    }

    /// VGG needs 16×16 images (four 2×2 pools), the ResNets take 8×8.
    static func size(_ architecture: Architecture) -> Int { architecture.family == .vgg ? 16 : 8 }

    static func configuration(_ architecture: Architecture = .resnet20) throws -> ChannelConfiguration {
        let s = size(architecture)
        return try ChannelConfiguration.standard(architecture, input: InputShape(channels: 3, height: s, width: s), classes: 4,
                                          widthMultiplier: 0.25)
    }

    static func search(lambda: Float = 0.5, r: Float = 0.2, lr: Float = 0.01, epochs: Int = 1,
                       architecture: Architecture = .resnet20, validateEvery: Int? = nil) throws -> GateSearch {
        var settings = GateSearchSettings()
        settings.validateEverySteps = validateEvery
        settings.lambda = lambda
        settings.targetRatio = r
        settings.learningRate = lr
        settings.epochs = epochs
        settings.batchSize = 12
        return try GateSearch(configuration: try configuration(architecture), settings: settings,
                              source: .randomInitialization(seed: 5), data: try prepared(size: size(architecture)))
    }

    static func batch(_ count: Int = 12, size: Int = 8) throws -> Batch {
        try #require(try BatchLoader(dataset: size == 8 ? data : largeData, batchSize: count, shuffle: false, augmentation: .none,
                                     normalization: normalization, seed: 0, epoch: 0, prefetch: 0).next())
    }

    @Test(arguments: [Architecture.resnet20, .vgg11])
    func objectiveGradientMatchesFiniteDifferences(_ architecture: Architecture) throws {
        let search = try Self.search(lambda: 4, r: 0.2, architecture: architecture)
        var rng = RandomGenerator(seed: 11)
        for g in search.network.gates {            // generic gate values, away from the bounds
            g.gate.value = Tensor(shape: [g.channels]) { _ in rng.uniform(0.3, 0.9) }
        }
        let batch = try Self.batch(48, size: Self.size(architecture))
        let (objective, ce, _) = try search.objectiveAndGradient(images: batch.images, labels: batch.labels)
        let mean = search.meanGate
        #expect(abs(objective - (ce + 4 * (mean - 0.2) * (mean - 0.2))) < 1e-6)
        let analytic = search.network.gates.map { $0.gate.grad!.scalars }
        // A batch of 48 keeps BatchNorm over tiny feature maps close to linear at this scale, and a
        // small step keeps downstream ReLUs from crossing their kink. The objective is float32, so a
        // difference quotient carries an absolute error of a few 1e-4 (~ε·L/h): allow 3% relative
        // plus 3e-4 per gate, and check one directional derivative over all gates at 5%.
        let h: Float = 5e-4
        func difference(_ perturb: (Float) -> Void) throws -> Double {
            perturb(h)
            let plus = try search.objective(images: batch.images, labels: batch.labels)
            perturb(-2 * h)
            let minus = try search.objective(images: batch.images, labels: batch.labels)
            perturb(h)
            return (plus - minus) / Double(2 * h)
        }
        var checked = 0
        for (j, g) in search.network.gates.enumerated() {
            for c in [0, g.channels - 1] {
                let numeric = try difference { step in g.gate.value.withUnsafeMutableBufferPointer { $0[c] += step } }
                let a = Double(analytic[j][c])
                #expect(abs(a - numeric) <= 0.03 * max(abs(a), abs(numeric)) + 3e-4,
                        "gate \(j).\(c): analytic \(a), numeric \(numeric)")
                checked += 1
            }
        }
        #expect(checked == 2 * search.network.gates.count)

        var signs = RandomGenerator(seed: 12)
        let direction = search.network.gates.map { g in (0..<g.channels).map { _ in Float(signs.int(below: 2) * 2 - 1) } }
        let along = zip(analytic, direction).reduce(0.0) { total, pair in
            total + zip(pair.0, pair.1).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        }
        let numeric = try difference { step in
            for (g, d) in zip(search.network.gates, direction) {
                g.gate.value.withUnsafeMutableBufferPointer { v in for c in 0..<g.channels { v[c] += step * d[c] } }
            }
        }
        #expect(abs(along - numeric) <= 0.05 * max(abs(along), abs(numeric)), "directional: \(along) vs \(numeric)")
    }

    /// Gates at exactly 0 let the convolutions around them skip those channels (forward of the
    /// consumers, input gradients of producers and consumers); the objective and every gate's
    /// gradient stay the same up to rounding, and the convolutions report less work.
    @Test(arguments: [Architecture.resnet20, .vgg11, .mobilenetv2])
    func closedGatesAreSkippedWithTheSameObjectiveAndGradient(_ architecture: Architecture) throws {
        let search = try Self.search(architecture: architecture)
        var rng = RandomGenerator(seed: 21)
        for g in search.network.gates {            // about 40 % closed, the rest generic
            g.gate.value = Tensor(shape: [g.channels]) { _ in rng.uniform() < 0.4 ? 0 : rng.uniform(0.3, 0.9) }
        }
        let batch = try Self.batch(24, size: Self.size(architecture))
        func run(skipping: Bool) throws -> (objective: Double, gradients: [[Float]], macs: Int, inputGradientMACs: Int) {
            search.network.skipsClosedGates = skipping
            let before = search.network.convolutions.reduce(0) { $0 + $1.backwardWork.inputGradientMACs }
            let (objective, _, _) = try search.objectiveAndGradient(images: batch.images, labels: batch.labels)
            let after = search.network.convolutions.reduce(0) { $0 + $1.backwardWork.inputGradientMACs }
            return (objective, search.network.gates.map { $0.gate.grad!.scalars }, search.network.measuredMACsPerImage,
                    after - before)
        }
        let full = try run(skipping: false)
        let skipped = try run(skipping: true)
        #expect(abs(full.objective - skipped.objective) <= 1e-5 * abs(full.objective))
        for (j, (a, b)) in zip(full.gradients, skipped.gradients).enumerated() {
            for c in a.indices {
                #expect(abs(a[c] - b[c]) <= 1e-3 * abs(a[c]) + 1e-6, "gate \(j).\(c): \(a[c]) vs \(b[c])")
            }
        }
        // Every template puts a clamp right after its gates; MobileNetV2's depthwise pass-through
        // turns a zero channel into BatchNorm's shift, so there only the producers skip.
        let units = search.network.prunableUnits
        let clamped = units.allSatisfy { $0.clampsGate }
        #expect(clamped)
        let consumersSkip = units.contains { $0.passThrough.isEmpty && $0.consumers.contains { $0 is Conv2d } }
        #expect(consumersSkip == (architecture != .mobilenetv2))
        #expect(consumersSkip ? skipped.macs < full.macs : skipped.macs == full.macs)
        #expect(skipped.inputGradientMACs < full.inputGradientMACs)
        // Turned off, nothing is skipped any more.
        let again = try run(skipping: false)
        #expect(again.macs == full.macs)
        #expect(search.network.convolutions.allSatisfy { $0.liveInputChannels == nil && $0.liveGradientChannels == nil })
    }

    @Test func theSparsityTermAloneGivesTwoLambdaDeviationOverN() throws {
        let search = try Self.search(lambda: 3, r: 0.2)
        let batch = try Self.batch()
        try search.objectiveAndGradient(images: batch.images, labels: batch.labels)
        let withTerm = search.network.gates.flatMap { $0.gate.grad!.scalars }
        let plain = try Self.search(lambda: 0, r: 0.2)
        try plain.objectiveAndGradient(images: batch.images, labels: batch.labels)
        let without = plain.network.gates.flatMap { $0.gate.grad!.scalars }
        let n = Double(withTerm.count)
        let expected = 2 * 3 * (1.0 - 0.2) / n        // all gates start at 1
        for (a, b) in zip(withTerm, without) { #expect(abs(Double(a - b) - expected) < 1e-6) }
    }

    @Test func gatesAreProjectedIntoZeroOne() throws {
        let search = try Self.search(lambda: 200, r: 0, lr: 0.5)
        let batch = try Self.batch()
        for _ in 0..<4 {
            try search.objectiveAndGradient(images: batch.images, labels: batch.labels)
            search.optimizer.step()
        }
        let all = search.gates.flatMap { $0 }
        #expect(all.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(all.contains(0))
        #expect(search.nonZeroFraction < 1)

        // A gradient pushing upwards stops at exactly 1.
        let up = try Self.search(lambda: 0, lr: 0.5)
        let gate = up.network.gates[0].gate
        gate.value = Tensor(shape: gate.value.shape, repeating: 0.9)
        gate.accumulateGradient { g in for i in 0..<gate.value.count { g[i] = -1 } }
        up.optimizer.step()
        #expect(gate.value.scalars.allSatisfy { $0 == 1 })
    }

    @Test func frozenWeightsStayBitIdenticalAndGetNoGradientWork() throws {
        let search = try Self.search(lr: 0.05, epochs: 2)
        let before = search.network.parameters.filter { $0.role != .gate }.map { ($0.name, $0.value.scalars) }
        let runningBefore = search.network.batchNorms[0].runningMean.scalars
        let result = try search.run()
        let after = search.network.parameters.filter { $0.role != .gate }.map { ($0.name, $0.value.scalars) }
        #expect(before.count == after.count && before.count > 0)
        for (b, a) in zip(before, after) { #expect(b.0 == a.0 && b.1 == a.1, "\(b.0) changed") }
        #expect(search.network.convolutions.allSatisfy { $0.backwardWork.weightGradientMACs == 0 })
        #expect(search.network.parameters.filter { $0.role != .gate }.allSatisfy { $0.grad == nil })
        // BatchNorm runs in training mode: its running statistics do move.
        #expect(search.network.batchNorms[0].runningMean.scalars != runningBefore)
        // The gates moved and the history is complete.
        #expect(result.history.count == 2 && result.complete)
        #expect(result.history.allSatisfy { $0.meanGate < 1 })
        #expect(result.gates != nil)
    }

    static func epoch(_ n: Int, nonZero: Double, accuracy: Double) -> GateEpoch {
        GateEpoch(epoch: n, trainLoss: 1, objective: 1, trainAccuracy: 0.5, validationLoss: 1,
                  validationAccuracy: accuracy, meanGate: 0.3, nonZeroFraction: nonZero, seconds: 1,
                  imagesPerSecond: 1, gates: [[Float(n)]])
    }

    @Test func selectionRuleOnACraftedHistory() {
        // The most accurate epoch (2) is not sparse enough; among sparse ones, 4 is best; 5 ties 4.
        let history = [Self.epoch(1, nonZero: 0.9, accuracy: 0.30), Self.epoch(2, nonZero: 0.5, accuracy: 0.90),
                       Self.epoch(3, nonZero: 0.2, accuracy: 0.40), Self.epoch(4, nonZero: 0.1, accuracy: 0.60),
                       Self.epoch(5, nonZero: 0.05, accuracy: 0.60), Self.epoch(6, nonZero: 0.15, accuracy: 0.55)]
        #expect(GateSelection.choose(from: history, targetRatio: 0.2)
                == GateSelection(epoch: 5, rule: .bestValidationAmongSparseEpochs))
        #expect(GateSelection.choose(from: Array(history.prefix(4)), targetRatio: 0.2)
                == GateSelection(epoch: 4, rule: .bestValidationAmongSparseEpochs))
        // The bound is inclusive: epoch 3 has exactly r non-zero gates.
        #expect(GateSelection.choose(from: Array(history.prefix(3)), targetRatio: 0.2)
                == GateSelection(epoch: 3, rule: .bestValidationAmongSparseEpochs))
        #expect(GateSelection.choose(from: Array(history.prefix(2)), targetRatio: 0.2)
                == GateSelection(epoch: 2, rule: .lastEpochNoneSparse))
        #expect(GateSelection.choose(from: [], targetRatio: 0.2) == nil)
    }

    @Test func gatesFileRoundTripsAndBadFilesAreNamed() throws {
        let directory = NSTemporaryDirectory() + "pfs-gates-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let search = try Self.search()
        search.outputFile = directory + "/gates.json"
        let result = try search.run()
        let loaded = try GateSearchResult.load(directory + "/gates.json")
        #expect(loaded.gates == result.gates && loaded.selection == result.selection)
        #expect(loaded.configuration == result.configuration)

        try Data("{\"format\": \"other\"}".utf8).write(to: URL(fileURLWithPath: directory + "/bad.json"))
        let error = #expect(throws: PruningError.self) { _ = try GateSearchResult.load(directory + "/bad.json") }
        #expect(error?.description.contains("bad.json") == true)
    }

    @Test func badSettingsAreRefused() throws {
        var settings = GateSearchSettings()
        settings.targetRatio = 1.5
        #expect(throws: PruningError.setting(field: "target ratio r", expected: "a number in [0, 1]", got: "1.5")) {
            try settings.validate()
        }
        settings = GateSearchSettings()
        settings.epochs = 0
        #expect(throws: PruningError.self) { try settings.validate() }
        let noValidation = PreparedData(train: Self.data, validation: nil, test: nil, normalization: Self.normalization,
                                        description: "synthetic")
        #expect(throws: PruningError.self) {
            _ = try GateSearch(configuration: try Self.configuration(), settings: GateSearchSettings(),
                               source: .randomInitialization(seed: 1), data: noValidation)
        }
    }

    @Test func gatesCanBeLearnedFromATrainedCheckpoint() throws {
        let directory = NSTemporaryDirectory() + "pfs-ckpt-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let trained = try ModelBuilder.build(try Self.configuration(), seed: 77)
        trained.parameters[0].value.withUnsafeMutableBufferPointer { $0[0] = 0.123 }
        try Checkpoint.save(trained, to: directory + "/w.safetensors")
        var settings = GateSearchSettings()
        settings.batchSize = 12
        let search = try GateSearch(configuration: try Self.configuration(), settings: settings,
                                    source: .checkpoint(file: directory + "/w.safetensors"), data: try Self.prepared())
        let mine = search.network.parameters.filter { $0.role != .gate }
        let theirs = Dictionary(uniqueKeysWithValues: trained.parameters.map { ($0.name, $0.value) })
        #expect(mine.allSatisfy { theirs[$0.name] == $0.value })
        #expect(search.gates.flatMap { $0 }.allSatisfy { $0 == 1 })
    }

    /// Runs `search` and raises its stop request after `steps` optimiser steps; records an issue
    /// unless the search ends interrupted.
    static func interrupt(_ search: GateSearch, afterSteps steps: Int) {
        let stop = StopRequest()
        search.stop = stop
        var done = 0
        do {
            _ = try search.run { event in
                if case .step = event { done += 1; if done == steps { stop.request() } }
            }
            Issue.record("the search was not interrupted")
        } catch {
            guard case .training(.interrupted) = error else { Issue.record("\(error)"); return }
        }
    }

    /// A search stopped mid-epoch and resumed from its checkpoint ends with the same gates and
    /// history as one that ran through.
    @Test func anInterruptedSearchResumesExactly() throws {
        let saved = Engine.threads
        Engine.threads = 1
        defer { Engine.threads = saved }
        let directory = NSTemporaryDirectory() + "pfs-search-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let reference = try Self.search(lr: 0.05, epochs: 3).run()

        let first = try Self.search(lr: 0.05, epochs: 3)
        first.outputFile = directory + "/gates.json"
        first.runDirectory = directory + "/search"
        Self.interrupt(first, afterSteps: 5)   // 3 steps per epoch
        #expect(try GateSearchResult.load(directory + "/gates.json").history.count == 1)
        let second = try Self.search(lr: 0.05, epochs: 3)
        second.outputFile = directory + "/gates.json"
        second.runDirectory = directory + "/search"
        let resumed = try second.run(resume: true)
        #expect(resumed.history.map(\.epoch) == [1, 2, 3])
        #expect(resumed.history.map(\.gates) == reference.history.map(\.gates))
        #expect(resumed.history.map(\.objective) == reference.history.map(\.objective))
        #expect(resumed.selection == reference.selection && resumed.complete)
        #expect(try GateSearchResult.load(directory + "/gates.json").history.map(\.gates) == reference.history.map(\.gates))

        // Resuming with other settings is refused.
        let other = try Self.search(lambda: 0.1, lr: 0.05, epochs: 3)
        other.outputFile = directory + "/gates.json"
        other.runDirectory = directory + "/search"
        #expect(throws: PruningError.self) { _ = try other.run(resume: true) }
    }

    /// Validated every K steps (the ImageNet variant's schedule), the points lie at every K-th
    /// step inside an epoch and at every epoch's end, the rule chooses among all of them, and the
    /// epoch-end points equal those of a search validated per epoch.
    @Test func aSearchValidatedEveryKStepsRecordsAPointAtEachAndAtEpochEnds() throws {
        let saved = Engine.threads
        Engine.threads = 1
        defer { Engine.threads = saved }
        // 36 training images, batch 12: 3 steps per epoch; K = 2 → steps 2, 3 (end), 4, 6 (end).
        let result = try Self.search(lr: 0.05, epochs: 2, validateEvery: 2).run()
        #expect(result.history.map(\.step) == [2, 3, 4, 6])
        #expect(result.history.map(\.epoch) == [1, 1, 2, 2])
        #expect(result.complete && result.imagesProcessed == 72)
        #expect(result.history.allSatisfy { $0.validationSeconds != nil && $0.seconds >= $0.validationSeconds! })
        let selection = try #require(result.selection)
        #expect(selection == GateSelection.choose(from: result.history, targetRatio: 0.2))
        #expect(result.history.contains(where: selection.matches) && result.gates != nil)
        var partial = result
        partial.history = Array(result.history.prefix(1))
        #expect(partial.imagesProcessed == 24)

        let perEpoch = try Self.search(lr: 0.05, epochs: 2).run()
        let ends = try Self.search(lr: 0.05, epochs: 2, validateEvery: 1000).run()
        #expect(ends.history.map(\.step) == [3, 6])
        #expect(ends.history.map(\.gates) == perEpoch.history.map(\.gates))
        #expect(ends.history.map(\.validationAccuracy) == perEpoch.history.map(\.validationAccuracy))
        #expect(ends.history.map(\.objective) == perEpoch.history.map(\.objective))
        #expect(perEpoch.history.allSatisfy { $0.step == nil } && perEpoch.imagesProcessed == 72)
    }

    /// The selection among step points names the step, and a gates file whose selection names
    /// no point of its history is refused.
    @Test func selectionOfAStepPointNamesItsStep() throws {
        func point(_ step: Int, nonZero: Double, accuracy: Double) -> GateEpoch {
            GateEpoch(epoch: 1, step: step, trainLoss: 1, objective: 1, trainAccuracy: 0.5, validationLoss: 1,
                      validationAccuracy: accuracy, meanGate: 0.5, nonZeroFraction: nonZero, seconds: 1,
                      imagesPerSecond: 1, gates: [[Float(step) / 1000]])
        }
        let history = [point(100, nonZero: 0.7, accuracy: 0.2), point(200, nonZero: 0.45, accuracy: 0.3),
                       point(300, nonZero: 0.4, accuracy: 0.25)]
        let selection = GateSelection.choose(from: history, targetRatio: 0.5)
        #expect(selection == GateSelection(epoch: 1, step: 200, rule: .bestValidationAmongSparseEpochs))
        #expect(selection?.position == "epoch 1, step 200")

        let directory = NSTemporaryDirectory() + "pfs-steps-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let configuration = try ChannelConfiguration.standard(.resnet20, input: InputShape(channels: 3, height: 8, width: 8),
                                                              classes: 4, widthMultiplier: 0.25)
        let gates = configuration.prunableWidths.map { Array(repeating: Float(0.5), count: $0) }
        var result = GateSearchResult(configuration: configuration, settings: .imageNet, source: .randomInitialization(seed: 1),
                                      data: "synthetic", history: history.map { var p = $0; p.gates = gates; return p },
                                      selection: GateSelection(epoch: 1, step: 250, rule: .bestValidationAmongSparseEpochs),
                                      complete: false, seconds: 3)
        try result.save(to: directory + "/gates.json")
        let error = #expect(throws: PruningError.self) { _ = try GateSearchResult.load(directory + "/gates.json") }
        #expect(error?.description.contains("epoch 1, step 250") == true)
        result.selection = selection
        try result.save(to: directory + "/gates.json")
        #expect(try GateSearchResult.load(directory + "/gates.json").gates == gates)
    }

    /// A search validated every K steps, stopped between two points and resumed, ends with the
    /// same points and gates as one that ran through; the checkpoint taken at each point lets it
    /// resume mid-epoch.
    @Test func aSearchValidatedEveryKStepsResumesMidEpochExactly() throws {
        let saved = Engine.threads
        Engine.threads = 1
        defer { Engine.threads = saved }
        let directory = NSTemporaryDirectory() + "pfs-ksearch-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let reference = try Self.search(lr: 0.05, epochs: 2, validateEvery: 2).run()

        func search() throws -> GateSearch {
            let s = try Self.search(lr: 0.05, epochs: 2, validateEvery: 2)
            s.outputFile = directory + "/gates.json"
            s.runDirectory = directory + "/search"
            return s
        }
        Self.interrupt(try search(), afterSteps: 5)
        #expect(try GateSearchResult.load(directory + "/gates.json").history.map(\.step) == [2, 3, 4])
        let resumed = try search().run(resume: true)
        #expect(resumed.history.map(\.step) == [2, 3, 4, 6])
        #expect(resumed.history.map(\.gates) == reference.history.map(\.gates))
        #expect(resumed.history.map(\.validationAccuracy) == reference.history.map(\.validationAccuracy))
        #expect(resumed.selection == reference.selection && resumed.complete)
    }
}
