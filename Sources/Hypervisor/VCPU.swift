import Glibc
import HyperABI
import Synchronization

/// One virtual CPU of a domain. Its mutable state belongs to the thread that runs it.
public final class VCPU: @unchecked Sendable {
    public let id: Int
    public unowned let domain: Domain
    /// The state to start in, set by the domain builder through `DomainControl.setVCPUContext`.
    public internal(set) var context = VCPUContext()
    /// Traps, callbacks, segment bases …: written by this vCPU's own hypercalls only.
    public internal(set) var pv = PVState()
    /// Where this vCPU's vcpu_info lives: machine frame << 12 | offset (shared_info slot until moved).
    let vcpuInfoLocation = Atomic<UInt64>(0)
    /// Parks the vCPU thread while it is blocked (SCHEDOP_block/poll) and wakes it for events.
    let parker = Parker()
    /// Ports this vCPU waits for in SCHEDOP_poll (empty when not polling).
    let polling = Atomic<Bool>(false)
    /// Time accounting for the runstate area: changed by the vCPU's own thread, read by its siblings
    /// (VCPUOP_get_runstate_info on another vCPU).
    private let runstate = Mutex(RunstateClock())
    /// Down (VCPUOP_down, or never brought up): it runs no guest code. vCPU 0 comes up at unpause,
    /// the others with VCPUOP_up.
    public let down = Atomic<Bool>(true)
    /// Has a context to run (the builder's for vCPU 0, VCPUOP_initialise for the others) and whether its
    /// platform thread was started: guarded by the domain's lifecycle lock.
    var initialised = false
    var threadStarted = false
    /// The singleshot timer and the periodic timer of this vCPU.
    var timer: VCPUTimer!
    /// The platform asks this at every exit; set by `Domain.destroy` and by shutdown.
    public let stopRequested = Atomic<Bool>(false)
    /// The scheduler wants the physical CPU back: the platform calls `Domain.preempted` at the next exit.
    public let preemptRequested = Atomic<Bool>(false)
    /// Scheduling state (guarded by the scheduler).
    let sched = SchedulingEntity()
    /// Hypercalls by number (the last bucket counts numbers ≥ 64); written by the vCPU thread only.
    let counters: UnsafeMutablePointer<UInt64>
    /// Exits of every kind taken by this vCPU.
    public let exits = Atomic<UInt64>(0)
    /// Monotonic time of the first hypercall (0 until then), for boot measurements.
    public let firstHypercallNanos = Atomic<UInt64>(0)
    /// Asleep in the hypervisor (down, paused, or blocked in SCHEDOP_block/poll) with its registers in
    /// `registersAtPark`: it runs no guest code until woken.
    public let quiescent = Atomic<Bool>(false)
    /// The registers as they were when the vCPU last parked (a paused domain's state, for tools and save).
    let parkedRegisters = Mutex(CPURegisters())
    /// Time spent in hypercalls by number (same buckets as `counters`); written by the vCPU thread only.
    let hypercallNanos: UnsafeMutablePointer<UInt64>
    /// Monotonic time the vCPU stopped.
    public let stoppedNanos = Atomic<UInt64>(0)
    /// A page of scratch space for copying guest buffers without allocating.
    let scratch: UnsafeMutableRawBufferPointer

    init(id: Int, domain: Domain) {
        self.id = id
        self.domain = domain
        counters = .allocate(capacity: Hypercall.statisticsBuckets + 1)
        counters.initialize(repeating: 0, count: Hypercall.statisticsBuckets + 1)
        hypercallNanos = .allocate(capacity: Hypercall.statisticsBuckets + 1)
        hypercallNanos.initialize(repeating: 0, count: Hypercall.statisticsBuckets + 1)
        scratch = .allocate(byteCount: 4096, alignment: 64)
        vcpuInfoLocation.store(domain.sharedInfoMFN << 12 | UInt64(id * VCPUInfoLayout.size), ordering: .relaxed)
        timer = VCPUTimer(vcpu: self)
    }

    /// Moves the runstate to `next` now. On the vCPU's own thread only (running time is its thread CPU time).
    func setRunstate(_ next: RunState) {
        let now = monotonicNanos()
        let system = domain.systemTime(atMonotonic: now)
        runstate.withLock { $0.transition(to: next, now: now, systemTime: system) }
    }

