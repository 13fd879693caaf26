import Foundation

/// Which part of a dataset to load.
public enum DataPart: String, Sendable {
    case train, test
}

/// The on-disk formats ``DataSource`` reads.
public enum DatasetKind: String, CaseIterable, Sendable {
    /// CIFAR-10 binary batches (1 label byte + 3,072 pixel bytes per record).
    case cifar10
    /// CIFAR-100 binary files (coarse and fine label bytes + 3,072 pixel bytes; fine labels used).
    case cifar100
    /// Folders of PNG images, one per class.
    case folder
}

/// Where data comes from: a directory of a given kind, or (`path == nil`) the CIFAR-10 sample
/// bundled with the package (1,500 training and 500 test images).
public struct DataSource: Sendable, CustomStringConvertible {
    /// The format of the data.
    public let kind: DatasetKind
    /// The data directory; `nil` is the bundled sample.
    public let path: String?

    /// A source without checks; see ``resolve(path:kind:)`` for the checked way.
    public init(kind: DatasetKind, path: String?) {
        self.kind = kind
        self.path = path
    }

    /// The bundled CIFAR-10 sample.
    public static var bundled: DataSource { DataSource(kind: .cifar10, path: nil) }

    /// "bundled CIFAR-10 sample", or "cifar10 at /data/cifar-10-batches-bin".
    public var description: String {
        path.map { "\(kind.rawValue) at \($0)" } ?? Self.bundledName
    }

    static let bundledName = "bundled CIFAR-10 sample"

    /// Directory of the bundled sample's files (train.bin, test.bin, batches.meta.txt).
    public static var bundledDirectory: String {
        let url = Bundle.module.url(forResource: "cifar10-sample", withExtension: nil)
            ?? Bundle.module.bundleURL.appendingPathComponent("cifar10-sample")
        return url.path
    }

