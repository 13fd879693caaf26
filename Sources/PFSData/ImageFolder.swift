import Dispatch

/// Image-folder datasets: `root/CLASS/*.{png,jpg,jpeg}`, one sub-folder per class.
///
/// Classes are the sub-folder names sorted by name (label = position in that order); hidden
/// entries are skipped. In each class folder files whose name ends in `.png`, `.jpg` or `.jpeg`
/// (any case) are decoded in name order by their content (``ImageFile``: ``PNGImage``, or JPEG
/// through ``TurboJPEG``); files with other extensions are ignored, and an image that fails to
/// decode is an error naming it. PNGs may have any size, bit depth and colour type:
/// alpha is dropped, and when gray and colour images are mixed the gray ones are replicated to 3
/// channels (C = 1 only when every image is gray). Without `imageSize` every image must have the
/// size of the first one; with it each is resized (bilinear, half-pixel centres) to it.
public enum ImageFolder {
    /// Loads `root/CLASS/*.{png,jpg,jpeg}`. Every class folder must hold at least one image.
    public static func load(root: String, imageSize: (height: Int, width: Int)? = nil) throws(DataError) -> ImageDataset {
        try load(root: root, classNames: classFolders(in: root), imageSize: imageSize, requireEveryClass: true)
    }

    /// The class-folder names directly under `root`, sorted. Throws when `root` is missing, not a
    /// directory, or has no sub-folders.
    public static func classFolders(in root: String) throws(DataError) -> [String] {
        let k = FileIO.kind(root)
        guard k.exists else {
            throw DataError(file: root, field: "path", expected: "a folder of class folders", got: "nothing at that path")
        }
        guard k.isDirectory else {
            throw DataError(file: root, field: "path", expected: "a folder of class folders", got: "a file")
        }
        let classes = FileIO.entries(root).filter { FileIO.kind(FileIO.join(root, $0)).isDirectory }
        guard !classes.isEmpty else {
            throw DataError(file: root, field: "class folders", expected: "one sub-folder of images (.png, .jpg) per class",
                            got: "no sub-folders")
        }
        return classes
    }

    /// Loads the images of `root/NAME` for each of `classNames` (label = index in `classNames`). A
    /// missing or empty class folder is an error when `requireEveryClass`, else it contributes
    /// nothing; the result must hold at least one image.
    static func load(root: String, classNames: [String], imageSize: (height: Int, width: Int)?,
                     requireEveryClass: Bool) throws(DataError) -> ImageDataset {
        if let size = imageSize, size.height < 1 || size.width < 1 {
            throw DataError(file: root, field: "image size", expected: "a positive height and width",
                            got: "\(size.height)×\(size.width) (height×width)")
        }
        var files: [(path: String, label: Int)] = []
        for (label, name) in classNames.enumerated() {
            let folder = FileIO.join(root, name)
            let images = ImageFile.files(in: folder)
            if images.isEmpty && requireEveryClass {
                throw DataError(file: folder, field: "images", expected: "at least one image (.png, .jpg, .jpeg) in each class folder",
                                got: FileIO.kind(folder).isDirectory ? "none" : "no such folder")
            }
            files += images.map { ($0, label) }
        }
        guard !files.isEmpty else {
            throw DataError(file: root, field: "images", expected: "at least one image (.png, .jpg, .jpeg) in a class folder",
                            got: "none")
        }

        // Read and decode in parallel; results are kept by index, so the outcome (and the first
        // error reported) does not depend on timing.
        let results = UnsafeMutableBufferPointer<Result<PNGImage, DataError>?>.allocate(capacity: files.count)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: files.count) { i in
            do throws(DataError) {
                let data = try FileIO.read(files[i].path, expected: "a PNG or JPEG image")
                results[i] = .success(try ImageFile.decode([UInt8](data), file: files[i].path))
            } catch {
                results[i] = .failure(error)
            }
        }
        var images: [PNGImage] = []
        images.reserveCapacity(files.count)
        for i in 0..<files.count { images.append(try results[i]!.get()) }

