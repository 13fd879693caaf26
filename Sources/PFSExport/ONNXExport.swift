import Foundation
import PFSModels
import PFSNN
import PFSTensor

/// Writes a network as an ONNX model (opset 13) with our own protobuf writer: the inference graph,
/// BatchNorm folded into the preceding convolution (w' = w·γ/√(σ²+ε), b' = β − μ·γ/√(σ²+ε)), a
/// dynamic batch dimension named `batch`, input `input` (batch, C, H, W) and output `logits`
/// (batch, classes). Works for every architecture pfs builds, standard and pruned; gates are not
/// part of trained networks and are refused.
public enum ONNXExport {
    public static let opset: Int64 = 13
    /// ONNX IR version 7 goes with opset 13.
    public static let irVersion: Int64 = 7

    // ONNX field numbers (onnx.proto).
    enum Model { static let irVersion = 1, producerName = 2, producerVersion = 3, graph = 7, opsetImport = 8 }
    enum Graph { static let node = 1, name = 2, initializer = 5, input = 11, output = 12 }
    enum Node { static let input = 1, output = 2, name = 3, opType = 4, attribute = 5 }
    enum Attribute { static let name = 1, f = 2, i = 3, ints = 8, type = 20 }
    enum AttributeType { static let float: Int64 = 1, int: Int64 = 2, ints: Int64 = 7 }
    enum TensorField { static let dims = 1, dataType = 2, name = 8, rawData = 9 }
    static let floatType: Int64 = 1

    /// The ONNX file of `network` (built from its configuration and holding its trained weights).
    public static func model(_ network: Network, producerVersion: String) throws(ExportError) -> Data {
        var graph = GraphBuilder(network: network)
        let output = try graph.add(LayerGraph.nodes(network.configuration), input: "input")
        let c = network.configuration
        var w = ProtobufWriter()
        w.int(Model.irVersion, irVersion)
        w.string(Model.producerName, "pfs")
        w.string(Model.producerVersion, producerVersion)
        w.message(Model.opsetImport) { o in o.string(1, ""); o.int(2, opset) }
        w.message(Model.graph) { g in
            for node in graph.nodes { g.bytes(Graph.node, node) }
            g.string(Graph.name, c.architecture.rawValue)
            for tensor in graph.initializers { g.bytes(Graph.initializer, tensor) }
            g.bytes(Graph.input, valueInfo("input", ["batch", c.input.channels, c.input.height, c.input.width]))
            g.bytes(Graph.output, valueInfo(output, ["batch", c.classes]))
        }
        return Data(w.bytes)
    }

    /// A ValueInfoProto of a float tensor; `String` dims are symbolic (dynamic).
    static func valueInfo(_ name: String, _ dims: [Any]) -> [UInt8] {
        var v = ProtobufWriter()
        v.string(1, name)
        v.message(2) { type in
            type.message(1) { tensor in
                tensor.int(1, floatType)
                tensor.message(2) { shape in
                    for d in dims {
                        shape.message(1) { dim in
                            if let n = d as? Int { dim.int(1, Int64(n)) } else { dim.string(2, "\(d)") }
                        }
                    }
                }
            }
        }
        return v.bytes
    }
}

/// Failures of exports and imports, naming the file or tensor at fault.
public enum ExportError: Error, Equatable, Sendable, CustomStringConvertible {
    case unsupported(String)
    case mismatch(file: String, tensor: String, expected: String, got: String)
    case io(String)

    public var description: String {
        switch self {
        case let .unsupported(what): return "cannot export: \(what)"
        case let .mismatch(file, tensor, expected, got): return "\(file): tensor \(tensor): expected \(expected), got \(got)"
        case let .io(detail): return detail
        }
    }
}

/// Turns ``LayerNode``s into ONNX nodes and initializers, folding each BatchNorm into its convolution.
struct GraphBuilder {
    let parameters: [String: Tensor]
    let statistics: [String: (mean: Tensor, variance: Tensor)]
    var nodes: [[UInt8]] = []
    var initializers: [[UInt8]] = []
    private var counter = 0

    init(network: Network) {
        parameters = Dictionary(uniqueKeysWithValues: network.parameters.map { ($0.name, $0.value) })
        statistics = Dictionary(uniqueKeysWithValues: network.batchNorms.map { ($0.name, ($0.runningMean, $0.runningVariance)) })
    }

    mutating func fresh(_ base: String) -> String {
        counter += 1
        return "\(base)_\(counter)"
    }

    mutating func node(_ op: String, inputs: [String], output: String, name: String,
                       ints: [(String, [Int])] = [], int: [(String, Int)] = [], float: [(String, Float)] = []) {
        var n = ProtobufWriter()
        for i in inputs { n.string(ONNXExport.Node.input, i) }
        n.string(ONNXExport.Node.output, output)
        n.string(ONNXExport.Node.name, name)
        n.string(ONNXExport.Node.opType, op)
        for (key, values) in ints {
            n.message(ONNXExport.Node.attribute) { a in
                a.string(ONNXExport.Attribute.name, key)
                for v in values { a.int(ONNXExport.Attribute.ints, Int64(v)) }
                a.int(ONNXExport.Attribute.type, ONNXExport.AttributeType.ints)
            }
        }
        for (key, value) in int {
            n.message(ONNXExport.Node.attribute) { a in
                a.string(ONNXExport.Attribute.name, key)
                a.int(ONNXExport.Attribute.i, Int64(value))
                a.int(ONNXExport.Attribute.type, ONNXExport.AttributeType.int)
            }
        }
        for (key, value) in float {
            n.message(ONNXExport.Node.attribute) { a in
                a.string(ONNXExport.Attribute.name, key)
                a.float(ONNXExport.Attribute.f, value)
                a.int(ONNXExport.Attribute.type, ONNXExport.AttributeType.float)
            }
        }
        nodes.append(n.bytes)
    }