    /// Checks `path` and works out its kind when `kind` is nil.
    ///
    /// `path == nil` is the bundled sample (kind must be nil or cifar10). Otherwise `path` must be
    /// a directory, and the kind is detected in this order:
    /// 1. any `data_batch_N.bin` (N = 1…5) or `test_batch.bin` → cifar10;
    /// 2. else `train.bin` or `test.bin`: cifar100 when `fine_label_names.txt` or
    ///    `coarse_label_names.txt` is present, cifar10 when `batches.meta.txt` is; else by file size —
    ///    a multiple of 3,074 bytes (2 label bytes + 3,072 pixels) but not of 3,073 → cifar100, of
    ///    3,073 but not 3,074 → cifar10, both or neither → an error naming the file;
    /// 3. else a sub-folder holding `.png`/`.jpg` files (`CLASS/` or `train/CLASS/`) → folder;
    /// 4. else an error listing what the directory holds.
    /// With an explicit `kind` the directory must show that kind's files (rule 1–3 for it).
    public static func resolve(path: String?, kind: DatasetKind?) throws(DataError) -> DataSource {
        guard let rawPath = path else {
            if let kind, kind != .cifar10 {
                throw DataError(file: bundledName, field: "kind",
                                expected: "cifar10 (the bundled sample is CIFAR-10) or a data path", got: kind.rawValue)
            }
            return .bundled
        }
        let path = (rawPath as NSString).expandingTildeInPath
        let k = FileIO.kind(path)
        guard k.exists else {
            throw DataError(file: path, field: "path", expected: "an existing data directory", got: "nothing at that path")
        }
        guard k.isDirectory else {
            throw DataError(file: path, field: "path",
                            expected: "a directory (CIFAR binary files or class folders of .png/.jpg images)", got: "a file")
        }
        let entries = FileIO.entries(path)
        let names = Set(entries)
        if let kind {
            let ok: Bool
            switch kind {
            case .cifar10: ok = hasCIFAR10Batches(names) || hasTrainTestBin(names)
            case .cifar100: ok = hasTrainTestBin(names)
            case .folder: ok = hasPNGFolders(path, entries)
            }
            guard ok else {
                throw DataError(file: path, field: "contents", expected: expectedFiles(kind), got: listing(entries))
            }
            return DataSource(kind: kind, path: path)
        }
        if hasCIFAR10Batches(names) { return DataSource(kind: .cifar10, path: path) }
        if hasTrainTestBin(names) {
            if names.contains("fine_label_names.txt") || names.contains("coarse_label_names.txt") {
                return DataSource(kind: .cifar100, path: path)
            }
            if names.contains("batches.meta.txt") { return DataSource(kind: .cifar10, path: path) }
            let file = FileIO.join(path, names.contains("train.bin") ? "train.bin" : "test.bin")
            let size = ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? NSNumber)?.intValue ?? 0
            let is100 = size > 0 && size % 3074 == 0, is10 = size > 0 && size % 3073 == 0
            if is100 && !is10 { return DataSource(kind: .cifar100, path: path) }
            if is10 && !is100 { return DataSource(kind: .cifar10, path: path) }
            throw DataError(file: file, field: "size",
                            expected: "a multiple of 3,073 bytes (CIFAR-10) or of 3,074 bytes (CIFAR-100), or a "
                                + "batches.meta.txt / fine_label_names.txt beside it to say which",
                            got: "\(grouped(size)) bytes" + (is10 ? " (a multiple of both)" : ""))
        }
        if hasPNGFolders(path, entries) { return DataSource(kind: .folder, path: path) }
        throw DataError(file: path, field: "contents",
                        expected: "CIFAR-10 batches (data_batch_N.bin, test_batch.bin), CIFAR-100 train.bin/test.bin, "
                            + "or class folders of .png/.jpg images",
                        got: listing(entries))
    }

    static func hasCIFAR10Batches(_ names: Set<String>) -> Bool {
        names.contains("test_batch.bin") || (1...5).contains { names.contains("data_batch_\($0).bin") }
    }

    static func hasTrainTestBin(_ names: Set<String>) -> Bool {
        names.contains("train.bin") || names.contains("test.bin")
    }

    /// Whether some `CLASS/` or `train/CLASS/`/`test/CLASS/` folder under `path` holds a `.png`, `.jpg` or `.jpeg`.
    static func hasPNGFolders(_ path: String, _ entries: [String]) -> Bool {
        func holdsPNG(_ folder: String) -> Bool {
            FileIO.entries(folder).contains(where: ImageFile.hasImageExtension)
        }
        for entry in entries {
            let sub = FileIO.join(path, entry)
            guard FileIO.kind(sub).isDirectory else { continue }
            if holdsPNG(sub) { return true }
            if entry == "train" || entry == "test" {
                for cls in FileIO.entries(sub) where holdsPNG(FileIO.join(sub, cls)) { return true }
            }
        }
        return false
    }

    static func expectedFiles(_ kind: DatasetKind) -> String {
        switch kind {
        case .cifar10: return "CIFAR-10 batches (data_batch_N.bin, test_batch.bin, or train.bin/test.bin)"
        case .cifar100: return "CIFAR-100 train.bin/test.bin"
        case .folder: return "class folders of .png/.jpg images (CLASS/*.{png,jpg} or train/CLASS/*.{png,jpg})"
        }
    }

    static func listing(_ entries: [String]) -> String {
        if entries.isEmpty { return "an empty directory" }
        let shown = entries.prefix(8).joined(separator: ", ")
        return "\(entries.count) entries (\(shown)\(entries.count > 8 ? ", …" : ""))"
    }

    // MARK: Loading

    /// Loads one part of the data, resized (bilinear) to `imageSize` when given.
    ///
    /// - CIFAR-10: train = every `data_batch_N.bin` present (N = 1…5, in order; at least one), or
    ///   `train.bin` when there is none (the bundled sample's layout); test = `test_batch.bin`, or
    ///   `test.bin`. Class names from `batches.meta.txt` (10 lines) when present, else the standard 10.
    /// - CIFAR-100: `train.bin` / `test.bin`, fine labels; names from `fine_label_names.txt`
    ///   (100 lines) when present, else "class0" … "class99".
    /// - Folder: `root/train/CLASS/*` and `root/test/CLASS/*` when `root/train` exists (classes = the
    ///   sorted union of both parts' class folders, so labels agree); else `root/CLASS/*` is the
    ///   training part and asking for the test part is an error saying so. In both layouts a class
    ///   without training images (an empty class folder, or a class only `test/` has) is an error
    ///   naming the folder; the test part may lack classes.
    /// - Bundled: `train.bin` / `test.bin` of the package resource; `source` is "bundled CIFAR-10 sample".
    public func load(_ part: DataPart, imageSize: (height: Int, width: Int)? = nil) throws(DataError) -> ImageDataset {
        if let size = imageSize, size.height < 1 || size.width < 1 {
            throw DataError(file: path ?? Self.bundledName, field: "image size", expected: "a positive height and width",
                            got: "\(size.height)×\(size.width) (height×width)")
        }
        guard let path else {
            let dir = Self.bundledDirectory
            let names = try Self.classNames(FileIO.join(dir, "batches.meta.txt"), count: 10,
                                            fallback: CIFAR.cifar10ClassNames)
            let file = FileIO.join(dir, part == .train ? "train.bin" : "test.bin")
            let data = try CIFAR.readBinary(file: file, variant: .cifar10, classNames: names)
            return try Self.resize(data.renamed(Self.bundledName), imageSize)
        }
        switch kind {
        case .cifar10:
            let names = try Self.classNames(FileIO.join(path, "batches.meta.txt"), count: 10,
                                            fallback: CIFAR.cifar10ClassNames)
            var files: [String]
            if part == .train {
                files = (1...5).map { "data_batch_\($0).bin" }.filter { FileIO.kind(FileIO.join(path, $0)).exists }
                if files.isEmpty && FileIO.kind(FileIO.join(path, "train.bin")).exists { files = ["train.bin"] }
            } else {
                files = ["test_batch.bin", "test.bin"].filter { FileIO.kind(FileIO.join(path, $0)).exists }.prefix(1).map { $0 }
            }
            guard !files.isEmpty else {
                throw DataError(file: path, field: "\(part.rawValue) files",
                                expected: part == .train ? "data_batch_1.bin … data_batch_5.bin (at least one) or train.bin"
                                    : "test_batch.bin or test.bin",
                                got: "none")
            }
            return try Self.resize(try Self.readAll(files, in: path, variant: .cifar10, classNames: names), imageSize)
        case .cifar100:
            let names = try Self.classNames(FileIO.join(path, "fine_label_names.txt"), count: 100,
                                            fallback: (0..<100).map { "class\($0)" })
            let file = part == .train ? "train.bin" : "test.bin"
            return try Self.resize(try Self.readAll([file], in: path, variant: .cifar100, classNames: names), imageSize)
        case .folder:
            let trainDir = FileIO.join(path, "train"), testDir = FileIO.join(path, "test")
            if FileIO.kind(trainDir).isDirectory {
                var classes = Set<String>()
                for dir in [trainDir, testDir] where FileIO.kind(dir).isDirectory {
                    for name in FileIO.entries(dir) where FileIO.kind(FileIO.join(dir, name)).isDirectory {
                        classes.insert(name)
                    }
                }
                let partDir = part == .train ? trainDir : testDir
                guard FileIO.kind(partDir).isDirectory else {
                    throw DataError(file: partDir, field: "\(part.rawValue) part",
                                    expected: "a folder of class folders beside \(trainDir)", got: "no such folder")
                }
                // Every class needs training images, in this layout as in root/CLASS; the test part
                // may lack a class.
                return try ImageFolder.load(root: partDir, classNames: classes.sorted(), imageSize: imageSize,
                                            requireEveryClass: part == .train)
            }
            guard part == .train else {
                throw DataError(file: path, field: "test part",
                                expected: "the layout root/train/CLASS/*.{png,jpg} and root/test/CLASS/*.{png,jpg}",
                                got: "root/CLASS/*.{png,jpg}, a single set of images, which is the training part only "
                                    + "(split it for validation)")
            }
            return try ImageFolder.load(root: path, imageSize: imageSize)
        }
    }

    /// Reads CIFAR binary files in order and concatenates them.
    static func readAll(_ files: [String], in dir: String, variant: DatasetKind,
                        classNames: [String]) throws(DataError) -> ImageDataset {
        var parts: [ImageDataset] = []
        for file in files {
            parts.append(try CIFAR.readBinary(file: FileIO.join(dir, file), variant: variant, classNames: classNames))
        }
        if parts.count == 1 { return parts[0] }
        return parts[0].concatenated(with: Array(parts.dropFirst()),
                                     source: "\(dir) (\(files.joined(separator: ", ")))")
    }

    /// Class names from a text file when it exists (it must list exactly `count` names), else `fallback`.
    static func classNames(_ file: String, count: Int, fallback: [String]) throws(DataError) -> [String] {
        guard FileIO.kind(file).exists else { return fallback }
        let names = try FileIO.lines(file)
        guard names.count == count else {
            throw DataError(file: file, field: "class names", expected: "\(count) names, one per line",
                            got: "\(names.count)")
        }
        return names
    }

    static func resize(_ data: ImageDataset, _ size: (height: Int, width: Int)?) throws(DataError) -> ImageDataset {
        guard let size else { return data }
        try ImageDataset.checkFits(count: data.count, channels: data.channels, height: size.height, width: size.width,
                                   source: data.source)
        return data.resized(height: size.height, width: size.width)
    }
}

extension ImageDataset {
    /// The same images with another `source`.
    func renamed(_ source: String) -> ImageDataset {
        ImageDataset(unchecked: pixels, labels: labels, channels: channels, height: height, width: width,
                     classNames: classNames, source: source)
    }
}
