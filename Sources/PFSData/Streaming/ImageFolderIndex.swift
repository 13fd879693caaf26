/// An image folder indexed, not loaded: the path and label of every image, for streaming datasets
/// too large for memory (ImageNet-scale folders).
///
/// Layout `root/CLASS/*.{png,jpg,jpeg}` (classes = the sorted sub-folder names, label = position;
/// files by name within a class), or the part `root/train/CLASS/…` / `root/val/CLASS/…` with the
/// classes of the training part (``scan(_:part:)``). No image is opened until it is streamed.
public struct ImageFolderIndex: Sendable, Equatable {
    /// The folder the classes are in, for messages.
    public var root: String
    public var classNames: [String]
    /// Image paths, class by class, by name within a class.
    public var files: [String]
    /// Label of each file (index into ``classNames``).
    public var labels: [Int]

    public var count: Int { files.count }

    public init(root: String, classNames: [String], files: [String], labels: [Int]) {
        precondition(files.count == labels.count, "one label per file")
        self.root = root
        self.classNames = classNames
        self.files = files
        self.labels = labels
    }

    /// Indexes `root/CLASS/*` for `classNames` (default: the class folders of `root`). Every class
    /// folder must hold an image when the classes are `root`'s own; with given classes (a
    /// validation part) a missing or empty class contributes nothing.
    public static func scan(_ root: String, classNames given: [String]? = nil) throws(DataError) -> ImageFolderIndex {
        let classNames: [String]
        if let given { classNames = given } else { classNames = try ImageFolder.classFolders(in: root) }
        var files: [String] = [], labels: [Int] = []
        for (label, name) in classNames.enumerated() {
            let folder = FileIO.join(root, name)
            let images = ImageFile.files(in: folder)
            if images.isEmpty && given == nil {
                throw DataError(file: folder, field: "images", expected: "at least one image (.png, .jpg, .jpeg) in each class folder",
                                got: "none")
            }
            files += images
            labels += [Int](repeating: label, count: images.count)
        }
        guard !files.isEmpty else {
            throw DataError(file: root, field: "images", expected: "at least one image (.png, .jpg, .jpeg) in a class folder",
                            got: "none")
        }
        return ImageFolderIndex(root: root, classNames: classNames, files: files, labels: labels)
    }

    /// Indexes `root/train` (its own classes) and, for `part` = `"val"` (or `"test"`), that part
    /// with the training part's classes.
    public static func scan(_ root: String, part: String) throws(DataError) -> ImageFolderIndex {
        let train = FileIO.join(root, "train")
        let classes = try ImageFolder.classFolders(in: train)
        return part == "train" ? try scan(train, classNames: classes) : try scan(FileIO.join(root, part), classNames: classes)
    }

    /// The entries at `indices`, in that order.
    public func subset(_ indices: [Int]) -> ImageFolderIndex {
        ImageFolderIndex(root: root, classNames: classNames, files: indices.map { files[$0] }, labels: indices.map { labels[$0] })
    }

    /// The seeded, stratified split ``ImageDataset/split(validationFraction:seed:)`` makes, on paths.
    public func split(validationFraction: Double, seed: UInt64) throws(DataError)
        -> (train: ImageFolderIndex, validation: ImageFolderIndex) {
        guard validationFraction >= 0, validationFraction <= 1 else {
            throw DataError(file: root, field: "validation fraction", expected: "a number in [0, 1]", got: "\(validationFraction)")
        }
        let parts = stratifiedSplit(labels: labels, classCount: classNames.count, validationFraction: validationFraction,
                                    seed: seed)
        return (subset(parts.train), subset(parts.validation))
    }
}
