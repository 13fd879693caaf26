import Foundation
@testable import PFSData
import Testing

/// The CIFAR-10 / CIFAR-100 binary readers: exact labels and pixels in (N, C, H, W) order, errors
/// that name the file and say what was wrong, and the bundled sample.
@Suite struct CIFARTests {
    @Test func cifar10FileComesBackExactlyInNCHWOrder() throws {
        try withTemporaryDirectory { dir in
            let file = join(dir, "data_batch_1.bin")
            let labels: [UInt8] = [3, 0, 9, 1, 3]
            try writeFile(file, cifarFile(labels: labels.map { [$0] }))
            let data = try CIFAR.readBinary(file: file, variant: .cifar10, classNames: CIFAR.cifar10ClassNames)

            #expect(data.count == 5)
            #expect(data.labels == [3, 0, 9, 1, 3])
            #expect(data.channels == 3 && data.height == 32 && data.width == 32)
            #expect(data.classNames == CIFAR.cifar10ClassNames)
            #expect(data.source == file)
            #expect(data.pixels == (0..<5).flatMap { cifarPixels(record: $0) })
            #expect(data.classCounts == [1, 1, 0, 2, 0, 0, 0, 0, 0, 1])

            // Image 2, channel 1 (green), row 5, column 7 is byte 1 + 1,024 + 5·32 + 7 of record 2.
            let raw = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
            let fileOffset: Int = 2 * 3073 + 1 + 1024 + 5 * 32 + 7
            let datasetOffset: Int = ((2 * 3 + 1) * 32 + 5) * 32 + 7
            let inFile = raw[fileOffset], inDataset = data.pixels[datasetOffset]
            #expect(inDataset == inFile)
        }
    }

