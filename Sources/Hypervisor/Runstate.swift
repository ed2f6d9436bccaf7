import Glibc
import HyperABI

/// Xen's runstate accounting for one vCPU: nanoseconds spent running, runnable (wanting a host CPU
/// but not getting it: steal), blocked and offline. Running time is the vCPU thread's CPU time;
/// the rest of the wall time it spent "running" was stolen by the host.
struct RunstateClock: Sendable {
    private(set) var state: RunState = .offline
    private(set) var times: [UInt64] = [0, 0, 0, 0]
    private(set) var entryTime: UInt64 = 0       // Xen system time of the last transition
    private var lastWall: UInt64 = 0
    private var lastCPU: UInt64 = 0

    /// Moves to `next` at wall time `now` (monotonic ns), charging the time since the last transition.
    /// Must run on the vCPU's own thread (it reads that thread's CPU clock).
    mutating func transition(to next: RunState, now: UInt64, systemTime: UInt64) {
        let cpu = RunstateClock.threadCPUNanos()
        if lastWall != 0 {
            let wall = now &- lastWall
            if state == .running {
                let ran = min(wall, cpu &- lastCPU)
                times[Int(RunState.running.rawValue)] &+= ran
                times[Int(RunState.runnable.rawValue)] &+= wall - ran
            } else {
                times[Int(state.rawValue)] &+= wall
            }
        }
        lastWall = now
        lastCPU = cpu
        state = next
        entryTime = systemTime
    }

    /// Time per state with the current state counted up to `now` (its split between running and steal is
    /// only known at the next transition, so all of it counts in the current state, as Xen reports it).
    func times(now: UInt64) -> [UInt64] {
        var t = times
        if lastWall != 0, now > lastWall { t[Int(state.rawValue)] &+= now - lastWall }
        return t
    }

    /// `struct vcpu_runstate_info` as the guest reads it at `now`.
    func bytes(now: UInt64) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: RunstateLayout.size)
        func put(_ v: UInt64, _ off: Int) { for i in 0..<8 { out[off + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
        put(UInt64(UInt32(bitPattern: state.rawValue)), RunstateLayout.state)
        put(entryTime, RunstateLayout.stateEntryTime)
        for (i, t) in times(now: now).enumerated() { put(t, RunstateLayout.time + 8 * i) }
        return out
    }

    static func threadCPUNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
