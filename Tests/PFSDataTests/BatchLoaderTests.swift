import Foundation
@testable import PFSData
import PFSTensor
import Testing

/// The batch loader: determinism in (seed, epoch) whatever the prefetch depth, crops and flips
/// checked against a naive padded-crop reference, exact normalisation, partial batches, argument
/// checks, and cancellation of abandoned loaders.
@Suite struct BatchLoaderTests {
    static let norm3 = Normalization(mean: [0.1, 0.5, 0.9], std: [0.2, 0.3, 0.5])

    /// The epoch plan as the loader's documentation specifies it, written out independently.
    struct Plan {
        var order: [Int], dy: [Int], dx: [Int], flip: [Bool]
    }

    func referencePlan(count n: Int, shuffle: Bool, augmentation: Augmentation, seed: UInt64, epoch: Int) -> Plan {
        var rng = RandomGenerator(seed: BatchLoader.epochSeed(seed: seed, epoch: epoch))
        var order = Array(0..<n)
        if shuffle {
            var i = n - 1
            while i > 0 {
                order.swapAt(i, rng.int(below: i + 1))
                i -= 1
            }
        }
        let p = augmentation.padding
        var plan = Plan(order: order, dy: Array(repeating: p, count: n), dx: Array(repeating: p, count: n),
                        flip: Array(repeating: false, count: n))
        for k in 0..<n {
            if p > 0 {
                plan.dy[k] = rng.int(below: 2 * p + 1)
                plan.dx[k] = rng.int(below: 2 * p + 1)
            }
            if augmentation.horizontalFlip { plan.flip[k] = rng.next() >> 63 == 1 }
        }
        return plan
    }

    /// Naive reference: pad the raw bytes of image `index` with zeros, take the window at (dy, dx),
    /// mirror it when `flip`, then normalise. Also returns which outputs came from the padding.
    func referenceImage(_ data: ImageDataset, index: Int, padding p: Int, dy: Int, dx: Int, flip: Bool,
                        normalization: Normalization) -> (values: [Float], padded: [Bool]) {
        let c = data.channels, h = data.height, w = data.width
        let ph = h + 2 * p, pw = w + 2 * p
        var paddedImage = [UInt8](repeating: 0, count: c * ph * pw)
        var isPadding = [Bool](repeating: true, count: c * ph * pw)
        for ch in 0..<c {
            for y in 0..<h {
                for x in 0..<w {
                    let to = (ch * ph + y + p) * pw + x + p
                    paddedImage[to] = data.pixels[((index * c + ch) * h + y) * w + x]
                    isPadding[to] = false
                }
            }
        }
        var values: [Float] = [], padded: [Bool] = []
        for ch in 0..<c {
            for y in 0..<h {
                for x in 0..<w {
                    let cropX = flip ? w - 1 - x : x
                    let from = (ch * ph + dy + y) * pw + dx + cropX
                    values.append(normalised(paddedImage[from], mean: normalization.mean[ch],
                                             std: normalization.std[ch]))
                    padded.append(isPadding[from])
                }
            }
        }
        return (values, padded)
    }

    func allBatches(_ data: ImageDataset, batchSize: Int = 4, shuffle: Bool = true,
                    augmentation: Augmentation = .cifar, normalization: Normalization = norm3, seed: UInt64 = 7,
                    epoch: Int = 3, dropLast: Bool = false, prefetch: Int) throws -> [Batch] {
        Array(try BatchLoader(dataset: data, batchSize: batchSize, shuffle: shuffle, augmentation: augmentation,
                              normalization: normalization, seed: seed, epoch: epoch, dropLast: dropLast,
                              prefetch: prefetch))
    }

    @Test func sameSeedAndEpochGiveBitIdenticalBatchesAtAnyPrefetch() throws {
        let data = try syntheticDataset(count: 23, channels: 3, height: 5, width: 6)
        let reference = try allBatches(data, prefetch: 0)
        #expect(reference.count == 6)
        for prefetch in [0, 1, 2, 5] {
            let batches = try allBatches(data, prefetch: prefetch)
            #expect(batches.count == reference.count)
            for (a, b) in zip(batches, reference) {
                #expect(bits(a.images) == bits(b.images), "prefetch \(prefetch)")
                #expect(a.labels == b.labels && a.indices == b.indices && a.images.shape == b.images.shape)
            }
        }
    }

