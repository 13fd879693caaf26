import Foundation

/// Readers for the CIFAR-10 and CIFAR-100 "binary version" files.
///
/// A file is a sequence of fixed-size records: CIFAR-10 has 1 label byte, CIFAR-100 a coarse and a
/// fine label byte; then 3,072 pixel bytes, the 1,024 red, 1,024 green and 1,024 blue values of a
/// 32×32 image, row-major — already the (C, H, W) layout of ``ImageDataset``.
public enum CIFAR {
    /// Pixel bytes per record (3 × 32 × 32).
    public static let imageBytes = 3 * 32 * 32

    /// The ten CIFAR-10 class names in label order.
    public static let cifar10ClassNames = ["airplane", "automobile", "bird", "cat", "deer",
                                           "dog", "frog", "horse", "ship", "truck"]

    /// Label bytes before the pixels of each record: 1 for CIFAR-10, 2 for CIFAR-100.
    public static func labelBytes(_ variant: DatasetKind) -> Int? {
        switch variant {
        case .cifar10: return 1
        case .cifar100: return 2
        case .folder: return nil
        }
    }

    /// Bytes per record: 3,073 for CIFAR-10, 3,074 for CIFAR-100.
    public static func recordBytes(_ variant: DatasetKind) -> Int? {
        labelBytes(variant).map { $0 + imageBytes }
    }

    /// Reads one binary batch file into an (N, 3, 32, 32) dataset.
    ///
    /// CIFAR-10 records carry 1 label byte; CIFAR-100 records 2 (coarse, fine) and the fine label
    /// is used. Labels must be below `classNames.count`. The file is read once and copied record by
    /// record. Errors name the file and: a missing file; a size that is not a positive multiple of
    /// the record size (how many bytes, the record size, and how many bytes are left over); a label
    /// out of range (the record index and the value).
    public static func readBinary(file: String, variant: DatasetKind,
                                  classNames: [String]) throws(DataError) -> ImageDataset {
        guard let labelBytes = labelBytes(variant) else {
            throw DataError(file: file, field: "variant", expected: "cifar10 or cifar100", got: variant.rawValue)
        }
        guard !classNames.isEmpty else {
            throw DataError(file: file, field: "class names", expected: "at least one class", got: "none")
        }
        let name = variant == .cifar10 ? "CIFAR-10" : "CIFAR-100"
        let data = try FileIO.read(file, expected: "a \(name) binary batch file")
        let record = labelBytes + imageBytes
        let size = data.count
        guard size > 0, size % record == 0 else {
            let labelPart = labelBytes == 1 ? "1 label byte" : "2 label bytes"
            throw DataError(file: file, field: "size",
                            expected: "a whole number of \(grouped(record))-byte records "
                                + "(\(labelPart) + \(grouped(imageBytes)) pixel bytes)",
                            got: size == 0 ? "an empty file"
                                : "\(grouped(size)) bytes (\(grouped(size / record)) records and "
                                + "\(grouped(size % record)) bytes left over; short file)")
        }
        let n = size / record
        let classCount = classNames.count
        var labels = [Int](repeating: 0, count: n)
        var badLabel: (record: Int, value: Int)?
        let pixels = [UInt8](unsafeUninitializedCapacity: n * imageBytes) { dst, initialized in
            data.withUnsafeBytes { raw in
                let src = raw.bindMemory(to: UInt8.self).baseAddress!
                let out = dst.baseAddress!
                labels.withUnsafeMutableBufferPointer { lab in
                    for i in 0..<n {
                        let r = src + i * record
                        let label = Int(r[labelBytes - 1])
                        if label >= classCount && badLabel == nil { badLabel = (i, label) }
                        lab[i] = label
                        (out + i * imageBytes).initialize(from: r + labelBytes, count: imageBytes)
                    }
                }
            }
            initialized = n * imageBytes
        }
        if let bad = badLabel {
            throw DataError(file: file, field: "label of record \(bad.record)",
                            expected: "0…\(classCount - 1)", got: "\(bad.value)")
        }
        return ImageDataset(unchecked: pixels, labels: labels, channels: 3, height: 32, width: 32,
                            classNames: classNames, source: file)
    }
}
