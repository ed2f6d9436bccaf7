import Dispatch
import HyperABI
import Synchronization

/// A vCPU's one-shot timer (`set_timer_op`, VCPUOP_set_singleshot_timer) and periodic timer
/// (VCPUOP_set_periodic_timer). Expiry raises VIRQ_TIMER. Idle timers cost nothing: no thread, no tick.
final class VCPUTimer: @unchecked Sendable {
    unowned let vcpu: VCPU
    private struct State {
        var source: DispatchSourceTimer?
        var singleshot: UInt64? = nil      // deadline, Xen system time
        var period: UInt64? = nil          // ns
        var nextPeriodic: UInt64? = nil    // Xen system time
    }
    private let state = Mutex(State())
    private static let queue = DispatchQueue(label: "swiftxen.timers", qos: .userInteractive)

    init(vcpu: VCPU) { self.vcpu = vcpu }

    /// Arms the one-shot timer at `deadline` (Xen system time); nil disarms it.
    func setSingleshot(_ deadline: UInt64?) {
        state.withLock { s in
            s.singleshot = deadline
            reschedule(&s)
        }
    }

    /// Starts (period > 0) or stops (nil) the periodic timer.
    func setPeriodic(_ period: UInt64?) {
        state.withLock { s in
            s.period = period
            s.nextPeriodic = period.map { vcpu.domain.systemTime() + $0 }
            reschedule(&s)
        }
    }

    /// The one-shot deadline and the period, as set (for save).
    var settings: (singleshot: UInt64?, period: UInt64?) { state.withLock { ($0.singleshot, $0.period) } }

    /// The next deadline as host monotonic time, for a vCPU that parks until then.
    var nextHostDeadline: UInt64? {
        nextDeadline.map { UInt64(bitPattern: Int64(bitPattern: $0) &- vcpu.domain.systemTimeOffset) }
    }

    /// The next deadline (Xen system time), if any.
    var nextDeadline: UInt64? {
        state.withLock { s in [s.singleshot, s.nextPeriodic].compactMap { $0 }.min() }
    }

    /// Stops everything (domain teardown).
    func cancel() {
        state.withLock { s in
            s.singleshot = nil
            s.period = nil
            s.nextPeriodic = nil
            s.source?.cancel()
            s.source = nil
        }
    }

    private func reschedule(_ s: inout State) {
        guard let next = [s.singleshot, s.nextPeriodic].compactMap({ $0 }).min() else {
            s.source?.schedule(deadline: .distantFuture)
            return
        }
        if s.source == nil {
            let source = DispatchSource.makeTimerSource(flags: .strict, queue: VCPUTimer.queue)
            source.setEventHandler { [weak self] in self?.fire() }
            source.resume()
            s.source = source
        }
        let now = vcpu.domain.systemTime()
        let delta = next > now ? next - now : 0
        s.source?.schedule(deadline: .now() + .nanoseconds(Int(min(delta, UInt64(Int.max)))), leeway: .nanoseconds(0))
    }

    /// Fires whatever has expired. Called by the timer queue, and by the vCPU's own thread when it wakes
    /// from a block at its deadline (one wake-up instead of two); whichever comes first consumes it.
    func fire() {
        let now = vcpu.domain.systemTime()
        let expired = state.withLock { s -> Bool in
            var hit = false
            if let d = s.singleshot, d <= now { s.singleshot = nil; hit = true }
            if let p = s.period, let n = s.nextPeriodic, n <= now {
                hit = true
                // Skip missed periods rather than firing a burst.
                let missed = (now - n) / p
                s.nextPeriodic = n + (missed + 1) * p
            }
            reschedule(&s)
            return hit
        }
        if expired { vcpu.domain.raiseVIRQ(.timer, vcpu: vcpu.id) }
    }
}
