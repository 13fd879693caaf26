import Foundation
import PFSTensor
import PFSTraining
import Testing

@Suite struct SafeTensorsTests {
    static func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("pfs-\(getpid())-\(UUID().uuidString)-\(name)").path
    }

    @Test func roundTripKeepsNamesShapesValuesAndMetadata() throws {
        var rng = RandomGenerator(seed: 1)
        let a = Tensor.randomNormal([3, 2, 3, 3], using: &rng), b = Tensor.randomNormal([5], using: &rng)
        let data = SafeTensors.encode([("conv.weight", a), ("bn.bias", b), ("empty", Tensor(zeros: [0]))],
                                      metadata: ["pfs.state": "{\"x\":1}"])
        // Header length (little-endian) + 8-byte aligned data section.
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(headerLength % 8 == 0)
        #expect(data.count == 8 + headerLength + (a.count + b.count) * 4)
        let back = try SafeTensors.decode(data, file: "x.safetensors")
        #expect(back.tensors["conv.weight"] == a)
        #expect(back.tensors["bn.bias"] == b)
        #expect(back.tensors["empty"]?.shape == [0])
        #expect(back.metadata["pfs.state"] == "{\"x\":1}")
        #expect(back.order.filter { $0 != "empty" } == ["conv.weight", "bn.bias"])
    }

    /// The layout other readers rely on: the JSON header names dtype, shape and byte offsets.
    @Test func headerIsStandardJSON() throws {
        let t = try Tensor(shape: [2], values: [1.5, -2])
        let data = SafeTensors.encode([("w", t)])
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8 ..< data.count - 8)) as? [String: Any]
        let entry = header?["w"] as? [String: Any]
        #expect(entry?["dtype"] as? String == "F32")
        #expect(entry?["shape"] as? [Int] == [2])
        #expect(entry?["data_offsets"] as? [Int] == [0, 8])
        // 1.5 = 0x3FC00000 little-endian.
        #expect(Array(data.suffix(8).prefix(4)) == [0x00, 0x00, 0xC0, 0x3F])
    }

    @Test func malformedFilesAreRefusedWithTheField() throws {
        let good = SafeTensors.encode([("w", Tensor(zeros: [4]))])
        func field(_ data: Data) -> String? {
            do { _ = try SafeTensors.decode(data, file: "bad.safetensors"); return nil } catch {
                if case let .format(file, field, _, _) = error { #expect(file == "bad.safetensors"); return field }
                return "other"
            }
        }
        #expect(field(Data([1, 2, 3])) == "header length")
        var huge = good; huge[7] = 0x7F
        #expect(field(huge) == "header length")
        #expect(field(good.prefix(good.count - 4)) == "tensor w data_offsets")   // truncated data
        var garbage = good; garbage[8] = UInt8(ascii: "x")
        #expect(field(garbage) == "header")
        let text = String(decoding: good, as: UTF8.self).replacingOccurrences(of: "F32", with: "F16")
        #expect(field(Data(text.utf8)) == "tensor w dtype")
    }

    @Test func atomicWriteReplacesAndLeavesNoTemporaryFile() throws {
        let dir = Self.temporaryPath("atomic")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/nested/file.bin"
        try AtomicFile.write(Data([1, 2, 3]), to: path)
        try AtomicFile.write(Data([4, 5]), to: path)
        #expect(try AtomicFile.read(path) == Data([4, 5]))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/nested") == ["file.bin"])
        #expect(throws: TrainingError.self) { try AtomicFile.read(dir + "/missing.bin") }
    }
}
