import Foundation
import PFSData
import PFSModels
import PFSNN
import PFSPruning
import PFSTensor
import PFSTestSupport
import PFSTraining
import Testing

/// Mutates valid inputs (bit flips, truncations, insertions, length fields, huge and non-finite
/// numbers) and feeds them to every parser of outside input: each must succeed or throw its typed
/// error — never crash, never throw anything else. A fixed seed and iteration count in CI
/// (`PFS_FUZZ_ITERATIONS` for a longer run); the bad inputs that once crashed or were accepted are
/// kept in `Corpus/<parser>/` and replayed first: each must be refused with a typed error.
@Suite(.serialized) struct FuzzTests {
    static var iterations: Int {
        Int(ProcessInfo.processInfo.environment["PFS_FUZZ_ITERATIONS"] ?? "") ?? 400
    }

    /// A parser under test: its name (the corpus folder) and how to run it on bytes.
    struct Target {
        var name: String
        var seeds: [[UInt8]]
        var json: Bool
        /// Parses the bytes; returns normally or throws.
        var parse: ([UInt8], String) throws -> Void
        /// Whether an error is the parser's own typed error.
        var typed: (Error) -> Bool
    }

    static let scratch = RunFixtures.temporaryDirectory("fuzz")

    /// Writes `bytes` to a file in the scratch directory (for the parsers that read files).
    static func file(_ bytes: [UInt8], _ name: String) -> String {
        try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let path = scratch + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    static func targets() throws -> [Target] {
        let configuration = try ChannelConfiguration.standard(.resnet20, input: InputShape(channels: 3, height: 8, width: 8),
                                                              classes: 4, widthMultiplier: 0.25)
        let network = try ModelBuilder.build(configuration, seed: 1)
        let checkpoint = file([], "seed.safetensors")
        try Checkpoint.save(network, state: TrainingState(recipe: TrainingRecipe(), normalization: .cifar10, data: "x",
                                                          trainingImages: 3), to: checkpoint)
        let safetensors = [UInt8](try Data(contentsOf: URL(fileURLWithPath: checkpoint)))
        var rng = RandomGenerator(seed: 4)
        let scores = ChannelScores(configuration: configuration,
                                   scores: configuration.prunableWidths.map { c in (0..<c).map { _ in rng.uniform() } },
                                   provenance: ScoreProvenance(criterion: .random, seed: 1))
        let pruned = try PrunedArchitecture.make(from: scores, budget: .keepFraction(0.5))
        let history = [GateEpoch(epoch: 1, trainLoss: 1, objective: 1, trainAccuracy: 0.5, validationLoss: 1,
                                 validationAccuracy: 0.5, meanGate: 0.5, nonZeroFraction: 1, seconds: 1, imagesPerSecond: 1,
                                 gates: scores.scores)]
        let gates = GateSearchResult(configuration: configuration, settings: GateSearchSettings(), source: .randomInitialization(seed: 1),
                                     data: "x", history: history, selection: GateSelection(epoch: 1, rule: .lastEpochNoneSparse),
                                     complete: true, seconds: 1)
        let encoder = JSONEncoder()
        func json<T: Encodable>(_ value: T) throws -> [UInt8] { [UInt8](try encoder.encode(value)) }
        let cifar = [UInt8](try Data(contentsOf: URL(fileURLWithPath: DataSource.bundledDirectory + "/train.bin")).prefix(3 * 3073))
        let pngs = [PNGImage(width: 5, height: 3, channels: 3, pixels: (0..<45).map { UInt8($0 * 5) }).encode(),
                    PNGImage(width: 4, height: 4, channels: 4, pixels: (0..<64).map { UInt8($0 * 3) }).encode(),
                    PNGImage(width: 7, height: 2, channels: 1, pixels: (0..<14).map { UInt8($0 * 17) }).encode()]
        func isTraining(_ e: Error) -> Bool { e is TrainingError }
        func isPruning(_ e: Error) -> Bool { e is PruningError }
        func isData(_ e: Error) -> Bool { e is DataError }
        return [
            Target(name: "safetensors", seeds: [safetensors], json: false,
                   parse: { bytes, _ in _ = try SafeTensors.decode(Data(bytes), file: "fuzz") }, typed: isTraining),
            Target(name: "checkpoint", seeds: [safetensors], json: false,
                   parse: { bytes, name in
                       let contents = try Checkpoint.read(file(bytes, name))
                       let net = try ModelBuilder.build(configuration, seed: 0)
                       if contents.configuration == configuration { try Checkpoint.restore(contents, into: net) }
                   },
                   typed: { $0 is TrainingError || $0 is ModelError }),
            Target(name: "configuration", seeds: [try json(configuration),
                                                  try json(try ChannelConfiguration.standard(.mobilenetv2))], json: true,
                   parse: { bytes, name in _ = try ConfigurationFile.read(file(bytes, name)) }, typed: isTraining),
            Target(name: "pruned-architecture", seeds: [try json(pruned)], json: true,
                   parse: { bytes, name in
                       _ = try PrunedArchitecture.load(file(bytes, name))
                       _ = try ConfigurationFile.read(file(bytes, name + ".config"))
                   },
                   typed: { $0 is PruningError || $0 is TrainingError }),
            Target(name: "gates", seeds: [try json(gates)], json: true,
                   parse: { bytes, name in _ = try GateSearchResult.load(file(bytes, name)) }, typed: isPruning),
            Target(name: "scores", seeds: [try json(scores), try json(gates)], json: true,
                   parse: { bytes, name in
                       let loaded = try ChannelScores.load(file(bytes, name))
                       _ = try PrunedArchitecture.make(from: loaded, budget: .keepFraction(0.5))
                   },
                   typed: isPruning),
            Target(name: "study-plan", seeds: [[UInt8](StudyPlan.builtIn.jsonData()), [UInt8](RunFixtures.studyPlan().jsonData())],
                   json: true, parse: { bytes, _ in _ = try StudyPlan.decode(Data(bytes), file: "fuzz") }, typed: isPruning),
            Target(name: "cifar", seeds: [cifar], json: false,
                   parse: { bytes, name in
                       _ = try CIFAR.readBinary(file: file(bytes, name), variant: .cifar10, classNames: CIFAR.cifar10ClassNames)
                   },
                   typed: isData),
            Target(name: "png", seeds: pngs, json: false,
                   parse: { bytes, _ in _ = try PNGImage.decode(bytes, file: "fuzz") }, typed: isData),
        ]
    }

    static var corpus: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus").path
    }