        let channels = images.contains { $0.channels >= 3 } ? 3 : 1
        let first = images[0]
        let height = imageSize?.height ?? first.height, width = imageSize?.width ?? first.width
        if imageSize == nil {
            for (i, image) in images.enumerated() where image.width != width || image.height != height {
                throw DataError(file: files[i].path, field: "image size",
                                expected: "\(width)×\(height) pixels (width×height), the size of \(files[0].path); "
                                    + "pass an image size to resize",
                                got: "\(image.width)×\(image.height)")
            }
        }
        try ImageDataset.checkFits(count: files.count, channels: channels, height: height, width: width, source: root)
        let plane = height * width, perImage = channels * plane
        var pixels = [UInt8](repeating: 0, count: files.count * perImage)
        pixels.withUnsafeMutableBufferPointer { out in
            for (i, image) in images.enumerated() {
                let dst = out.baseAddress! + i * perImage
                if image.width == width && image.height == height {
                    planar(image, channels: channels, into: dst)
                } else {
                    let source = UnsafeMutablePointer<UInt8>.allocate(capacity: channels * image.width * image.height)
                    defer { source.deallocate() }
                    planar(image, channels: channels, into: source)
                    let resizer = BilinearResizer(inHeight: image.height, inWidth: image.width,
                                                  outHeight: height, outWidth: width)
                    let inPlane = image.width * image.height
                    for c in 0..<channels { resizer.resize(source + c * inPlane, into: dst + c * plane) }
                }
            }
        }
        return ImageDataset(unchecked: pixels, labels: files.map(\.label), channels: channels, height: height,
                            width: width, classNames: classNames, source: root)
    }

    /// Writes `image` as `channels` planes (C, H, W): alpha dropped, gray replicated when
    /// `channels` is 3.
    static func planar(_ image: PNGImage, channels: Int, into dst: UnsafeMutablePointer<UInt8>) {
        let plane = image.width * image.height, c = image.channels
        let colour = c >= 3
        image.pixels.withUnsafeBufferPointer { src in
            let s = src.baseAddress!
            for k in 0..<channels {
                let offset = colour ? k : 0
                let d = dst + k * plane
                for p in 0..<plane { d[p] = s[p * c + offset] }
            }
        }
    }
}

/// Image files of a folder dataset, decoded by content whatever their extension says.
public enum ImageFile {
    /// File-name endings (any case) that folder datasets read.
    public static let extensions = [".png", ".jpg", ".jpeg"]

    /// Whether `name` ends in one of ``extensions`` (any case).
    public static func hasImageExtension(_ name: String) -> Bool {
        let lower = name.lowercased()
        return extensions.contains { lower.hasSuffix($0) }
    }

    /// The image files directly in `folder` (not folders), by name; none when it is not a folder.
    public static func files(in folder: String) -> [String] {
        guard FileIO.kind(folder).isDirectory else { return [] }
        return FileIO.entries(folder).filter(hasImageExtension).map { FileIO.join(folder, $0) }
            .filter { !FileIO.kind($0).isDirectory }
    }

    /// Decodes PNG or JPEG bytes, recognised by their signature (a `.jpg` holding a PNG decodes as
    /// PNG). JPEGs need ``TurboJPEG``; without it the error says what to install. Other bytes
    /// are refused naming the file.
    public static func decode(_ bytes: [UInt8], file: String) throws(DataError) -> PNGImage {
        if bytes.starts(with: PNGImage.signature) { return try PNGImage.decode(bytes, file: file) }
        if TurboJPEG.isJPEG(bytes) {
            guard let decoder = TurboJPEG.shared else { throw TurboJPEG.unavailable(file: file) }
            return try decoder.decode(bytes, file: file)
        }
        throw DataError(file: file, field: "signature", expected: "a PNG (89 50 4E 47) or JPEG (FF D8 FF) image",
                        got: bytes.isEmpty ? "an empty file" : bytes.prefix(4).map { String(format: "%02X", $0) }.joined(separator: " "))
    }
}
