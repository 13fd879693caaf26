import Foundation

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

/// Workspaces shared by all layers of a process. Layers of one network run one after another,
/// so one workspace, grown to the largest layer's needs, serves all of them (instead of every
/// convolution keeping its own column buffers alive for the life of the network). Callers on
/// different threads at once are each lent a different workspace.
public final class WorkspacePool: @unchecked Sendable {
    /// The process-wide pool used by the layers.
    public static let shared = WorkspacePool()

    private let lock = NSLock()
    private var idle: [Workspace] = []

    public init() {}

    /// Runs `body` with a workspace nobody else is using, and takes it back afterwards.
    public func withWorkspace<R>(_ body: (Workspace) throws -> R) rethrows -> R {
        lock.lock()
        let workspace = idle.popLast() ?? Workspace()
        lock.unlock()
        defer {
            lock.lock()
            idle.append(workspace)
            lock.unlock()
        }
        return try body(workspace)
    }
}