    @Test func cifar100UsesTheFineLabel() throws {
        try withTemporaryDirectory { dir in
            let file = join(dir, "train.bin")
            // (coarse, fine) pairs; the coarse byte would give other labels.
            try writeFile(file, cifarFile(labels: [[19, 99], [0, 42], [7, 0]]))
            let names = (0..<100).map { "class\($0)" }
            let data = try CIFAR.readBinary(file: file, variant: .cifar100, classNames: names)
            #expect(data.labels == [99, 42, 0])
            #expect(data.pixels == (0..<3).flatMap { cifarPixels(record: $0) })
            #expect(CIFAR.recordBytes(.cifar100) == 3074 && CIFAR.recordBytes(.cifar10) == 3073)

            // A fine label of 100 is out of range although the coarse one (5) is not.
            try writeFile(file, cifarFile(labels: [[1, 2], [5, 100]]))
            let error = #expect(throws: DataError.self) {
                _ = try CIFAR.readBinary(file: file, variant: .cifar100, classNames: names)
            }
            #expect(error == DataError(file: file, field: "label of record 1", expected: "0…99", got: "100"))
        }
    }

    @Test func truncatedFileNamesSizeRecordAndLeftover() throws {
        try withTemporaryDirectory { dir in
            let file = join(dir, "data_batch_1.bin")
            try writeFile(file, Array(cifarFile(labels: [[1], [2]]).dropLast()))
            let error = #expect(throws: DataError.self) {
                _ = try CIFAR.readBinary(file: file, variant: .cifar10, classNames: CIFAR.cifar10ClassNames)
            }
            #expect(error?.file == file)
            #expect(error?.field == "size")
            #expect(error?.expected.contains("3,073-byte records") == true)
            #expect(error?.expected.contains("1 label byte") == true)
            #expect(error?.got == "6,145 bytes (1 records and 3,072 bytes left over; short file)")

            // A CIFAR-100 file read as CIFAR-10 has the wrong record size too.
            try writeFile(file, cifarFile(labels: [[1, 2]]))
            let wrongVariant = #expect(throws: DataError.self) {
                _ = try CIFAR.readBinary(file: file, variant: .cifar10, classNames: CIFAR.cifar10ClassNames)
            }
            #expect(wrongVariant?.field == "size")
            #expect(wrongVariant?.got.hasPrefix("3,074 bytes") == true)

            try writeFile(file, [])
            let empty = #expect(throws: DataError.self) {
                _ = try CIFAR.readBinary(file: file, variant: .cifar10, classNames: CIFAR.cifar10ClassNames)
            }
            #expect(empty?.file == file && empty?.field == "size" && empty?.got == "an empty file")
        }
    }

    @Test func badLabelNamesTheRecordAndTheValue() throws {
        try withTemporaryDirectory { dir in
            let file = join(dir, "test_batch.bin")
            try writeFile(file, cifarFile(labels: [[9], [0], [10], [255]]))
            let error = #expect(throws: DataError.self) {
                _ = try CIFAR.readBinary(file: file, variant: .cifar10, classNames: CIFAR.cifar10ClassNames)
            }
            #expect(error == DataError(file: file, field: "label of record 2", expected: "0…9", got: "10"))
            #expect(error?.description == "\(file): label of record 2: expected 0…9, got 10")
        }
    }

    @Test func missingFileAndDirectoryAreNamed() throws {
        try withTemporaryDirectory { dir in
            let missing = join(dir, "data_batch_1.bin")
            let error = #expect(throws: DataError.self) {
                _ = try CIFAR.readBinary(file: missing, variant: .cifar10, classNames: CIFAR.cifar10ClassNames)
            }
            #expect(error?.file == missing)
            #expect(error?.field == "file")
            #expect(error?.expected == "a CIFAR-10 binary batch file")
            #expect(error?.got == "no such file")

            let notAFile = #expect(throws: DataError.self) {
                _ = try CIFAR.readBinary(file: dir, variant: .cifar100, classNames: ["a"])
            }
            #expect(notAFile?.file == dir && notAFile?.got == "a directory")
            #expect(notAFile?.expected == "a CIFAR-100 binary batch file")
        }
    }

    @Test func directoryWithoutCIFARFilesIsRefusedNamingIt() throws {
        try withTemporaryDirectory { dir in
            try writeText(join(dir, "readme.txt"), "not data")
            // Loading the training part of a directory that holds no batch files.
            let load = #expect(throws: DataError.self) {
                _ = try DataSource(kind: .cifar10, path: dir).load(.train)
            }
            #expect(load?.file == dir)
            #expect(load?.field == "train files")
            #expect(load?.expected.contains("data_batch_1.bin") == true)
            #expect(load?.got == "none")

            let test = #expect(throws: DataError.self) { _ = try DataSource(kind: .cifar10, path: dir).load(.test) }
            #expect(test?.file == dir && test?.field == "test files" && test?.expected == "test_batch.bin or test.bin")

            // Resolving it as CIFAR-10 says what was expected and what is there.
            let resolve = #expect(throws: DataError.self) { _ = try DataSource.resolve(path: dir, kind: .cifar10) }
            #expect(resolve?.file == dir && resolve?.field == "contents")
            #expect(resolve?.got.contains("readme.txt") == true)

            // CIFAR-100 without its train.bin names the missing file.
            let cifar100 = #expect(throws: DataError.self) { _ = try DataSource(kind: .cifar100, path: dir).load(.train) }
            #expect(cifar100?.file == join(dir, "train.bin") && cifar100?.got == "no such file")
        }
    }

    @Test func bundledSampleHasTheDocumentedContents() throws {
        let train = try DataSource.bundled.load(.train)
        #expect(train.count == 1500)
        #expect(train.classCounts == [155, 152, 148, 140, 153, 128, 159, 149, 154, 162])
        #expect(train.channels == 3 && train.height == 32 && train.width == 32)
        #expect(train.pixels.count == 1500 * 3072)
        #expect(train.classNames == CIFAR.cifar10ClassNames)
        #expect(train.source == "bundled CIFAR-10 sample")

        let test = try DataSource.bundled.load(.test)
        #expect(test.count == 500)
        #expect(test.classCounts.reduce(0, +) == 500 && test.classCounts.allSatisfy { $0 > 0 })

        let small = try DataSource.bundled.load(.test, imageSize: (height: 16, width: 24))
        #expect(small.count == 500 && small.height == 16 && small.width == 24 && small.channels == 3)
        #expect(small.labels == test.labels)
    }

    /// The project's CIFAR-10 data, when this machine has it: all 50,000 training images in five
    /// batches, and the bundled training file is its first 1,500 records.
    @Test(.enabled(if: CIFARTests.sharedSubset != nil))
    func sharedSubsetStartsWithTheBundledSample() throws {
        let dir = try #require(CIFARTests.sharedSubset)
        let source = try DataSource.resolve(path: dir, kind: nil)
        #expect(source.kind == .cifar10)
        let full = try source.load(.train)
        #expect(full.count == 50_000)
        let bundled = try DataSource.bundled.load(.train)
        #expect(Array(full.labels.prefix(1500)) == bundled.labels)
        #expect(Array(full.pixels.prefix(1500 * 3072)) == bundled.pixels)
    }

    static var sharedSubset: String? {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let dir = root.appendingPathComponent("shared/data/cifar-10-batches-bin").path
        return FileManager.default.fileExists(atPath: dir + "/data_batch_1.bin") ? dir : nil
    }
}
