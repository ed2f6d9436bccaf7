import Dispatch
import CHost
import Glibc
import HyperABI
import Synchronization

/// Per-vCPU scheduling state, guarded by the scheduler's lock.
final class SchedulingEntity: @unchecked Sendable {
    /// Credit in nanoseconds of CPU: earned by weight each accounting period, spent by running.
    var credit: Int64 = 0
    var holding = false
    var waiting = false
    /// Woke from a block: runs before vCPUs that did not (Xen's BOOST), until its first tick.
    var boosted = false
    /// The guest marked what it runs now as background work (the priority hint). Written under the
    /// scheduler's lock; atomic so the event path can test it without taking the lock.
    let background = Atomic<Bool>(false)
    var runStart: UInt64 = 0
    var sliceStart: UInt64 = 0
    var queuedAt: UInt64 = 0
    let grant = DispatchSemaphore(value: 0)
    /// Time this vCPU held a physical CPU, for fairness checks (read without the lock).
    let heldNanos = Atomic<UInt64>(0)
}

/// Xen's credit scheduler, in the hypervisor: vCPU threads run guest code only while they hold one of
/// `pcpus` physical-CPU slots, handed out by priority (boost, then credit left, then credit spent, then
/// background-hinted), with credits earned by domain weight every accounting period and charged from
/// measured run time; a capped domain is held back once it used its share, even on an idle machine.
/// Preemption is a kick out of KVM_RUN at slice end or when a higher-priority vCPU waits.
/// The lock is taken only when a vCPU blocks, wakes or is preempted, never per exit.
public final class CreditScheduler: @unchecked Sendable {
    public let pcpus: Int
    /// Xen's credit defaults: 10 ms ticks, 30 ms slices and accounting periods.
    public static let tick: UInt64 = 10_000_000
    public static let slice: UInt64 = 30_000_000
    public static let period: UInt64 = 30_000_000

    private struct State {
        var free: Int
        var vcpus: [VCPU] = []
        /// When the next accounting period starts: kept on the clock, so late ticks do not stretch periods.
        var nextAccount: UInt64 = 0
        /// Per domain: CPU used in the current accounting period (for caps).
        var periodUse: [UInt16: UInt64] = [:]
        var waitingCount = 0
        /// The tick runs only while some vCPU holds or wants a CPU: idle domains cost nothing.
        var ticking = false
        var nextTick: UInt64 = 0
        /// When the earliest capped vCPU's budget runs out (0 = none before the next tick).
        var capDeadline: UInt64 = 0
    }
    private let state: Mutex<State>
    /// The tick runs on a thread of its own (not a Dispatch pool that busy test or app code can starve),
    /// parked while no vCPU holds or wants a CPU.
    private let ticker = Ticker()
    /// Preemptions and grants, for `hv bench sched`.
    public let switches = Atomic<UInt64>(0)
    /// Host CPU time spent in the scheduler's decisions (the calling threads' CPU clocks), for `hv bench sched`.
    public let overheadNanos = Atomic<UInt64>(0)

    public init(pcpus: Int) {
        self.pcpus = max(1, pcpus)
        state = Mutex(State(free: max(1, pcpus)))
        ticker.start(self)
    }

    deinit { ticker.stop() }

    /// The host's online CPUs (the default number of slots).
    public static var hostCPUs: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    func add(_ v: VCPU) {
        state.withLock { s in
            if !s.vcpus.contains(where: { $0 === v }) { s.vcpus.append(v) }
        }
    }

    /// Waits for a physical CPU. Returns false if the vCPU should stop instead.
    @discardableResult
    func acquire(_ v: VCPU, boosted: Bool = false) -> Bool {
        let e = v.sched
        let granted: Bool = locked { s in
            if e.holding { return true }
            e.boosted = e.boosted || boosted
            setWaiting(e, true, &s)
            e.queuedAt = monotonicNanos()
            defer { updateTick(&s) }
            if s.free > 0 && !isCapped(v, s) && !betterWaiting(than: v, s) {
                grant(v, &s)
                return true
            }
            // A better vCPU may be running on a slot this one deserves more: preempt it.
            preemptFor(v, &s)
            return false
        }
        if granted { return true }
        while true {
            e.grant.wait()
            if v.stopRequested.load(ordering: .acquiring) {
                state.withLock { s in
                    if e.holding { e.holding = false; s.free += 1; dispatch(&s) }
                    setWaiting(e, false, &s)
                    updateTick(&s)
                }
                return false
            }
            if state.withLock({ _ in e.holding }) { return true }
        }
    }