    /// `struct vcpu_runstate_info` now, as Xen's vcpu_runstate_get: the current state includes the time since
    /// it was entered. Any thread.
    var runstateInfo: [UInt8] {
        let now = monotonicNanos()
        return runstate.withLock { $0.bytes(now: now) }
    }

    /// The runstate (state and nanoseconds per state), for tools.
    public var runstateTimes: (state: RunState, times: [UInt64]) {
        let now = monotonicNanos()
        return runstate.withLock { ($0.state, $0.times(now: now)) }
    }

    /// Forgets what the platform has just applied.
    public func clearArchDirty() { pv.dirty = [] }

    /// Guest-physical address of this vCPU's pvclock (vcpu_info.time): GPA = MFN × 4096 on every platform
    /// that mirrors machine memory.
    public var timeAreaAddress: UInt64 {
        let v = vcpuInfo
        return (v.mfn << 12) + UInt64(v.offset + VCPUInfoLayout.time)
    }

    /// Machine frame and offset of this vCPU's vcpu_info.
    @inline(__always) var vcpuInfo: (mfn: UInt64, offset: Int) {
        let l = vcpuInfoLocation.load(ordering: .acquiring)
        return (l >> 12, Int(l & 4095))
    }

    /// The virtual interrupt flag is clear (events masked).
    @inline(__always) var eventsMasked: Bool {
        let v = vcpuInfo
        return domain.memory.loadByte(mfn: v.mfn, offset: v.offset + VCPUInfoLayout.upcallMask) != 0
    }

    @inline(__always) func setEventsMasked(_ masked: Bool) {
        let v = vcpuInfo
        domain.memory.storeByte(mfn: v.mfn, offset: v.offset + VCPUInfoLayout.upcallMask, masked ? 1 : 0)
    }

    /// An upcall is pending (evtchn_upcall_pending).
    @inline(__always) var upcallPending: Bool {
        let v = vcpuInfo
        return domain.memory.loadByte(mfn: v.mfn, offset: v.offset + VCPUInfoLayout.upcallPending) != 0
    }

    /// An event can be delivered now: pending and not masked.
    @inline(__always) var eventDeliverable: Bool { upcallPending && !eventsMasked }

    deinit {
        counters.deallocate()
        hypercallNanos.deallocate()
        scratch.deallocate()
    }

    /// The guest's address space as this vCPU sees it now (the user L4 in guest user mode).
    @inline(__always) var addressSpace: GuestAddressSpace {
        GuestAddressSpace(memory: domain.memory, l4: currentL4)
    }

    /// The guest kernel's address space.
    @inline(__always) var kernelAddressSpace: GuestAddressSpace {
        GuestAddressSpace(memory: domain.memory, l4: context.kernelL4)
    }

    /// The L4 the CPU should use now: CR3.
    public var currentL4: UInt64 { pv.kernelMode || pv.userL4 == 0 ? context.kernelL4 : pv.userL4 }

    /// Hypercall counts and time spent in them by number, nonzero ones only (the key `nil` collects
    /// numbers ≥ 64). Read racily from other threads: statistics, not accounting.
    public var hypercallCounts: [(number: UInt64?, count: UInt64, nanos: UInt64)] {
        var out: [(UInt64?, UInt64, UInt64)] = []
        for i in 0...Hypercall.statisticsBuckets where counters[i] != 0 {
            out.append((i == Hypercall.statisticsBuckets ? nil : UInt64(i), counters[i], hypercallNanos[i]))
        }
        return out
    }

    /// The registers saved when the vCPU last parked: current while the domain is paused.
    public var registersAtPark: CPURegisters { parkedRegisters.withLock { $0 } }

    /// Called by the platform's vCPU thread before it parks (preempted, down or paused).
    public func willPark(_ registers: CPURegisters) { parkedRegisters.withLock { $0 = registers } }

    /// Time this vCPU held one of the scheduler's physical CPUs (charged at ticks and when it gives the CPU up).
    public var scheduledNanos: UInt64 { sched.heldNanos.load(ordering: .relaxed) }

    /// Total hypercalls made.
    public var hypercallTotal: UInt64 {
        (0...Hypercall.statisticsBuckets).reduce(0) { $0 + counters[$1] }
    }
}

/// Monotonic clock in nanoseconds.
@inline(__always) public func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