    /// Runs `target` on `bytes`; records an issue for an error of another type. (A crash ends the
    /// process: the input being tried is in `scratch/current-<name>` for the corpus.)
    static func check(_ target: Target, _ bytes: [UInt8], _ label: String) -> Bool {
        _ = FileManager.default.createFile(atPath: scratch + "/current-" + target.name, contents: Data(bytes))
        do {
            try target.parse(bytes, target.name + ".input")
            return true
        } catch {
            if !target.typed(error) {
                Issue.record("\(target.name) \(label): untyped error \(type(of: error)): \(error)")
            }
            return false
        }
    }

    @Test func everyParserTurnsMutatedInputIntoResultsOrTypedErrors() throws {
        defer { try? FileManager.default.removeItem(atPath: Self.scratch) }
        var rng = RandomGenerator(seed: 2026)
        var summary: [String] = []
        for target in try Self.targets() {
            // The seeds parse.
            for (i, seed) in target.seeds.enumerated() { #expect(Self.check(target, seed, "seed \(i)"), "\(target.name) seed \(i)") }
            // Inputs that once failed.
            let folder = Self.corpus + "/" + target.name
            var replayed = 0
            for name in ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted() {
                let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name)))
                #expect(!Self.check(target, bytes, "corpus \(name)"), "\(target.name): corpus \(name) was accepted")
                replayed += 1
            }
            var accepted = 0
            for i in 0..<Self.iterations {
                let seed = target.seeds[i % target.seeds.count]
                let mutated = Mutator.mutate(seed, json: target.json, rng: &rng)
                if Self.check(target, mutated, "iteration \(i)") { accepted += 1 }
            }
            summary.append("\(target.name): \(Self.iterations) mutations (\(accepted) parsed, \(Self.iterations - accepted) "
                           + "typed errors), \(replayed) corpus inputs, 0 crashes")
        }
        print("fuzz: " + summary.joined(separator: "; "))
    }
}

/// Mutations of valid inputs.
enum Mutator {
    static let numbers = ["1e999", "-1e999", "-1", "0", "-0", "9223372036854775808", "18446744073709551616", "1e-400",
                          "4294967296", "65536", "1048577", "1000000000", "2.5", "\"x\"", "null", "true", "[]", "{}"]

