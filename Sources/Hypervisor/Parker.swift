import Dispatch
import Synchronization

/// Parks a vCPU thread until it is woken or a deadline passes. A wake that arrives before the park
/// is not lost: it leaves a permit the next park consumes at once.
final class Parker: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let permit = Atomic<Bool>(false)
    /// True while a thread is parked (for statistics and tests).
    let parked = Atomic<Bool>(false)

    /// Wakes the parked thread (or the next park).
    func wake() {
        if !permit.exchange(true, ordering: .acquiringAndReleasing) { semaphore.signal() }
    }

    /// Parks until woken or until `deadline` (monotonic ns; nil = no deadline). Spurious returns are
    /// possible: callers re-check their condition.
    func park(until deadline: UInt64?) {
        parked.store(true, ordering: .releasing)
        defer { parked.store(false, ordering: .releasing) }
        if let deadline {
            let now = monotonicNanos()
            guard deadline > now else { return }
            if semaphore.wait(timeout: .now() + .nanoseconds(Int(min(deadline - now, UInt64(Int.max))))) == .timedOut { return }
        } else {
            semaphore.wait()
        }
        permit.store(false, ordering: .releasing)
    }
}
