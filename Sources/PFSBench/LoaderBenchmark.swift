import Foundation
import PFSData
import PFSTensor

extension BenchmarkSuite {
    /// The streaming loader alone on an image folder: images/s of decoded, cropped, normalised
    /// batches at `size` px with `workers` decoding threads (the ImageNet training transform, or
    /// the evaluation one), for at least `minSeconds` or one epoch, and the peak resident memory.
    public static func loader(folder: String, batch: Int, size: Int, workers: Int, training: Bool, minSeconds: Double,
                              progress: ProgressHandler = { _, _, _ in }) throws -> BenchmarkReport {
        progress(0, 1, "indexing \(folder)")
        let index = try ImageFolderIndex.scan(folder)
        let transform: StreamTransform = training
            ? .randomResizedCrop(size: size, scale: 0.08...1, ratio: 0.75...(4.0 / 3), flip: true)
            : .centreCrop(resize: size * 8 / 7, size: size)
        let loader = try StreamingBatchLoader(index: index, batchSize: batch, shuffle: true, transform: transform,
                                              normalization: .imageNet, seed: 1, epoch: 0, workers: workers,
                                              window: max(2, workers + 1))
        let start = DispatchTime.now().uptimeNanoseconds
        var images = 0, batches = 0, seconds = 0.0
        while let b = try loader.next() {
            images += b.labels.count
            batches += 1
            seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            progress(batches, loader.batchCount, "\(images) images, \(format(Double(images) / seconds)) img/s")
            if seconds >= minSeconds { break }
        }
        loader.cancel()
        let rate = Double(images) / seconds
        let memory = ModelBenchmark.peakResidentBytes().map { Double($0) / 1_048_576 }
        let row = [index.root, "\(index.count)", "\(batch)", "\(size)", "\(workers)", training ? "train" : "eval",
                   "\(images)", format(rate), memory.map { format($0, 0) } ?? "-",
                   format(Double(loader.peakBytesInFlight) / 1_048_576, 1)]
        var record = context().merging([
            "op": "loader", "folder": index.root, "images_indexed": index.count, "batch": batch, "size": size,
            "workers": workers, "transform": training ? "train" : "eval", "images": images, "img_s": rate,
            "batch_bytes_peak_mb": Double(loader.peakBytesInFlight) / 1_048_576,
        ]) { a, _ in a }
        if let memory { record["peak_rss_mb"] = memory }
        return BenchmarkReport(
            title: "streaming loader, \(setting)",
            notes: ["decode (PNG / TurboJPEG) + " + (training ? "RandomResizedCrop + flip" : "resize + centre crop")
                    + " + normalise; no network; peak MB = resident set of the process"],
            header: ["folder", "indexed", "batch", "px", "workers", "transform", "images", "img/s", "peak MB",
                     "batches MB"],
            rows: [row], records: [record])
    }
}