    /// Resuming an epoch at batch k gives exactly the batches k… of the whole epoch.
    @Test func anEpochResumedAtABatchGivesTheRestOfTheSameEpoch() throws {
        let data = try syntheticDataset(count: 23, channels: 3, height: 5, width: 6)
        let reference = try allBatches(data, prefetch: 0)
        for (start, prefetch) in [(2, 0), (2, 2), (5, 1), (6, 2)] {
            let loader = try BatchLoader(dataset: data, batchSize: 4, shuffle: true, augmentation: .cifar,
                                         normalization: Self.norm3, seed: 7, epoch: 3, prefetch: prefetch, startBatch: start)
            var rest: [Batch] = []
            while let batch = try loader.nextBatch() { rest.append(batch) }
            #expect(rest.map { bits($0.images) } == reference.dropFirst(start).map { bits($0.images) }, "start \(start)")
            #expect(rest.map(\.indices) == reference.dropFirst(start).map(\.indices))
        }
        #expect(throws: DataError.self) {
            _ = try BatchLoader(dataset: data, batchSize: 4, shuffle: true, augmentation: .cifar, normalization: Self.norm3,
                                seed: 11, epoch: 3, startBatch: 7)
        }
    }

    @Test func anotherEpochOrSeedGivesAnotherOrderAndOtherCrops() throws {
        let data = try syntheticDataset(count: 23, channels: 3, height: 5, width: 6)
        let base = try allBatches(data, prefetch: 2)
        for (seed, epoch) in [(UInt64(7), 4), (UInt64(8), 3)] {
            let other = try allBatches(data, seed: seed, epoch: epoch, prefetch: 2)
            #expect(other.flatMap(\.indices) != base.flatMap(\.indices))
            #expect(other.flatMap(\.indices).sorted() == Array(0..<23))
            #expect(other.flatMap { bits($0.images) } != base.flatMap { bits($0.images) })
        }
        // Without shuffling the order is the same, but the crops still change with the epoch.
        let a = try allBatches(data, shuffle: false, epoch: 1, prefetch: 0)
        let b = try allBatches(data, shuffle: false, epoch: 2, prefetch: 0)
        #expect(a.flatMap(\.indices) == Array(0..<23) && b.flatMap(\.indices) == Array(0..<23))
        #expect(a.flatMap { bits($0.images) } != b.flatMap { bits($0.images) })
        #expect(BatchLoader.epochSeed(seed: 1, epoch: 0) != BatchLoader.epochSeed(seed: 1, epoch: 1))
        #expect(BatchLoader.epochSeed(seed: 1, epoch: 0) != BatchLoader.epochSeed(seed: 2, epoch: 0))
    }

    // Padding 7 exceeds the 5×6 image: some windows miss it entirely.
    @Test(arguments: [(4, true), (4, false), (2, true), (7, true), (7, false)])
    func cropsAndFlipsMatchTheNaiveReference(padding: Int, flip: Bool) throws {
        let data = try syntheticDataset(count: 40, channels: 3, height: 5, width: 6)
        let augmentation = Augmentation(padding: padding, horizontalFlip: flip)
        for prefetch in [0, 2] {
            let loader = try BatchLoader(dataset: data, batchSize: 6, shuffle: true, augmentation: augmentation,
                                         normalization: Self.norm3, seed: 11, epoch: 5, prefetch: prefetch)
            let plan = referencePlan(count: 40, shuffle: true, augmentation: augmentation, seed: 11, epoch: 5)
            #expect(loader.order == plan.order)
            var k = 0, paddedSeen = 0
            for batch in loader {
                #expect(batch.indices == Array(plan.order[k..<(k + batch.labels.count)]))
                #expect(batch.labels == batch.indices.map { data.labels[$0] })
                let values = batch.images.scalars, perImage = 3 * 5 * 6
                for j in 0..<batch.labels.count {
                    let ref = referenceImage(data, index: plan.order[k], padding: padding, dy: plan.dy[k],
                                             dx: plan.dx[k], flip: plan.flip[k], normalization: Self.norm3)
                    let got = Array(values[(j * perImage)..<((j + 1) * perImage)])
                    #expect(got.map(\.bitPattern) == ref.values.map(\.bitPattern), "sample \(k)")
                    // Padded pixels are the normalised value of 0, (0 − mean)/std.
                    for (i, isPad) in ref.padded.enumerated() where isPad {
                        let ch = i / (5 * 6)
                        #expect(got[i] == normalised(0, mean: Self.norm3.mean[ch], std: Self.norm3.std[ch]))
                        paddedSeen += 1
                    }
                    k += 1
                }
            }
            #expect(k == 40)
            #expect(paddedSeen > 0)
            #expect(plan.flip.contains(true) == flip && (!flip || plan.flip.contains(false)))
        }
    }

    @Test func normalisationValuesAreExact() throws {
        let gray = try ImageDataset(pixels: [0, 51, 255, 102], labels: [0], channels: 1, height: 2, width: 2,
                                    classNames: ["a"], source: "m")
        let norm = Normalization(mean: [0.5], std: [0.25])
        let batch = try #require(try allBatches(gray, batchSize: 1, shuffle: false, augmentation: .none,
                                                normalization: norm, prefetch: 0).first)
        #expect(batch.images.shape == [1, 1, 2, 2])
        let v = batch.images.scalars
        #expect(v[0] == -2 && v[2] == 2)
        #expect(abs(v[1] - -1.2) < 1e-6 && abs(v[3] - -0.4) < 1e-6)

        // Every value is (v/255 − mean[c])/std[c], channel by channel, in dataset order.
        let data = try syntheticDataset(count: 5, channels: 3, height: 4, width: 3)
        let batches = try allBatches(data, batchSize: 5, shuffle: false, augmentation: .none, prefetch: 1)
        let want = data.pixels.enumerated().map { k, p in
            let ch = (k / 12) % 3
            return normalised(p, mean: Self.norm3.mean[ch], std: Self.norm3.std[ch])
        }
        #expect(batches.count == 1 && batches[0].images.scalars.map(\.bitPattern) == want.map(\.bitPattern))
        #expect(batches[0].indices == [0, 1, 2, 3, 4])
    }

    @Test func lastPartialBatchIsKeptUnlessDropLast() throws {
        let data = try syntheticDataset(count: 10, channels: 3, height: 2, width: 3)
        for prefetch in [0, 2] {
            let kept = try allBatches(data, batchSize: 4, prefetch: prefetch)
            #expect(kept.map(\.labels.count) == [4, 4, 2])
            #expect(kept.map(\.images.shape) == [[4, 3, 2, 3], [4, 3, 2, 3], [2, 3, 2, 3]])
            #expect(kept.flatMap(\.indices).sorted() == Array(0..<10))

            let dropped = try allBatches(data, batchSize: 4, dropLast: true, prefetch: prefetch)
            #expect(dropped.map(\.labels.count) == [4, 4])
            #expect(dropped.flatMap(\.indices) == Array(kept.flatMap(\.indices).prefix(8)))
        }
        let exact = try BatchLoader(dataset: data, batchSize: 5, shuffle: false, augmentation: .none,
                                    normalization: Self.norm3, seed: 0, epoch: 0, dropLast: true)
        #expect(exact.batchCount == 2 && exact.batchSize == 5)
        let tooBig = try BatchLoader(dataset: data, batchSize: 11, shuffle: false, augmentation: .none,
                                     normalization: Self.norm3, seed: 0, epoch: 0, dropLast: true)
        #expect(tooBig.batchCount == 0 && tooBig.next() == nil)
    }

    @Test func invalidArgumentsAreRefused() throws {
        let data = try syntheticDataset(count: 4, channels: 3, height: 2, width: 2)
        func refusal(batchSize: Int = 2, prefetch: Int = 0, padding: Int = 0,
                     normalization: Normalization = Self.norm3) -> DataError? {
            return #expect(throws: DataError.self) {
                _ = try BatchLoader(dataset: data, batchSize: batchSize, shuffle: false,
                                augmentation: Augmentation(padding: padding, horizontalFlip: false),
                                normalization: normalization, seed: 0, epoch: 0, prefetch: prefetch)
            }
        }
        #expect(refusal(batchSize: 0)?.field == "batch size")
        #expect(refusal(prefetch: -1)?.field == "prefetch")
        #expect(refusal(padding: -1)?.field == "augmentation padding")
        let channels = refusal(normalization: .identity(channels: 1))
        #expect(channels?.file == "synthetic" && channels?.field == "normalisation")
        #expect(refusal(normalization: Normalization(mean: [0, 0, 0], std: [1, 0, 1]))?.field == "normalisation")
        #expect(refusal(normalization: Normalization(mean: [0, .nan, 0], std: [1, 1, 1]))?.field == "normalisation")
    }

    @Test func cancelStopsTheProducerAndLaterCallsReturnNil() throws {
        let data = try syntheticDataset(count: 64, channels: 3, height: 4, width: 4)
        let loader = try BatchLoader(dataset: data, batchSize: 1, shuffle: true, augmentation: .cifar,
                                     normalization: Self.norm3, seed: 1, epoch: 0, prefetch: 2)
        #expect(loader.next() != nil)
        let state = loader.state
        // The producer has 63 batches left and a queue of 2: it is blocked waiting for room.
        #expect(finishes(within: 60) { state.cancel() })
        #expect(!state.isProducerRunning)
        #expect(loader.next() == nil)
        loader.cancel()   // a second cancel is harmless
        #expect(loader.next() == nil)

        let direct = try BatchLoader(dataset: data, batchSize: 8, shuffle: false, augmentation: .none,
                                     normalization: Self.norm3, seed: 1, epoch: 0, prefetch: 0)
        #expect(direct.next() != nil)
        direct.cancel()
        #expect(direct.next() == nil)
    }

    @Test func abandonedLoaderCleansUpWithoutHanging() throws {
        let data = try syntheticDataset(count: 64, channels: 3, height: 4, width: 4)
        final class Box: @unchecked Sendable { var state: PrefetchState? }
        for taken in [0, 1, 5] {
            let box = Box()
            let finished = finishes(within: 60) {
                do {
                    let loader = try BatchLoader(dataset: data, batchSize: 2, shuffle: true, augmentation: .cifar,
                                                 normalization: Self.norm3, seed: 3, epoch: 1, prefetch: 2)
                    box.state = loader.state
                    for _ in 0..<taken { _ = loader.next() }
                } catch {
                    Issue.record("unexpected error \(error)")
                }
                // The loader is gone here: its deinit cancelled and joined the producer.
            }
            #expect(finished, "abandoning after \(taken) batches")
            #expect(box.state?.isProducerRunning == false)
            #expect(box.state?.isCancelled == true)
        }
    }
}
