import PFSTensor

/// SGEMM throughput: C (m×n) = A (m×k) · B (k×n), FLOPs counted as 2·m·n·k.
public struct GEMMBenchmark {
    public struct Row: Sendable {
        public var m, n, k: Int
        public var samples: Samples
        /// Median throughput in GFLOPS (10⁹ floating-point operations per second, 2 per MAC).
        public var gflops: Double { 2 * Double(m * n * k) / samples.median * 1e-9 }
    }

    /// Square sizes, then the forward GEMM shapes of CIFAR-ResNet 3×3 convolutions
    /// (C_out × pixels × 9·C_in) for one image and for the image tiles the convolution uses.
    public static let defaultShapes: [(Int, Int, Int)] = [
        (256, 256, 256), (512, 512, 512), (1024, 1024, 1024),
        (16, 1024, 144), (32, 256, 288), (64, 64, 576),
        (16, 2048, 144), (32, 2048, 288), (64, 2048, 576),
    ]

    public var backend: GEMMBackend
    public var threads: Int
    public var minSeconds: Double

    public init(backend: GEMMBackend, threads: Int, minSeconds: Double = 1) {
        self.backend = backend
        self.threads = threads
        self.minSeconds = minSeconds
    }

    public func run(m: Int, n: Int, k: Int) -> Row {
        var rng = RandomGenerator(seed: 1)
        let a = Tensor.randomNormal([m, k], using: &rng), b = Tensor.randomNormal([k, n], using: &rng)
        var c = Tensor(zeros: [m, n])
        let samples = a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    Samples.measure(minSeconds: minSeconds) {
                        GEMM.sgemm(.none, .none, m: m, n: n, k: k, alpha: 1, a: ap.baseAddress!, lda: k,
                                   b: bp.baseAddress!, ldb: n, beta: 0, c: cp.baseAddress!, ldc: n,
                                   backend: backend, threads: threads)
                    }
                }
            }
        }
        return Row(m: m, n: n, k: k, samples: samples)
    }

    /// Peak: the best median GFLOPS over the large square sizes.
    public func peak() -> Double {
        [(512, 512, 512), (1024, 1024, 1024)].map { run(m: $0.0, n: $0.1, k: $0.2).gflops }.max() ?? .nan
    }
}