    /// Gives the physical CPU back (blocking, preempted, stopping), charging the time it ran.
    func release(_ v: VCPU) {
        let e = v.sched
        locked { s in
            setWaiting(e, false, &s)
            defer { updateTick(&s) }
            guard e.holding else { return }
            charge(v, &s, now: monotonicNanos())
            e.holding = false
            s.free += 1
            dispatch(&s)
        }
    }

    /// Preempted: back into the queue behind its betters (Xen: put at the tail of its priority).
    func requeue(_ v: VCPU) -> Bool {
        v.preemptRequested.store(false, ordering: .relaxed)
        release(v)
        switches.add(1, ordering: .relaxed)
        return acquire(v)
    }

    /// SCHEDOP_yield: whether a vCPU at least as deserving waits for a CPU (then the yielder requeues behind it).
    func hasWaitingPeer(_ v: VCPU) -> Bool {
        locked { s in s.vcpus.contains { $0 !== v && $0.sched.waiting && !isCapped($0, s) && priority($0) <= priority(v) } }
    }

    /// Drops a vCPU that ended (its thread is leaving).
    func remove(_ v: VCPU) {
        state.withLock { s in
            if v.sched.holding { v.sched.holding = false; s.free += 1 }
            setWaiting(v.sched, false, &s)
            s.vcpus.removeAll { $0 === v }
            dispatch(&s)
            updateTick(&s)
        }
    }

    /// Wakes a vCPU waiting for a slot so it sees its stop request.
    func wakeForStop(_ v: VCPU) { v.sched.grant.signal() }

    /// The priority hint: background work runs only when no normal work is runnable.
    func setBackground(_ v: VCPU, _ on: Bool) {
        state.withLock { s in
            v.sched.background.store(on, ordering: .relaxed)
            if on && v.sched.holding && betterWaiting(than: v, s) { preempt(v) }
            if !on && v.sched.waiting { dispatch(&s); if v.sched.waiting { preemptFor(v, &s) } }
        }
    }

    /// Clears the background hint (an unmasked event is pending, or the vCPU blocks), so a vCPU waiting behind normal
    /// work is dispatched to take it. Lock-free when the hint is not set (the common case).
    func clearHint(_ v: VCPU) {
        guard v.sched.background.load(ordering: .relaxed) else { return }
        setBackground(v, false)
    }

    /// Runs `body` under the lock, adding the CPU time it took to `overheadNanos` (thread CPU time, not
    /// wall time: the host may deschedule the thread meanwhile, and that is not the scheduler's cost).
    private func locked<R>(_ body: (inout State) -> R) -> R {
        let t0 = RunstateClock.threadCPUNanos()
        let r = state.withLock { body(&$0) }
        overheadNanos.add(RunstateClock.threadCPUNanos() &- t0, ordering: .relaxed)
        return r
    }

    // MARK: - Inside the lock

    /// Lower is better: boost 0, credit left 1, credit spent 2, background 3.
    private func priority(_ v: VCPU) -> Int {
        let e = v.sched
        if e.background.load(ordering: .relaxed) { return 3 }
        if e.boosted { return 0 }
        return e.credit > 0 ? 1 : 2
    }

    private func isCapped(_ v: VCPU, _ s: State) -> Bool {
        let cap = v.domain.cap.load(ordering: .relaxed)
        guard cap > 0 else { return false }
        return (s.periodUse[v.domain.id] ?? 0) >= UInt64(cap) * Self.period / 100
    }

