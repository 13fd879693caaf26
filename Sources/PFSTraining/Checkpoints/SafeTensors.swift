import Foundation
import PFSTensor

/// The safetensors file format (used by Hugging Face, readable from numpy and PyTorch):
///
///     [8 bytes: header length H, little-endian UInt64]
///     [H bytes: UTF-8 JSON {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]},
///                           "__metadata__": {"key": "string value", ...}}, padded with spaces]
///     [data: each tensor's little-endian bytes at data_offsets, relative to the end of the header]
///
/// The engine stores float32 tensors (`F32`). 64-bit integer tensors (`I64`) are also written and
/// read, for PyTorch's BatchNorm counters (`num_batches_tracked`) in exported and imported weights;
/// other types are refused by name.
public enum SafeTensors {
    /// A decoded file: tensors by name, their order in the file, and the string metadata.
    public struct Contents {
        public var tensors: [String: Tensor]
        public var order: [String]
        public var metadata: [String: String]
        /// `I64` tensors, flattened.
        public var integers: [String: (shape: [Int], values: [Int64])] = [:]
    }

    /// An `I64` tensor to write.
    public struct IntegerTensor {
        public var name: String
        public var shape: [Int]
        public var values: [Int64]

        public init(name: String, shape: [Int], values: [Int64]) {
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    /// Serialises `tensors` (in the given order), `integers` after them, and `metadata`.
    public static func encode(_ tensors: [(name: String, tensor: Tensor)], integers: [IntegerTensor] = [],
                              metadata: [String: String] = [:]) -> Data {
        var header: [String: Any] = [:]
        var offset = 0
        for (name, tensor) in tensors {
            let bytes = tensor.count * MemoryLayout<Float>.size
            header[name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        for t in integers {
            let bytes = t.values.count * 8
            header[t.name] = ["dtype": "I64", "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = (try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data("{}".utf8)
        while json.count % 8 != 0 { json.append(0x20) }   // pad so the data starts 8-byte aligned
        var out = Data(capacity: 8 + json.count + offset)
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(json)
        for (_, tensor) in tensors {
            tensor.withUnsafeBufferPointer { buffer in
                // Float32 is stored little-endian; every platform Swift targets here is little-endian.
                out.append(UnsafeBufferPointer(start: UnsafeRawPointer(buffer.baseAddress!)
                    .assumingMemoryBound(to: UInt8.self), count: buffer.count * 4))
            }
        }
        for t in integers {
            for v in t.values { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        }
        return out
    }

    /// Parses a safetensors file held in `data`; `file` names it in errors.
    public static func decode(_ data: Data, file: String) throws(TrainingError) -> Contents {
        guard data.count >= 8 else {
            throw .format(file: file, field: "header length", expected: "at least 8 bytes of file", got: "\(data.count) bytes")
        }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8) else {
            throw .format(file: file, field: "header length", expected: "≤ \(data.count - 8) (the rest of the file)",
                          got: String(headerLength))
        }
        let dataStart = 8 + Int(headerLength)
        let headerBytes = data.subdata(in: data.startIndex + 8 ..< data.startIndex + dataStart)
        guard let object = try? JSONSerialization.jsonObject(with: headerBytes), let header = object as? [String: Any] else {
            throw .format(file: file, field: "header", expected: "a JSON object", got: "unparsable bytes")
        }
        let bufferLength = data.count - dataStart
        var contents = Contents(tensors: [:], order: [], metadata: [:])
        var spans: [(Int, Int, String)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let meta = value as? [String: String] else {
                    throw .format(file: file, field: "__metadata__", expected: "an object of strings", got: "\(type(of: value))")
                }
                contents.metadata = meta
                continue
            }
            guard let entry = value as? [String: Any] else {
                throw .format(file: file, field: "tensor \(name)", expected: "an object", got: "\(type(of: value))")
            }
            guard let dtype = entry["dtype"] as? String, dtype == "F32" || dtype == "I64" else {
                throw .format(file: file, field: "tensor \(name) dtype", expected: "F32 (or I64 counters)",
                              got: "\(entry["dtype"] ?? "nothing")")
            }
            let elementSize = dtype == "F32" ? 4 : 8
            guard let shape = (entry["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  shape.count == (entry["shape"] as? [Any])?.count, shape.allSatisfy({ $0 >= 0 }) else {
                throw .format(file: file, field: "tensor \(name) shape", expected: "a list of non-negative integers",
                              got: "\(entry["shape"] ?? "nothing")")
            }
            guard let offsets = (entry["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= bufferLength else {
                throw .format(file: file, field: "tensor \(name) data_offsets",
                              expected: "[begin, end] within the \(bufferLength)-byte data section",
                              got: "\(entry["data_offsets"] ?? "nothing")")
            }
            // The element count, refusing shapes whose size overflows rather than trapping.
            var count = 1
            for d in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow, product <= bufferLength else {
                    throw .format(file: file, field: "tensor \(name) shape", expected: "a shape that fits the data section",
                                  got: Shape.describe(shape))
                }
                count = product
            }
            guard offsets[1] - offsets[0] == count * elementSize else {
                throw .format(file: file, field: "tensor \(name) data_offsets",
                              expected: "\(count * elementSize) bytes for shape \(Shape.describe(shape))",
                              got: "\(offsets[1] - offsets[0]) bytes")
            }
            if dtype == "I64" {
                var values = [Int64](repeating: 0, count: count)
                data.withUnsafeBytes { raw in
                    for i in 0..<count {
                        values[i] = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: dataStart + offsets[0] + 8 * i, as: Int64.self))
                    }
                }
                contents.integers[name] = (shape, values)
                spans.append((offsets[0], offsets[1], name))
                continue
            }
            var tensor = Tensor(unsafeUninitializedShape: shape)
            tensor.withUnsafeMutableBufferPointer { out in
                guard count > 0 else { return }
                data.withUnsafeBytes { raw in
                    let source = raw.baseAddress! + dataStart + offsets[0]
                    memcpy(out.baseAddress!, source, count * 4)
                }
            }
            contents.tensors[name] = tensor
            spans.append((offsets[0], offsets[1], name))
        }
        spans.sort { ($0.0, $0.1, $0.2) < ($1.0, $1.1, $1.2) }
        for (a, b) in zip(spans, spans.dropFirst()) where b.0 < a.1 {
            throw .format(file: file, field: "tensor \(b.2) data_offsets", expected: "no overlap with other tensors",
                          got: "overlaps \(a.2)")
        }
        contents.order = spans.map(\.2)
        return contents
    }
}
