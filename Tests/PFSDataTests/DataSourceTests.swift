import Foundation
@testable import PFSData
import Testing

/// Data sources: detection of CIFAR-10, CIFAR-100 and image folders, clear errors for paths that
/// hold nothing usable, and loading of each layout.
@Suite struct DataSourceTests {
    func resolved(_ path: String, _ kind: DatasetKind? = nil) throws -> DatasetKind {
        let source = try DataSource.resolve(path: path, kind: kind)
        #expect(source.path == path)
        return source.kind
    }

    func png(_ path: String, value: UInt8 = 50) throws {
        try writeFile(path, PNGImage(width: 2, height: 3, channels: 3,
                                     pixels: [UInt8](repeating: value, count: 18)).encode())
    }

    @Test func detectsCIFAR10() throws {
        try withTemporaryDirectory { root in
            // Official batch names.
            let batches = join(root, "official")
            try writeFile(join(batches, "data_batch_1.bin"), cifarFile(labels: [[1], [2]]))
            try writeFile(join(batches, "data_batch_2.bin"), cifarFile(labels: [[3]]))
            try writeFile(join(batches, "test_batch.bin"), cifarFile(labels: [[9]]))
            #expect(try resolved(batches) == .cifar10)
            #expect(try resolved(batches, .cifar10) == .cifar10)
            let source = try DataSource.resolve(path: batches, kind: nil)
            #expect(source.description == "cifar10 at \(batches)")
            let train = try source.load(.train)
            #expect(train.labels == [1, 2, 3])
            #expect(train.pixels == cifarPixels(record: 0) + cifarPixels(record: 1) + cifarPixels(record: 0))
            #expect(train.source.contains("data_batch_1.bin, data_batch_2.bin"))
            #expect(try source.load(.test).labels == [9])

            // train.bin + batches.meta.txt (the bundled layout), with its own class names.
            let meta = join(root, "meta")
            let names = (0..<10).map { "name\($0)" }
            try writeFile(join(meta, "train.bin"), cifarFile(labels: [[4]]))
            try writeText(join(meta, "batches.meta.txt"), classNameFile(names))
            #expect(try resolved(meta) == .cifar10)
            #expect(try DataSource(kind: .cifar10, path: meta).load(.train).classNames == names)

            // train.bin alone, told apart by its size (a multiple of 3,073 only).
            let bare = join(root, "bare")
            try writeFile(join(bare, "train.bin"), cifarFile(labels: [[4], [5]]))
            #expect(try resolved(bare) == .cifar10)
        }
    }

    @Test func detectsCIFAR100() throws {
        try withTemporaryDirectory { root in
            let named = join(root, "named")
            let names = (0..<100).map { "fine\($0)" }
            try writeFile(join(named, "train.bin"), cifarFile(labels: [[3, 77], [1, 5]]))
            try writeFile(join(named, "test.bin"), cifarFile(labels: [[0, 99]]))
            try writeText(join(named, "fine_label_names.txt"), classNameFile(names))
            #expect(try resolved(named) == .cifar100)
            let source = try DataSource.resolve(path: named, kind: nil)
            let train = try source.load(.train)
            #expect(train.labels == [77, 5] && train.classNames == names)
            #expect(try source.load(.test).labels == [99])

            // By size: 2 records of 3,074 bytes are not a multiple of 3,073.
            let bare = join(root, "bare")
            try writeFile(join(bare, "test.bin"), cifarFile(labels: [[3, 77], [1, 5]]))
            #expect(try resolved(bare) == .cifar100)
            #expect(try DataSource(kind: .cifar100, path: bare).load(.test).classNames.last == "class99")

            // A names file with the wrong number of lines is named.
            try writeText(join(named, "fine_label_names.txt"), classNameFile(["only", "three", "names"]))
            let error = #expect(throws: DataError.self) { _ = try source.load(.train) }
            #expect(error?.file == join(named, "fine_label_names.txt"))
            #expect(error?.field == "class names" && error?.got == "3")
        }
    }

