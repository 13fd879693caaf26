import Foundation

/// Process-wide engine settings: how many worker threads kernels may use and which SGEMM
/// backend they call. Set them once at start-up (the `pfs` front end does so from `--threads`
/// and `PFS_BLAS`); kernels read them on every call.
public enum Engine {
    /// Worker threads for batch-parallel kernels and large matrix products (≥ 1).
    /// Defaults to the number of active processors, or `PFS_THREADS` when set.
    nonisolated(unsafe) public static var threads: Int = defaultThreads()

    /// The SGEMM implementation used by every kernel. Defaults to the system CBLAS when one can
    /// be loaded, unless the environment variable `PFS_BLAS=builtin` forces the built-in kernel.
    nonisolated(unsafe) public static var gemm: GEMMBackend = GEMMBackend.preferred()

    /// The kernel settings `PFS_ISA`, `PFS_DIRECT_CONV`, `PFS_CHANNEL_CONV`, `PFS_CHANNEL_WGRAD`,
    /// `PFS_SMALL_PLANE_CONV`, `PFS_WINOGRAD` and `PFS_SKIP_CLOSED_GATES` ask for, read once (``KernelSettings/fromEnvironment(_:)``), with what was wrong with them
    /// (the `pfs` front end prints those as warnings).
    public static let kernelEnvironment = KernelSettings.fromEnvironment()

    /// The settings the kernels use unless a caller passes others.
    public static var kernels: KernelSettings { kernelEnvironment.settings }

    static func defaultThreads() -> Int {
        if let s = ProcessInfo.processInfo.environment["PFS_THREADS"], let n = Int(s), n >= 1 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Memory this process may use, in bytes: `PFS_MEMORY_LIMIT_MB` when set, else the kernel's
    /// estimate of available memory (`MemAvailable` in /proc/meminfo), else the physical memory.
    /// Runs whose estimated needs exceed it are refused before anything is allocated.
    public static var availableMemory: Double {
        let environment = ProcessInfo.processInfo.environment
        if let text = environment["PFS_MEMORY_LIMIT_MB"], let mb = Double(text), mb > 0 { return mb * 1_048_576 }
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) {
            for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
                if let kb = Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") {
                    return kb * 1024
                }
            }
        }
        return Double(ProcessInfo.processInfo.physicalMemory)
    }

    /// `1.5 GiB` / `230 MiB`.
    public static func describeBytes(_ bytes: Double) -> String {
        bytes >= 1_073_741_824 ? String(format: "%.1f GiB", bytes / 1_073_741_824) : String(format: "%.0f MiB", bytes / 1_048_576)
    }

    /// `true` for a debug build, `false` for an optimised one.
    public static var isDebugBuild: Bool {
        #if DEBUG
        return true
        #else
        return false
        #endif
    }
}

/// Static partitioning of loops over worker threads. The split of `0..<count` into contiguous
/// chunks depends only on `count` and `threads`, so reductions done per chunk and then summed in
/// chunk order are deterministic for a fixed thread count.
public enum Parallel {
    /// The contiguous chunk of `0..<count` handled by `worker` out of `workers`.
    @inlinable
    public static func chunk(_ worker: Int, of workers: Int, count: Int) -> Range<Int> {
        let base = count / workers, extra = count % workers
        let start = worker * base + min(worker, extra)
        return start..<(start + base + (worker < extra ? 1 : 0))
    }

    /// Number of workers worth starting for `count` independent items.
    @inlinable
    public static func workers(for count: Int, threads: Int = Engine.threads) -> Int {
        max(1, min(threads, count))
    }

    /// Runs `body(worker, range)` for each worker's chunk of `0..<count`, on up to `threads`
    /// threads. With one worker the body runs on the calling thread.
    public static func forChunks(_ count: Int, threads: Int = Engine.threads,
                                 _ body: (_ worker: Int, _ range: Range<Int>) -> Void) {
        let w = workers(for: count, threads: threads)
        if w == 1 { body(0, 0..<count); return }
        DispatchQueue.concurrentPerform(iterations: w) { i in
            body(i, chunk(i, of: w, count: count))
        }
    }

    /// Element-wise loops: splits `0..<count` over the threads only when there are at least
    /// `minimumPerThread` elements per thread (below that a dispatch costs more than it saves).
    public static func forBlocks(_ count: Int, threads: Int = Engine.threads, minimumPerThread: Int = 1 << 15,
                                 _ body: (Range<Int>) -> Void) {
        let w = max(1, min(threads, count / minimumPerThread))
        forChunks(count, threads: w) { _, range in body(range) }
    }
}