    private func betterWaiting(than v: VCPU, _ s: State) -> Bool {
        let p = priority(v)
        return s.vcpus.contains { $0 !== v && $0.sched.waiting && !isCapped($0, s) && priority($0) < p }
    }

    private func setWaiting(_ e: SchedulingEntity, _ on: Bool, _ s: inout State) {
        guard e.waiting != on else { return }
        e.waiting = on
        s.waitingCount += on ? 1 : -1
    }

    private func updateTick(_ s: inout State) {
        let busy = s.free < pcpus || s.waitingCount > 0
        if busy && !s.ticking {
            s.ticking = true
            s.nextTick = monotonicNanos() + Self.tick
            ticker.parker.wake()
        }
        if !busy && s.ticking { s.ticking = false; s.capDeadline = 0 }
    }

    private func grant(_ v: VCPU, _ s: inout State) {
        let e = v.sched
        setWaiting(e, false, &s)
        e.holding = true
        let now = monotonicNanos()
        e.runStart = now
        e.sliceStart = now
        s.free -= 1
        switches.add(1, ordering: .relaxed)
        armCapCheck(v, &s, now: now)
    }

    /// A capped vCPU whose budget ends before the next tick gets a check at the moment it ends:
    /// ticks alone would let it overrun by up to a tick (a 25% cap would hold at 33%).
    private func armCapCheck(_ v: VCPU, _ s: inout State, now: UInt64) {
        let cap = v.domain.cap.load(ordering: .relaxed)
        guard cap > 0 else { return }
        let budget = UInt64(cap) * Self.period / 100
        var used = s.periodUse[v.domain.id] ?? 0
        for u in s.vcpus where u.domain === v.domain && u.sched.holding && now > u.sched.runStart { used += now - u.sched.runStart }
        guard used < budget else { preempt(v); return }
        let left = budget - used
        guard left < Self.tick else { return }
        if s.capDeadline == 0 || now + left < s.capDeadline {
            s.capDeadline = now + left
            ticker.parker.wake()
        }
    }

    /// A cap deadline passed: charge capped vCPUs and take the CPU from those out of budget.
    private func capCheck(_ s: inout State, now: UInt64) {
        s.capDeadline = 0
        for v in s.vcpus where v.sched.holding && v.domain.cap.load(ordering: .relaxed) > 0 {
            charge(v, &s, now: now)
            if isCapped(v, s) { preempt(v) } else { armCapCheck(v, &s, now: now) }
        }
    }

    /// One pass of the tick thread: runs what is due, returns when to come back (nil: park until woken).
    fileprivate func tickerPass() -> UInt64? {
        let now = monotonicNanos()
        let due: (tick: Bool, cap: Bool) = state.withLock { s in
            guard s.ticking else { return (false, false) }
            return (now >= s.nextTick, s.capDeadline != 0 && now >= s.capDeadline)
        }
        if due.tick { onTick(now: now) }
        return locked { s in
            if due.cap || (s.capDeadline != 0 && now >= s.capDeadline) { capCheck(&s, now: now) }
            guard s.ticking else { return nil }
            return s.capDeadline != 0 ? min(s.nextTick, s.capDeadline) : s.nextTick
        }
    }

    /// Hands free slots to the best waiting vCPUs (FIFO within a priority).
    private func dispatch(_ s: inout State) {
        while s.free > 0 {
            let candidates = s.vcpus.filter { $0.sched.waiting && !isCapped($0, s) }
            guard let best = candidates.min(by: { (priority($0), $0.sched.queuedAt) < (priority($1), $1.sched.queuedAt) }) else { return }
            grant(best, &s)
            best.sched.grant.signal()
        }
    }

    private func preemptFor(_ v: VCPU, _ s: inout State) {
        let p = priority(v)
        guard let victim = s.vcpus.filter({ $0.sched.holding && priority($0) > p }).max(by: { priority($0) < priority($1) }) else { return }
        preempt(victim)
    }

    private func preempt(_ v: VCPU) {
        guard !v.preemptRequested.exchange(true, ordering: .acquiringAndReleasing) else { return }
        v.domain.vm?.kick(v)
    }