    mutating func initializer(_ name: String, dims: [Int], values: [Float]) {
        var t = ProtobufWriter()
        for d in dims { t.int(ONNXExport.TensorField.dims, Int64(d)) }
        t.int(ONNXExport.TensorField.dataType, ONNXExport.floatType)
        t.string(ONNXExport.TensorField.name, name)
        var raw = [UInt8]()
        raw.reserveCapacity(values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { raw.append(contentsOf: $0) } }
        t.bytes(ONNXExport.TensorField.rawData, raw)
        initializers.append(t.bytes)
    }

    func tensor(_ name: String) throws(ExportError) -> Tensor {
        guard let t = parameters[name] else { throw .unsupported("the network has no parameter \(name)") }
        return t
    }

    /// Adds `list` after the value `input`; returns the name of the last output.
    mutating func add(_ list: [LayerNode], input: String) throws(ExportError) -> String {
        var x = input
        var i = 0
        while i < list.count {
            switch list[i] {
            case let .conv(name, inChannels, outChannels, kernel, stride, padding, groups):
                // The BatchNorm that follows is folded into this convolution.
                guard i + 1 < list.count, case let .batchNorm(bnName, _) = list[i + 1] else {
                    throw .unsupported("convolution \(name) is not followed by a BatchNorm")
                }
                let weight = try tensor(name + ".weight").scalars
                let gamma = try tensor(bnName + ".weight").scalars, beta = try tensor(bnName + ".bias").scalars
                guard let stats = statistics[bnName] else { throw .unsupported("no running statistics for \(bnName)") }
                let mean = stats.mean.scalars, variance = stats.variance.scalars
                let perFilter = weight.count / outChannels
                var folded = weight, bias = [Float](repeating: 0, count: outChannels)
                for o in 0..<outChannels {
                    let scale = gamma[o] / (variance[o] + 1e-5).squareRoot()
                    for k in 0..<perFilter { folded[o * perFilter + k] = weight[o * perFilter + k] * scale }
                    bias[o] = beta[o] - mean[o] * scale
                }
                initializer(name + ".weight", dims: [outChannels, inChannels / groups, kernel, kernel], values: folded)
                initializer(name + ".bias", dims: [outChannels], values: bias)
                let out = fresh(name)
                node("Conv", inputs: [x, name + ".weight", name + ".bias"], output: out, name: name,
                     ints: [("kernel_shape", [kernel, kernel]), ("strides", [stride, stride]),
                            ("pads", [padding, padding, padding, padding]), ("dilations", [1, 1])],
                     int: [("group", groups)])
                x = out
                i += 2
                continue
            case let .batchNorm(name, _):
                throw .unsupported("BatchNorm \(name) without a convolution before it")
            case let .gate(name, _):
                throw .unsupported("the network has gate \(name); export a trained (ungated) network")
            case let .relu(name, six):
                let out = fresh(name)
                if six {
                    initializer(name + ".min", dims: [], values: [0])
                    initializer(name + ".max", dims: [], values: [6])
                    node("Clip", inputs: [x, name + ".min", name + ".max"], output: out, name: name)
                } else {
                    node("Relu", inputs: [x], output: out, name: name)
                }
                x = out
            case let .maxPool(name, kernel, stride, padding):
                let out = fresh(name)
                node("MaxPool", inputs: [x], output: out, name: name,
                     ints: [("kernel_shape", [kernel, kernel]), ("strides", [stride, stride]),
                            ("pads", [padding, padding, padding, padding])])
                x = out
            case let .globalAveragePool(name):
                let pooled = fresh(name)
                node("GlobalAveragePool", inputs: [x], output: pooled, name: name)
                let flat = fresh(name + ".flatten")
                node("Flatten", inputs: [pooled], output: flat, name: name + ".flatten", int: [("axis", 1)])
                x = flat
            case let .linear(name, inFeatures, outFeatures):
                initializer(name + ".weight", dims: [outFeatures, inFeatures], values: try tensor(name + ".weight").scalars)
                initializer(name + ".bias", dims: [outFeatures], values: try tensor(name + ".bias").scalars)
                let out = i == list.count - 1 && input == "input" ? "logits" : fresh(name)
                node("Gemm", inputs: [x, name + ".weight", name + ".bias"], output: out, name: name,
                     int: [("transB", 1)], float: [("alpha", 1), ("beta", 1)])
                x = out
            case let .residual(name, body, shortcut):
                let y = try add(body, input: x)
                let s = shortcut.isEmpty ? x : try add(shortcut, input: x)
                let out = fresh(name)
                node("Add", inputs: [y, s], output: out, name: name + ".add")
                x = out
            }
            i += 1
        }
        return x
    }
}