    static func mutate(_ input: [UInt8], json: Bool, rng: inout RandomGenerator) -> [UInt8] {
        var bytes = input
        let rounds = 1 + rng.int(below: 3)
        for _ in 0..<rounds {
            if json && rng.int(below: 3) > 0 {
                bytes = mutateJSON(bytes, rng: &rng)
            } else {
                bytes = mutateBytes(bytes, rng: &rng)
            }
        }
        return bytes
    }

    static func mutateBytes(_ input: [UInt8], rng: inout RandomGenerator) -> [UInt8] {
        var b = input
        guard !b.isEmpty else { return [UInt8(truncatingIfNeeded: rng.next())] }
        switch rng.int(below: 8) {
        case 0: let i = rng.int(below: b.count); b[i] ^= UInt8(1 << rng.int(below: 8))                  // bit flip
        case 1: b = Array(b.prefix(rng.int(below: b.count)))                                            // truncation
        case 2: b.insert(contentsOf: (0..<(1 + rng.int(below: 16))).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
                         at: rng.int(below: b.count + 1))                                               // insertion
        case 3: let i = rng.int(below: b.count); b.removeSubrange(i..<min(b.count, i + 1 + rng.int(below: 64)))
        case 4: let i = rng.int(below: b.count); b[i] = [0, 0xFF, 0x7F, 0x80][rng.int(below: 4)]       // interesting byte
        case 5:                                                                                         // a length field
            let i = rng.int(below: max(1, b.count - 8))
            let value: UInt64 = [UInt64.max, UInt64(Int64.max), 1 << 40, 1 << 32, 0, UInt64(b.count)][rng.int(below: 6)]
            for k in 0..<min(8, b.count - i) { b[i + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k))) }
        case 6: // the safetensors header length, or a PNG chunk length (big-endian 32 bits at 8 / 33 / …)
            let offset = [0, 8, 33, 37][rng.int(below: 4)]
            if offset + 4 <= b.count {
                let v = [UInt32.max, 0x7FFF_FFFF, 0, 1 << 24][rng.int(below: 4)]
                for k in 0..<4 { b[offset + k] = UInt8(truncatingIfNeeded: v >> (8 * (3 - UInt32(k)))) }
            }
        default:                                                                                        // duplication
            let i = rng.int(below: b.count), n = min(b.count - i, 1 + rng.int(below: 128))
            b.insert(contentsOf: b[i..<(i + n)], at: rng.int(below: b.count + 1))
        }
        return b
    }

    /// Replaces a number, string or punctuation of a JSON text.
    static func mutateJSON(_ input: [UInt8], rng: inout RandomGenerator) -> [UInt8] {
        var text = String(decoding: input, as: UTF8.self)
        let chars = Array(text)
        guard !chars.isEmpty else { return input }
        switch rng.int(below: 4) {
        case 0, 1: // a number token → an edge value
            var starts: [Int] = []
            for (i, c) in chars.enumerated() where (c.isNumber || c == "-") && (i == 0 || !(chars[i - 1].isNumber || chars[i - 1] == "." || chars[i - 1] == "e")) {
                starts.append(i)
            }
            guard let start = starts.isEmpty ? nil : starts[rng.int(below: starts.count)] else { break }
            var end = start + 1
            while end < chars.count, chars[end].isNumber || chars[end] == "." || chars[end] == "e" || chars[end] == "-" || chars[end] == "+" { end += 1 }
            text = String(chars[..<start]) + numbers[rng.int(below: numbers.count)] + String(chars[end...])
        case 2: // a string value → another
            let quotes = chars.indices.filter { chars[$0] == "\"" }
            guard quotes.count >= 2 else { break }
            let k = rng.int(below: quotes.count / 2) * 2
            let replacement = ["\"\"", "\"resnet110\"", "\"<script>\"", "\"final\"", "\"pfs.gates/1\"", "\"\\u0000\"",
                               "\"" + String(repeating: "a", count: 300) + "\"", "3"][rng.int(below: 8)]
            text = String(chars[..<quotes[k]]) + replacement + String(chars[(quotes[k + 1] + 1)...])
        default: // structure
            let i = rng.int(below: chars.count)
            let pieces = ["", ",", "[", "]", "{", "}", ":", "\"", "[[[[[[[[", "0,"]
            text = String(chars[..<i]) + pieces[rng.int(below: pieces.count)] + String(chars[min(chars.count, i + rng.int(below: 3))...])
        }
        return [UInt8](text.utf8)
    }
}
