import Dispatch
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
    /// The guest marked what it runs now as background work (the priority hint).
    var background = false
    var runStart: UInt64 = 0
    var sliceStart: UInt64 = 0
    var queuedAt: UInt64 = 0
    let grant = DispatchSemaphore(value: 0)
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
        var ticks = 0
        /// Per domain: CPU used in the current accounting period (for caps).
        var periodUse: [UInt16: UInt64] = [:]
        var waitingCount = 0
        /// The tick runs only while some vCPU holds or wants a CPU: idle domains cost nothing.
        var ticking = false
    }
    private let state: Mutex<State>
    private let timer: DispatchSourceTimer
    /// Preemptions and grants, for `hv bench sched`.
    public let switches = Atomic<UInt64>(0)

    public init(pcpus: Int) {
        self.pcpus = max(1, pcpus)
        state = Mutex(State(free: max(1, pcpus)))
        timer = DispatchSource.makeTimerSource(flags: .strict, queue: DispatchQueue(label: "swiftxen.scheduler", qos: .userInteractive))
        timer.schedule(deadline: .now() + .nanoseconds(Int(Self.tick)), repeating: .nanoseconds(Int(Self.tick)), leeway: .microseconds(100))
        timer.setEventHandler { [weak self] in self?.onTick() }
    }

    deinit {
        if !state.withLock({ $0.ticking }) { timer.resume() }     // a suspended source must not be released
        timer.cancel()
    }

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
        let granted: Bool = state.withLock { s in
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
        state.withLock { s in
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
            v.sched.background = on
            if on && v.sched.holding && betterWaiting(than: v, s) { preempt(v) }
        }
    }

    // MARK: - Inside the lock

    /// Lower is better: boost 0, credit left 1, credit spent 2, background 3.
    private func priority(_ v: VCPU) -> Int {
        let e = v.sched
        if e.background { return 3 }
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
        if busy && !s.ticking { timer.resume(); s.ticking = true }
        if !busy && s.ticking { timer.suspend(); s.ticking = false }
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
        let ran = now &- e.runStart
        e.runStart = now
        e.credit -= Int64(ran)
        s.periodUse[v.domain.id, default: 0] += ran
    }

    private func onTick() {
        state.withLock { s in
            let now = monotonicNanos()
            for v in s.vcpus where v.sched.holding { charge(v, &s, now: now) }
            for v in s.vcpus where v.sched.boosted && v.sched.holding { v.sched.boosted = false }
            s.ticks += 1
            if s.ticks % Int(Self.period / Self.tick) == 0 { account(&s) }
            defer { updateTick(&s) }
            for v in s.vcpus where v.sched.holding {
                if isCapped(v, s) {
                    preempt(v)                                            // its share is used up
                } else if now &- v.sched.sliceStart >= Self.slice, s.vcpus.contains(where: { $0.sched.waiting && !isCapped($0, s) && priority($0) <= priority(v) }) {
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
        s.periodUse = [:]
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
