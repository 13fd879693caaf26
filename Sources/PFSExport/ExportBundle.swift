import Foundation
import PFSModels
import PFSNN
import PFSTraining

/// What `pfs export --format pytorch` writes into a directory: `model.py`, `weights.safetensors`
/// (when there are weights), `architecture.json`, `train_ddp.py` and a `README.md` with the
/// exact commands.
public enum PyTorchBundle {
    /// Writes the bundle of `configuration` into `directory`, with `network`'s weights when given
    /// (`steps`: optimiser steps behind them, PyTorch's `num_batches_tracked`). Returns the files.
    @discardableResult
    public static func write(_ configuration: ChannelConfiguration, network: Network?, steps: Int, source: String,
                             into directory: String, version: String) throws -> [String] {
        var files: [String] = []
        func put(_ name: String, _ data: Data) throws {
            let path = (directory as NSString).appendingPathComponent(name)
            try AtomicFile.write(data, to: path)
            files.append(path)
        }
        try put("model.py", Data(try PyTorchSource.model(configuration, version: version).utf8))
        if let network { try put("weights.safetensors", weights(network, steps: steps)) }
        try put(Checkpoint.architectureFileName, configuration.jsonData())
        try put("train_ddp.py", Data(TrainScript.source.utf8))
        try put("README.md", Data(readme(configuration, weights: network != nil, source: source).utf8))
        return files
    }

    /// The network's tensors with PyTorch's names and, per BatchNorm, its `num_batches_tracked` counter.
    public static func weights(_ network: Network, steps: Int) -> Data {
        let counters = network.batchNorms.map {
            SafeTensors.IntegerTensor(name: $0.name + ".num_batches_tracked", shape: [], values: [Int64(steps)])
        }
        return SafeTensors.encode(Checkpoint.networkTensors(network), integers: counters,
                                  metadata: ["pfs.format": "pfs.exported-weights/1", "architecture": network.name])
    }

    static func readme(_ c: ChannelConfiguration, weights: Bool, source: String) -> String {
        let macs = Complexity.grouped(ComplexityCounter.totalMACs(c)), params = Complexity.grouped(ComplexityCounter.totalParams(c))
        return """
            # \(c.architecture.rawValue) exported by pfs

            From `\(source)`: input \(c.input), \(c.classes) classes, \(macs) MACs per image, \(params) parameters.

            | file | what |
            |---|---|
            | `model.py` | `Net`, a plain `torch.nn.Module` with these widths; `Net().state_dict()` has the keys and shapes of the weights |
            \(weights ? "| `weights.safetensors` | the trained weights, BatchNorm statistics and counters (pfs's names = PyTorch's) |\n" : "")\
            | `architecture.json` | the channel configuration (`pfs train --config`, `pfs import --config`) |
            | `train_ddp.py` | training with DistributedDataParallel under `torchrun`, pfs's recipe and data conventions |

            ## Use the model

                pip install torch numpy
                python -c "import torch, model; net = model.Net()\(weights ? "; import train_ddp; net.load_state_dict(train_ddp.load_safetensors('weights.safetensors'))" : ""); net.eval(); print(net(torch.zeros(1, *model.INPUT)).shape)"

            ## Train it on many processes or machines

            One machine, two CPU processes (gloo) or two GPUs (nccl, chosen when CUDA is there):

                torchrun --nproc_per_node=2 train_ddp.py --data /path/to/cifar-10-batches-bin --epochs 30 --out runs/ddp

            Several machines (run on each, with its own --node_rank):

                torchrun --nnodes=2 --node_rank=0 --master_addr=HOST --master_port=29500 --nproc_per_node=8 \\
                    train_ddp.py --data /path/to/data --epochs 30 --out runs/ddp

            `--scratch-b` trains for epochs × standard MACs / this network's MACs (Scratch-B);
            `--init exported` starts from `weights.safetensors` instead of pfs's fresh initialisation;
            `--batch-size` is the total over all processes (default 128, as in pfs).

            ## Back into pfs

                pfs import runs/ddp/weights.safetensors --config architecture.json --out runs/imported
                pfs eval runs/imported --data /path/to/data

            """
    }
}

/// `pfs import`: weights trained elsewhere (the exported module's state dict, or any with the same
/// names) become a pfs run directory that `pfs eval` and `pfs export` accept.
public enum WeightsImport {
    /// Reads `file`, checks every tensor against `configuration`'s network (names and shapes; the
    /// `num_batches_tracked` counters are accepted and dropped), and writes `checkpoint.safetensors`
    /// and `architecture.json` into `directory`. Returns the imported network.
    @discardableResult
    public static func run(file: String, configuration: ChannelConfiguration, into directory: String) throws -> Network {
        let data = try AtomicFile.read(file)
        let contents = try SafeTensors.decode(data, file: file)
        let network = try ModelBuilder.build(configuration, seed: 0)
        var expected: [String: [Int]] = [:]
        for (name, tensor) in Checkpoint.networkTensors(network) { expected[name] = tensor.shape }
        for name in expected.keys.sorted() {
            guard let tensor = contents.tensors[name] else {
                throw ExportError.mismatch(file: file, tensor: name, expected: "shape \(expected[name]!)",
                                           got: contents.integers[name] != nil ? "an integer tensor" : "none (missing)")
            }
            guard tensor.shape == expected[name]! else {
                throw ExportError.mismatch(file: file, tensor: name, expected: "shape \(expected[name]!)", got: "shape \(tensor.shape)")
            }
        }
        let known = Set(expected.keys)
        if let stray = contents.tensors.keys.sorted().first(where: { !known.contains($0) }) {
            throw ExportError.mismatch(file: file, tensor: stray, expected: "no such tensor (\(configuration.architecture.rawValue) "
                                       + "with these widths has none)", got: "shape \(contents.tensors[stray]!.shape)")
        }
        if let stray = contents.integers.keys.sorted().first(where: { !$0.hasSuffix(".num_batches_tracked") }) {
            throw ExportError.mismatch(file: file, tensor: stray, expected: "float32 weights or num_batches_tracked counters",
                                       got: "an integer tensor")
        }
        let checkpoint = Checkpoint.Contents(file: file, configuration: configuration, tensors: contents.tensors, state: nil)
        try Checkpoint.restore(checkpoint, into: network)
        let lock = try RunDirectoryLock.acquire(directory)
        defer { lock.release() }
        try Checkpoint.save(network, to: (directory as NSString).appendingPathComponent(Checkpoint.fileName))
        try Checkpoint.saveArchitecture(configuration, in: directory)
        return network
    }
}