    @Test func detectsImageFolders() throws {
        try withTemporaryDirectory { root in
            let flat = join(root, "flat")
            try png(join(flat, "cats/1.png"))
            try png(join(flat, "dogs/1.png"))
            #expect(try resolved(flat) == .folder)
            let source = DataSource(kind: .folder, path: flat)
            #expect(try source.load(.train).classNames == ["cats", "dogs"])
            let noTest = #expect(throws: DataError.self) { _ = try source.load(.test) }
            #expect(noTest?.file == flat && noTest?.field == "test part")

            // train/ and test/ parts: classes are the union, so labels agree across the parts; every
            // class needs training images (c, only in test/, is refused until train/c has one).
            let parts = join(root, "parts")
            try png(join(parts, "train/a/1.png"), value: 1)
            try png(join(parts, "train/b/1.png"), value: 2)
            try png(join(parts, "test/b/1.png"), value: 3)
            try png(join(parts, "test/c/1.png"), value: 4)
            #expect(try resolved(parts) == .folder)
            let split = DataSource(kind: .folder, path: parts)
            let noTraining = #expect(throws: DataError.self) { _ = try split.load(.train) }
            #expect(noTraining?.file == join(parts, "train/c"))
            try png(join(parts, "train/c/1.png"), value: 5)
            let train = try split.load(.train), test = try split.load(.test, imageSize: (height: 4, width: 4))
            #expect(train.classNames == ["a", "b", "c"] && test.classNames == ["a", "b", "c"])
            #expect(train.labels == [0, 1, 2] && test.labels == [1, 2])
            #expect(test.height == 4 && test.width == 4 && test.pixels.first == 3)
        }
    }

    @Test func unrecognisableDirectoryListsWhatItHolds() throws {
        try withTemporaryDirectory { root in
            try writeText(join(root, "notes.txt"), "hello")
            try writeFile(join(root, "images/photo.gif"), [0x47, 0x49, 0x46])
            let error = #expect(throws: DataError.self) { _ = try DataSource.resolve(path: root, kind: nil) }
            #expect(error?.file == root)
            #expect(error?.field == "contents")
            #expect(error?.expected.contains("CIFAR-10") == true && error?.expected.contains(".png") == true)
            #expect(error?.got == "2 entries (images, notes.txt)")

            let empty = join(root, "empty")
            try makeDirectory(empty)
            let nothing = #expect(throws: DataError.self) { _ = try DataSource.resolve(path: empty, kind: nil) }
            #expect(nothing?.file == empty && nothing?.got == "an empty directory")

            // An explicit kind the directory does not show.
            try png(join(root, "cls/x.png"))
            #expect(try resolved(root) == .folder)
            let wrongKind = #expect(throws: DataError.self) { _ = try DataSource.resolve(path: root, kind: .cifar100) }
            #expect(wrongKind?.file == root && wrongKind?.expected == "CIFAR-100 train.bin/test.bin")
        }
    }

    @Test func sizeThatFitsNeitherFormatNamesTheFile() throws {
        try withTemporaryDirectory { root in
            try writeFile(join(root, "train.bin"), [UInt8](repeating: 1, count: 100))
            let error = #expect(throws: DataError.self) { _ = try DataSource.resolve(path: root, kind: nil) }
            #expect(error?.file == join(root, "train.bin"))
            #expect(error?.field == "size" && error?.got == "100 bytes")
        }
    }

    @Test func missingPathAndFileAreRefused() throws {
        try withTemporaryDirectory { root in
            let missing = join(root, "does-not-exist")
            let error = #expect(throws: DataError.self) { _ = try DataSource.resolve(path: missing, kind: nil) }
            #expect(error == DataError(file: missing, field: "path", expected: "an existing data directory",
                                       got: "nothing at that path"))
            let file = join(root, "data.bin")
            try writeFile(file, cifarFile(labels: [[1]]))
            let notDirectory = #expect(throws: DataError.self) { _ = try DataSource.resolve(path: file, kind: .cifar10) }
            #expect(notDirectory?.file == file && notDirectory?.got == "a file")
        }
    }

    @Test func nilPathIsTheBundledSample() throws {
        let source = try DataSource.resolve(path: nil, kind: nil)
        #expect(source.path == nil && source.kind == .cifar10)
        #expect(source.description == "bundled CIFAR-10 sample")
        #expect(try DataSource.resolve(path: nil, kind: .cifar10).path == nil)
        let error = #expect(throws: DataError.self) { _ = try DataSource.resolve(path: nil, kind: .folder) }
        #expect(error?.file == "bundled CIFAR-10 sample" && error?.got == "folder")
        let size = #expect(throws: DataError.self) { _ = try DataSource.bundled.load(.test, imageSize: (height: 0, width: 8)) }
        #expect(size?.field == "image size")
        #expect(FileManager.default.fileExists(atPath: join(DataSource.bundledDirectory, "train.bin")))
    }
}
