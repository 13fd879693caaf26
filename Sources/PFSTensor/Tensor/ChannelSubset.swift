import Foundation

/// Some channels of an NCHW tensor or of a convolution weight, copied out or back in: the
/// convolution runs on the live channels only when the others are known to be exactly zero
/// (see `Conv2d.liveInputChannels`).
public enum ChannelSubset {
    /// (N, C, H, W) → (N, k, H, W) with channel i of the result = channel `channels[i]` of `tensor`.
    public static func gather(_ tensor: Tensor, channels: [Int]) -> Tensor {
        let shape = tensor.shape
        precondition(shape.count == 4 && channels.allSatisfy { (0..<shape[1]).contains($0) }, "gather: bad channels")
        return copy(tensor, into: [shape[0], channels.count, shape[2], shape[3]], sources: channels)
    }

    /// The inverse of ``gather(_:channels:)``: (N, k, H, W) → (N, C, H, W), channel `channels[i]`
    /// = channel i of `tensor` and every other channel 0.
    public static func scatter(_ tensor: Tensor, channels: [Int], total c: Int) -> Tensor {
        let shape = tensor.shape
        precondition(shape.count == 4 && shape[1] == channels.count && channels.allSatisfy { (0..<c).contains($0) },
                     "scatter: bad channels")
        var sources = [Int](repeating: -1, count: c)
        for (j, ch) in channels.enumerated() { sources[ch] = j }
        return copy(tensor, into: [shape[0], c, shape[2], shape[3]], sources: sources)
    }

    /// A tensor of `shape` (N, C', H, W) whose channel j is channel `sources[j]` of `tensor`
    /// (N, C, H, W), or 0 where `sources[j]` is −1; images split over the workers.
    private static func copy(_ tensor: Tensor, into shape: [Int], sources: [Int]) -> Tensor {
        let n = shape[0], c = tensor.shape[1], k = shape[1], plane = shape[2] * shape[3]
        var result = Tensor(unsafeUninitializedShape: shape)
        tensor.withUnsafeBufferPointer { src in
            result.withUnsafeMutableBufferPointer { dst in
                let s = src.baseAddress!, d = dst.baseAddress!
                Parallel.forChunks(n) { _, images in
                    for i in images {
                        for (j, ch) in sources.enumerated() {
                            let out = d + (i * k + j) * plane
                            if ch >= 0 { out.update(from: s + (i * c + ch) * plane, count: plane) } else {
                                out.update(repeating: 0, count: plane)
                            }
                        }
                    }
                }
            }
        }
        return result
    }

    /// Rows `outputs` and columns `inputs` of a (C_out, C_in, kH, kW) weight → (j, k, kH, kW).
    public static func weight(_ weight: Tensor, outputs: [Int], inputs: [Int]) -> Tensor {
        let shape = weight.shape
        precondition(shape.count == 4, "weight subset: not a 4-d weight")
        let cin = shape[1], taps = shape[2] * shape[3]
        var result = Tensor(unsafeUninitializedShape: [outputs.count, inputs.count, shape[2], shape[3]])
        weight.withUnsafeBufferPointer { src in
            result.withUnsafeMutableBufferPointer { dst in
                var d = dst.baseAddress!
                for o in outputs {
                    for i in inputs {
                        d.update(from: src.baseAddress! + (o * cin + i) * taps, count: taps)
                        d += taps
                    }
                }
            }
        }
        return result
    }
}
