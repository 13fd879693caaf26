import ArgumentParser
import Foundation
import PFSExport
import PFSModels
import PFSTraining

/// What `pfs export` writes.
enum ExportFormat: String, ExpressibleByArgument, CaseIterable {
    case pytorch, onnx
}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a network to PyTorch (module, weights, torchrun DDP recipe) or ONNX (inference graph).",
        discussion: """
            RUN is a run directory, a checkpoint file, or a configuration or pruned-architecture JSON (an untrained \
            export). --format pytorch writes DIR/model.py (a plain torch.nn.Module with these widths, state_dict \
            keys = pfs's names), weights.safetensors (when RUN has weights), architecture.json, train_ddp.py \
            (torchrun DistributedDataParallel with pfs's recipe) and README.md. --format onnx writes one ONNX \
            file (opset 13, BatchNorm folded, dynamic batch dimension); from a JSON it holds the initial weights \
            of --seed.
            """)

    @Argument(help: ArgumentHelp("Run directory, checkpoint file, or configuration JSON.", valueName: "run")) var source: String
    @Option(help: "pytorch or onnx.") var format: ExportFormat
    @Option(help: "Output directory (pytorch; default export-<arch>) or file (onnx; default <arch>.onnx).") var out: String?
    @Option(parsing: .unconditional, help: "Seed of the initial weights of an ONNX export from a configuration JSON.",
            transform: parseSeed)
    var seed: UInt64 = 1

    func validate() throws {
        switch format {
        case .pytorch: try OutputPath.directory("an export directory").check(out)
        case .onnx: try OutputPath.file("an ONNX file", name: "model.onnx").check(out)
        }
    }

    func run() throws {
        let isJSON = source.lowercased().hasSuffix(".json")
        var network: Network?
        var configuration: ChannelConfiguration
        var steps = 0
        if isJSON {
            configuration = try ConfigurationFile.read(source)
        } else {
            let contents = try Checkpoint.read(source)
            configuration = contents.configuration
            let built = try ModelBuilder.build(configuration, seed: 0)
            try Checkpoint.restore(contents, into: built)
            network = built
            steps = contents.state?.globalStep ?? 0
        }
        let version = PFSCommand.configuration.version
        switch format {
        case .pytorch:
            let directory = out ?? "export-\(configuration.architecture.rawValue)"
            let files = try PyTorchBundle.write(configuration, network: network, steps: steps, source: source, into: directory,
                                                version: version)
            print("\(configuration.architecture.rawValue) (\(grouped(ComplexityCounter.totalMACs(configuration))) MACs) → "
                  + (network == nil ? "untrained export (no weights)" : "with the weights of \(source)"))
            for file in files { print("saved  \(file)") }
            print("train it with PyTorch DDP: cd \(directory) && torchrun --nproc_per_node=2 train_ddp.py --data DIR")
        case .onnx:
            let file = out ?? "\(configuration.architecture.rawValue).onnx"
            let net = try network ?? ModelBuilder.build(configuration, seed: seed)
            let data = try ONNXExport.model(net, producerVersion: version)
            try AtomicFile.write(data, to: file)
            print("\(configuration.architecture.rawValue): ONNX opset \(ONNXExport.opset), BatchNorm folded, dynamic batch → \(file) "
                  + "(\(grouped(data.count)) bytes" + (network == nil ? ", initial weights of seed \(seed))" : ")"))
        }
    }
}

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Turn weights trained elsewhere (e.g. by train_ddp.py) into a pfs run for pfs eval and pfs export.",
        discussion: """
            WEIGHTS is a safetensors file with pfs's (= the exported module's) tensor names. Every tensor is \
            checked against the configuration: a missing, extra or misshapen tensor is refused naming it, the \
            shape expected and the shape received. PyTorch's num_batches_tracked counters are accepted.
            """)

    @Argument(help: "Safetensors weights file.") var weights: String
    @Option(help: "The network's configuration (architecture.json of the export, or a pruned architecture).") var config: String
    @Option(help: "Run directory to write.") var out: String

    func validate() throws {
        try OutputPath.directory("a run directory").check(out)
    }

    func run() throws {
        let configuration = try ConfigurationFile.read(config)
        let checkpoint = (out as NSString).appendingPathComponent(Checkpoint.fileName)
        if FileManager.default.fileExists(atPath: checkpoint) {
            throw ValidationError("\(checkpoint) exists; import into another --out")
        }
        try WeightsImport.run(file: weights, configuration: configuration, into: out)
        print("imported \(weights) as \(configuration.architecture.rawValue) → \(out)/{\(Checkpoint.fileName), \(Checkpoint.architectureFileName)}")
        print("evaluate it: pfs eval \(out) --data DIR")
    }
}
