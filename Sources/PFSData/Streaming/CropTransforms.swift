import Foundation
import PFSTensor

/// A window of an image, in pixels.
public struct CropBox: Equatable, Sendable {
    public var top: Int
    public var left: Int
    public var height: Int
    public var width: Int

    public init(top: Int, left: Int, height: Int, width: Int) {
        self.top = top
        self.left = left
        self.height = height
        self.width = width
    }
}

/// How each streamed image becomes a `size × size` network input (SPEC §6's ImageNet recipe).
public enum StreamTransform: Equatable, Sendable {
    /// Training: a random window of `scale` × the image's area and aspect ratio (width / height)
    /// log-uniform in `ratio`, resized to `size × size`, mirrored with probability ½ when `flip`.
    case randomResizedCrop(size: Int, scale: ClosedRange<Double>, ratio: ClosedRange<Double>, flip: Bool)
    /// Evaluation: the shorter side resized to `resize` (the longer one to ⌊resize · long / short⌋),
    /// then the centre `size × size` (offsets rounded half to even, as torchvision does).
    case centreCrop(resize: Int, size: Int)

    /// The ImageNet training transform: RandomResizedCrop(224, scale 0.08–1, ratio 3/4–4/3) + flip.
    public static let imageNetTraining = StreamTransform.randomResizedCrop(size: 224, scale: 0.08...1, ratio: 0.75...(4.0 / 3),
                                                                          flip: true)
    /// The ImageNet evaluation transform: resize 256, centre crop 224.
    public static let imageNetEvaluation = StreamTransform.centreCrop(resize: 256, size: 224)

    /// Side of the square output.
    public var size: Int {
        switch self {
        case let .randomResizedCrop(size, _, _, _), let .centreCrop(_, size): return size
        }
    }
}

/// torchvision's RandomResizedCrop window sampling, drawn from a seeded generator.
public enum RandomResizedCrop {
    /// Up to 10 tries: area fraction uniform in `scale`, aspect ratio log-uniform in `ratio`,
    /// w = round(√(area·ratio)), h = round(√(area / ratio)); the first window that fits is placed
    /// uniformly (top, then left). When none fits: the largest centred window whose aspect is
    /// clamped to `ratio` (the whole image when its aspect is inside the range).
    public static func box(height: Int, width: Int, scale: ClosedRange<Double>, ratio: ClosedRange<Double>,
                           using rng: inout RandomGenerator) -> CropBox {
        let area = Double(height * width)
        let logLow = log(ratio.lowerBound), logHigh = log(ratio.upperBound)
        for _ in 0..<10 {
            let target = area * (scale.lowerBound + (scale.upperBound - scale.lowerBound) * rng.uniformDouble())
            let aspect = exp(logLow + (logHigh - logLow) * rng.uniformDouble())
            let w = Int((target * aspect).squareRoot().rounded())
            let h = Int((target / aspect).squareRoot().rounded())
            if w > 0 && w <= width && h > 0 && h <= height {
                let top = rng.int(below: height - h + 1)
                let left = rng.int(below: width - w + 1)
                return CropBox(top: top, left: left, height: h, width: w)
            }
        }
        let inRatio = Double(width) / Double(height)
        var w = width, h = height
        if inRatio < ratio.lowerBound {
            h = max(1, Int((Double(w) / ratio.lowerBound).rounded()))
        } else if inRatio > ratio.upperBound {
            w = max(1, Int((Double(h) * ratio.upperBound).rounded()))
        }
        return CropBox(top: (height - h) / 2, left: (width - w) / 2, height: h, width: w)
    }
}

extension StreamTransform {
    /// Applies the transform to planar 8-bit `image` (C, H, W): the `size × size` result (C planes)
    /// and whether it is to be mirrored. Random draws come from `rng` only.
    func apply(_ image: [UInt8], channels: Int, height: Int, width: Int,
               using rng: inout RandomGenerator) -> (pixels: [UInt8], flip: Bool) {
        switch self {
        case let .randomResizedCrop(size, scale, ratio, flip):
            let box = RandomResizedCrop.box(height: height, width: width, scale: scale, ratio: ratio, using: &rng)
            let mirrored = flip && rng.next() >> 63 == 1
            return (Self.cropAndResize(image, channels: channels, height: height, width: width, box: box,
                                       outHeight: size, outWidth: size), mirrored)
        case let .centreCrop(resize, size):
            // torchvision's Resize(int): the longer side is truncated, int(resize · long / short).
            let (h, w) = height <= width
                ? (resize, max(1, width * resize / height))
                : (max(1, height * resize / width), resize)
            let resized = Self.cropAndResize(image, channels: channels, height: height, width: width,
                                             box: CropBox(top: 0, left: 0, height: height, width: width), outHeight: h, outWidth: w)
            // torchvision's centre crop: offsets round((H − size) / 2), Python's round (halves to
            // even); pads with 0 when the image is smaller.
            let top = Int((Double(h - size) / 2).rounded(.toNearestOrEven))
            let left = Int((Double(w - size) / 2).rounded(.toNearestOrEven))
            var out = [UInt8](repeating: 0, count: channels * size * size)
            for c in 0..<channels {
                for y in 0..<size where (0..<h).contains(y + top) {
                    for x in 0..<size where (0..<w).contains(x + left) {
                        out[(c * size + y) * size + x] = resized[(c * h + y + top) * w + x + left]
                    }
                }
            }
            return (out, false)
        }
    }

    /// The `box` of every plane, resized (bilinear, half-pixel centres) to outHeight × outWidth.
    static func cropAndResize(_ image: [UInt8], channels: Int, height: Int, width: Int, box: CropBox,
                              outHeight: Int, outWidth: Int) -> [UInt8] {
        let resizer = BilinearResizer(inHeight: box.height, inWidth: box.width, outHeight: outHeight, outWidth: outWidth)
        var out = [UInt8](repeating: 0, count: channels * outHeight * outWidth)
        var window = [UInt8](repeating: 0, count: box.height * box.width)
        image.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for c in 0..<channels {
                    for y in 0..<box.height {
                        let row = (c * height + box.top + y) * width + box.left
                        for x in 0..<box.width { window[y * box.width + x] = src[row + x] }
                    }
                    window.withUnsafeBufferPointer { resizer.resize($0.baseAddress!, into: dst.baseAddress! + c * outHeight * outWidth) }
                }
            }
        }
        return out
    }
}
