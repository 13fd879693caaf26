import Foundation
import PFSData
@testable import PFSExport
import PFSModels
import PFSNN
import PFSTensor
import PFSTestSupport
import PFSTraining
import Testing

/// A Python with PyTorch and onnxruntime: PFS_PYTHON, else `python3` when it imports them. CI
/// creates one and sets PFS_EXPECT_PYTHON=1, which turns its absence into a failure.
enum PythonPeer {
    static let executable: String? = {
        let environment = ProcessInfo.processInfo.environment
        for candidate in [environment["PFS_PYTHON"], "/usr/bin/env"].compactMap({ $0 }) {
            let arguments = candidate == "/usr/bin/env" ? ["python3"] : []
            if run(candidate, arguments + ["-c", "import torch, onnxruntime, onnx, numpy"]).status == 0 {
                return candidate == "/usr/bin/env" ? "python3" : candidate
            }
        }
        return nil
    }()

    /// The Python, or nil after recording a failure (CI) or printing why the test is skipped.
    static func require(_ test: String) -> String? {
        if let executable { return executable }
        if ProcessInfo.processInfo.environment["PFS_EXPECT_PYTHON"] == "1" {
            Issue.record("PFS_EXPECT_PYTHON=1 but no Python with torch, onnx and onnxruntime (set PFS_PYTHON)")
        } else {
            print("skipped \(test): no Python with torch, onnx and onnxruntime here (set PFS_PYTHON); CI runs it")
        }
        return nil
    }

    /// Runs a program; returns its status and its standard output (standard error appended).
    @discardableResult
    static func run(_ program: String, _ arguments: [String], directory: String? = nil,
                    environment: [String: String] = [:]) -> (status: Int32, output: String) {
        let process = Process()
        if program.hasPrefix("/") {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [program] + arguments
        }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let pipe = Pipe(), errors = Pipe()
        process.standardOutput = pipe
        process.standardError = errors
        do { try process.run() } catch { return (-1, "\(error)") }
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self) + String(decoding: err, as: UTF8.self))
    }

    static var compareScript: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Python/compare_exports.py").path
    }
}

@Suite(.serialized) struct ExportTests {
    /// A network with BatchNorm scales, shifts and running statistics away from their initial
    /// values, as after training, so that folding them into the convolutions is exercised: random
    /// γ and β, then statistics gathered by forward passes in training mode.
    static func network(_ configuration: ChannelConfiguration, seed: UInt64 = 3) throws -> Network {
        let network = try ModelBuilder.build(configuration, seed: seed)
        var rng = RandomGenerator(seed: seed + 100)
        for bn in network.batchNorms {
            bn.gamma.value = Tensor(shape: [bn.channels]) { _ in rng.uniform(0.7, 1.3) }
            bn.beta.value = Tensor(shape: [bn.channels]) { _ in rng.uniform(-0.2, 0.2) }
        }
        let c = configuration.input
        for _ in 0..<12 {   // momentum 0.1: the statistics move 72 % of the way to the data's
            _ = try network.forward(Tensor.randomNormal([2, c.channels, c.height, c.width], using: &rng), mode: .training)
        }
        return network
    }

    static func cases() throws -> [(String, ChannelConfiguration)] {
        let resnet56 = try ChannelConfiguration.standard(.resnet56)
        var rng = RandomGenerator(seed: 9)
        let pruned = try resnet56.withPrunableWidths(resnet56.prunableWidths.map { max(1, $0 - rng.int(below: $0)) })
        return [("vgg16", try ChannelConfiguration.standard(.vgg16)), ("resnet20", try ChannelConfiguration.standard(.resnet20)),
                ("resnet56", resnet56), ("mobilenetv2", try ChannelConfiguration.standard(.mobilenetv2)),
                ("resnet18-32px", try ChannelConfiguration.standard(.resnet18, input: .cifar)), ("resnet56-pruned", pruned)]
    }

