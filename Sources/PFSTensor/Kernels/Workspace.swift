/// Scratch buffers reused across calls, one set per worker thread, so that kernels allocate
/// nothing on a training step once warm. Grow them with ``reserve(workers:slots:)`` *before*
/// entering a parallel region; inside it each worker only reads its own buffers.
public final class Workspace {
    private var buffers: [[UnsafeMutablePointer<Float>]] = []
    private var capacities: [[Int]] = []

    public init() {}

    /// Ensures `workers` sets of buffers, buffer `i` of each holding at least `slots[i]` floats.
    public func reserve(workers: Int, slots: [Int]) {
        while buffers.count < workers { buffers.append([]); capacities.append([]) }
        for w in 0..<workers {
            for (i, need) in slots.enumerated() {
                if buffers[w].count <= i { buffers[w].append(Self.allocate(max(need, 1))); capacities[w].append(max(need, 1)) }
                else if capacities[w][i] < need {
                    UnsafeMutableRawPointer(buffers[w][i]).deallocate()
                    buffers[w][i] = Self.allocate(need)
                    capacities[w][i] = need
                }
            }
        }
    }

    /// Buffer `slot` of `worker` (reserved beforehand).
    @inline(__always)
    public func buffer(worker: Int, slot: Int) -> UnsafeMutablePointer<Float> { buffers[worker][slot] }

    private static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64).bindMemory(to: Float.self, capacity: count)
    }

    deinit {
        for set in buffers { for p in set { UnsafeMutableRawPointer(p).deallocate() } }
    }
}