    private func charge(_ v: VCPU, _ s: inout State, now: UInt64) {
        let e = v.sched
        guard now > e.runStart else { return }     // granted after `now` was read: nothing to charge yet
        let ran = now - e.runStart
        e.runStart = now
        e.credit -= Int64(ran)
        e.heldNanos.add(ran, ordering: .relaxed)
        s.periodUse[v.domain.id, default: 0] += ran
    }

    private func onTick(now: UInt64) {
        locked { s in
            // Catch up without bursts after a stall; the next tick is a period from the last due one.
            s.nextTick = max(s.nextTick + Self.tick, now + Self.tick / 2)
            for v in s.vcpus where v.sched.holding { charge(v, &s, now: now) }
            for v in s.vcpus where v.sched.boosted && v.sched.holding { v.sched.boosted = false }
            if now >= s.nextAccount {
                account(&s)
                s.nextAccount = max(s.nextAccount + Self.period, now + Self.period / 2)
            }
            defer { updateTick(&s) }
            for v in s.vcpus where v.sched.holding {
                if isCapped(v, s) {
                    preempt(v)                                            // its share is used up
                } else if v.domain.cap.load(ordering: .relaxed) > 0 {
                    armCapCheck(v, &s, now: now)
                } else if now > v.sched.sliceStart, now - v.sched.sliceStart >= Self.slice, s.vcpus.contains(where: { $0.sched.waiting && !isCapped($0, s) && priority($0) <= priority(v) }) {
                    preempt(v)                                            // slice over, someone as good waits
                } else if betterWaiting(than: v, s) {
                    preempt(v)
                }
            }
            dispatch(&s)
        }
    }

    /// Every period: share out pcpus × period of credit by weight among domains with active vCPUs,
    /// evenly between a domain's active vCPUs; credit is clamped to one period either way.
    private func account(_ s: inout State) {
        // A capped domain's overrun (the kick takes a moment to land) is debt carried into the next
        // period, so the cap holds on average rather than being exceeded a little every period.
        var carried: [UInt16: UInt64] = [:]
        for v in s.vcpus {
            let cap = v.domain.cap.load(ordering: .relaxed)
            let budget = UInt64(cap) * Self.period / 100
            if cap > 0, let used = s.periodUse[v.domain.id], used > budget { carried[v.domain.id] = min(used - budget, budget) }
        }
        s.periodUse = carried
        let active = s.vcpus.filter { $0.sched.holding || $0.sched.waiting }
        var weights: [UInt16: (weight: Int, count: Int)] = [:]
        for v in active { weights[v.domain.id, default: (v.domain.weight.load(ordering: .relaxed), 0)].count += 1 }
        let total = weights.values.reduce(0) { $0 + $1.weight }
        guard total > 0 else { return }
        let budget = Int64(pcpus) * Int64(Self.period)
        for v in active {
            guard let w = weights[v.domain.id] else { continue }
            let share = budget * Int64(w.weight) / Int64(total) / Int64(w.count)
            v.sched.credit = min(max(v.sched.credit + share, -Int64(Self.period)), Int64(Self.period))
        }
    }
}

/// The scheduler's tick thread: sleeps until the next tick or cap deadline, or until woken.
private final class Ticker: @unchecked Sendable {
    let parker = Parker()
    private let stopped = Atomic<Bool>(false)

    func start(_ scheduler: CreditScheduler) {
        weak let weakScheduler = scheduler
        let body = { [self] in
            _ = chost_set_timer_slack(1)
            while !stopped.load(ordering: .acquiring) {
                guard let next = weakScheduler?.tickerPass() else {
                    parker.park(until: nil)
                    continue
                }
                parker.park(until: next)
            }
        }
        let box = Unmanaged.passRetained(Box(body))
        var tid = pthread_t()
        if pthread_create(&tid, nil, { arg in
            Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue().body()
            return nil
        }, box.toOpaque()) == 0 {
            pthread_detach(tid)
        } else {
            box.release()
        }
    }

    func stop() {
        stopped.store(true, ordering: .releasing)
        parker.wake()
    }

    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
}