    /// pfs's logits (evaluation mode), the PyTorch module's and the ONNX model's agree within 1e-4
    /// for every architecture and a pruned one, at batch sizes 1, 3 and 8 through the dynamic batch.
    @Test func logitsOfPfsPyTorchAndONNXAgree() throws {
        guard let python = PythonPeer.require("logitsOfPfsPyTorchAndONNXAgree") else { return }
        let root = RunFixtures.temporaryDirectory("export")
        defer { try? FileManager.default.removeItem(atPath: root) }
        var cases: [[String: Any]] = []
        for (name, configuration) in try Self.cases() {
            let network = try Self.network(configuration)
            let bundle = root + "/" + name
            try PyTorchBundle.write(configuration, network: network, steps: 7, source: name, into: bundle, version: "test")
            try Data(try ONNXExport.model(network, producerVersion: "test")).write(to: URL(fileURLWithPath: bundle + "/model.onnx"))
            for batch in [1, 3, 8] {
                var rng = RandomGenerator(seed: UInt64(batch))
                let shape = [batch, configuration.input.channels, configuration.input.height, configuration.input.width]
                let x = Tensor.randomNormal(shape, using: &rng)
                let logits = try network.forward(x, mode: .inference)
                let input = bundle + "/input\(batch).f32", output = bundle + "/logits\(batch).f32"
                try x.scalars.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: input)) }
                try logits.scalars.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: output)) }
                cases.append(["name": name, "bundle": bundle, "onnx": bundle + "/model.onnx", "input": input, "shape": shape,
                              "logits": output])
            }
        }
        try JSONSerialization.data(withJSONObject: cases).write(to: URL(fileURLWithPath: root + "/cases.json"))
        let result = PythonPeer.run(python, [PythonPeer.compareScript, root + "/cases.json"])
        #expect(result.status == 0, "\(result.output)")
        guard let line = result.output.split(separator: "\n").last(where: { $0.hasPrefix("[") }),
              let rows = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [[String: Any]] else {
            Issue.record("no result from compare_exports.py: \(result.output)")
            return
        }
        #expect(rows.count == cases.count)
        var report: [String] = []
        for row in rows {
            let name = row["name"] as? String ?? "?", batch = row["batch"] as? Int ?? 0
            let torch = row["torch_max_diff"] as? Double ?? .infinity, onnx = row["onnx_max_diff"] as? Double ?? .infinity
            #expect(row["keys_equal"] as? Bool == true, "\(name): state_dict keys or shapes differ from the weights")
            #expect(torch <= 1e-4, "\(name) batch \(batch): PyTorch differs by \(torch)")
            #expect(onnx <= 1e-4, "\(name) batch \(batch): ONNX differs by \(onnx)")
            #expect(row["opset"] as? Int == 13)
            report.append(String(format: "%@ batch %d: torch %.2e, onnx %.2e", name, batch, torch, onnx))
        }
        print("export max |logit difference|: " + report.joined(separator: "; "))
    }

    /// torchrun with two CPU processes trains the exported pruned network for one epoch on the
    /// bundled sample; the loss is finite, its weights import into pfs, and pfs's evaluation of
    /// them equals the script's own.
    @Test func torchrunTrainsTheExportAndPfsImportsTheResult() throws {
        guard let python = PythonPeer.require("torchrunTrainsTheExport") else { return }
        let root = RunFixtures.temporaryDirectory("ddp")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let standard = try ChannelConfiguration.standard(.resnet20)
        let pruned = try standard.withPrunableWidths(standard.prunableWidths.map { $0 / 2 })
        try PyTorchBundle.write(pruned, network: nil, steps: 0, source: "test", into: root + "/bundle", version: "test")
        let torchrun = ((python as NSString).deletingLastPathComponent as NSString).appendingPathComponent("torchrun")
        let command = FileManager.default.isExecutableFile(atPath: torchrun) ? torchrun : "torchrun"
        let result = PythonPeer.run(command, ["--nproc_per_node=2", "--master_port=29517", "train_ddp.py",
                                              "--data", DataSource.bundledDirectory, "--epochs", "1", "--out", root + "/ddp"],
                                    directory: root + "/bundle", environment: ["OMP_NUM_THREADS": "1"])
        #expect(result.status == 0, "\(result.output)")
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: root + "/ddp/result.json")))
            as? [String: Any] ?? [:]
        let loss = summary["train_loss"] as? Double ?? .nan
        #expect(loss.isFinite && summary["processes"] as? Int == 2, "\(summary)")
        try WeightsImport.run(file: root + "/ddp/weights.safetensors", configuration: pruned, into: root + "/run")
        let contents = try Checkpoint.read(root + "/run")
        let evaluated = try ModelBuilder.build(contents.configuration, seed: 0)
        try Checkpoint.restore(contents, into: evaluated)
        let test = try DataSource.bundled.load(.test)
        let evaluation = try Evaluator.evaluate(evaluated, on: test, normalization: .cifar10)
        let scriptAccuracy = summary["test_accuracy"] as? Double ?? -1
        #expect(abs(evaluation.accuracy - scriptAccuracy) < 1e-9,
                "pfs \(evaluation.accuracy) vs the script's \(scriptAccuracy); \(result.output)")
        print("torchrun 2 processes, 1 epoch: train loss \(loss), test accuracy pfs \(evaluation.accuracy) = script \(scriptAccuracy)")
    }

    @Test func untrainedAndTrainedExportsHaveTheSameModelSource() throws {
        let root = RunFixtures.temporaryDirectory("same-source")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let configuration = try ChannelConfiguration.standard(.resnet20).withPrunableWidths([3, 5, 7, 9, 11, 13, 15, 17, 19])
        try PyTorchBundle.write(configuration, network: nil, steps: 0, source: "a.json", into: root + "/untrained", version: "1")
        try PyTorchBundle.write(configuration, network: try Self.network(configuration), steps: 5, source: "run", into: root + "/trained",
                                version: "1")
        let a = try String(contentsOfFile: root + "/untrained/model.py", encoding: .utf8)
        let b = try String(contentsOfFile: root + "/trained/model.py", encoding: .utf8)
        #expect(a == b)
        #expect(a.contains("\"stage3.block3.conv1\": 19,  # prunable"))
        #expect(!FileManager.default.fileExists(atPath: root + "/untrained/weights.safetensors"))
        #expect(FileManager.default.fileExists(atPath: root + "/trained/weights.safetensors"))
    }

    /// Weights with a missing, extra or misshapen tensor are refused naming it and both shapes;
    /// PyTorch's counters are accepted; the imported run evaluates like the original.
    @Test func importChecksEveryTensor() throws {
        let root = RunFixtures.temporaryDirectory("import")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let configuration = try ChannelConfiguration.standard(.resnet20, input: InputShape(channels: 3, height: 8, width: 8),
                                                              classes: 4, widthMultiplier: 0.25)
        let network = try Self.network(configuration)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try PyTorchBundle.weights(network, steps: 3).write(to: URL(fileURLWithPath: root + "/good.safetensors"))
        let imported = try WeightsImport.run(file: root + "/good.safetensors", configuration: configuration, into: root + "/run")
        var rng = RandomGenerator(seed: 42)
        let x = Tensor.randomNormal([2, 3, 8, 8], using: &rng)
        #expect(try imported.forward(x, mode: .inference).scalars == (try network.forward(x, mode: .inference).scalars))
        #expect(try Checkpoint.read(root + "/run").configuration == configuration)

        var tensors = Checkpoint.networkTensors(network)
        let index = tensors.firstIndex { $0.name == "stage2.block1.conv1.weight" }!
        tensors[index].tensor = Tensor(zeros: [3, 4, 3, 3])
        try SafeTensors.encode(tensors).write(to: URL(fileURLWithPath: root + "/shape.safetensors"))
        let shape = #expect(throws: ExportError.self) {
            try WeightsImport.run(file: root + "/shape.safetensors", configuration: configuration, into: root + "/r2")
        }
        #expect(shape?.description == "\(root)/shape.safetensors: tensor stage2.block1.conv1.weight: expected shape "
                + "\(network.parameters.first { $0.name == "stage2.block1.conv1.weight" }!.value.shape), got shape [3, 4, 3, 3]")
        tensors = Checkpoint.networkTensors(network).filter { $0.name != "fc.bias" }
        try SafeTensors.encode(tensors).write(to: URL(fileURLWithPath: root + "/missing.safetensors"))
        let missing = #expect(throws: ExportError.self) {
            try WeightsImport.run(file: root + "/missing.safetensors", configuration: configuration, into: root + "/r3")
        }
        #expect(missing?.description.contains("tensor fc.bias: expected shape [4], got none (missing)") == true)
        tensors = Checkpoint.networkTensors(network) + [(name: "extra.weight", tensor: Tensor(zeros: [2]))]
        try SafeTensors.encode(tensors).write(to: URL(fileURLWithPath: root + "/extra.safetensors"))
        let extra = #expect(throws: ExportError.self) {
            try WeightsImport.run(file: root + "/extra.safetensors", configuration: configuration, into: root + "/r4")
        }
        #expect(extra?.description.contains("tensor extra.weight") == true)
    }

    /// The wire format against the protobuf documentation's examples, and an ONNX file's header.
    @Test func protobufWireFormat() throws {
        var w = ProtobufWriter()
        w.int(1, 150)
        #expect(w.bytes == [0x08, 0x96, 0x01])
        w = ProtobufWriter()
        w.string(2, "testing")
        #expect(w.bytes == [0x12, 0x07] + Array("testing".utf8))
        w = ProtobufWriter()
        w.int(3, -1)
        #expect(w.bytes == [0x18] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
        w = ProtobufWriter()
        w.float(2, 1)
        #expect(w.bytes == [0x15, 0x00, 0x00, 0x80, 0x3F])
        w = ProtobufWriter()
        w.message(3) { $0.int(1, 150) }
        #expect(w.bytes == [0x1A, 0x03, 0x08, 0x96, 0x01])
        let model = try ONNXExport.model(try ModelBuilder.build(try ChannelConfiguration.standard(.resnet20), seed: 1),
                                         producerVersion: "t")
        #expect(model.prefix(2) == Data([0x08, 0x07]))                      // ir_version 7
        // 272,474 parameters; BatchNorm's 2 per channel become one bias per channel.
        #expect(model.count > 268_000 * 4 && model.count < 275_000 * 4, "\(model.count) bytes")
    }
}
