import Foundation

/// A flag raised by SIGINT or SIGTERM, polled by long loops so they can save a checkpoint and
/// stop cleanly. A second signal ends the process at once (the default action).
public enum StopSignal {
    nonisolated(unsafe) private static var flag: sig_atomic_t = 0

    /// Whether a stop was requested since ``install()`` or the last ``reset()``.
    public static var isRequested: Bool { flag != 0 }

    /// Installs the handlers (call once, from the command line tool). The two signals are also
    /// unblocked: a blocked mask is inherited across exec, and a parent (a test runner, a job
    /// system) that blocks them would otherwise make Ctrl-C and `kill` do nothing.
    public static func install() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        for sig in [SIGINT, SIGTERM] {
            signal(sig) { received in
                StopSignal.flag = 1
                signal(received, SIG_DFL)   // a second signal ends the process
            }
        }
    }

    /// Raises the flag as a signal would: every long loop of the process saves and stops after its
    /// current step. To stop one run among several, use a ``StopRequest``.
    public static func request() { flag = 1 }

    /// Clears the flag.
    public static func reset() { flag = 0 }
}

/// A stop addressed to the runs that share it rather than to the whole process: an embedding
/// application's stop button for one job, or a test interrupting its run while other tests' runs
/// go on. A loop stops (saving first) when its request or the process-wide ``StopSignal`` is raised.
public final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false

    public init() {}

    /// Asks every loop polling this request to save and stop after its current step.
    public func request() { lock.withLock { raised = true } }

    /// Whether this request, or the process's SIGINT/SIGTERM flag, is raised.
    public var isRequested: Bool { StopSignal.isRequested || lock.withLock { raised } }
}
