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

    /// Raises the flag as a signal would: long loops save and stop after their current step
    /// (an embedding application's stop button; tests of interruption).
    public static func request() { flag = 1 }

    /// Clears the flag (tests).
    public static func reset() { flag = 0 }
}
