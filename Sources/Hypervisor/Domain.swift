import Dispatch
import HyperABI
import Synchronization

/// How a domain's life ended, or that it has not yet.
public enum DomainState: Sendable, Equatable, CustomStringConvertible {
    /// Built, not started.
    case created
    case running
    /// The guest asked to stop (SCHEDOP_shutdown).
    case shutdown(ShutdownReason)
    /// The hypervisor ended it; the report says why.
    case crashed(String)
    /// Destroyed from Dom0 while it ran.
    case destroyed

    public var description: String {
        switch self {
        case .created: "created"
        case .running: "running"
        case .shutdown(let r): "shutdown (\(r))"
        case .crashed: "crashed"
        case .destroyed: "destroyed"
        }
    }

    /// True once the domain can run no more.
    public var isFinal: Bool {
        switch self { case .created, .running: false; default: true }
    }
}

/// What a domain's memory is used for, in pages.
public struct MemoryStats: Sendable, Equatable, CustomStringConvertible {
    /// PFNs with a frame behind them.
    public var populated: Int
    /// Pages given back to the host (decrease_reservation) and not taken again.
    public var balloonedOut: Int
    /// Frames typed as page tables (L1–L4).
    public var pageTables: Int
    /// Pages shared with the hypervisor or other domains: shared_info, grant-table frames, and granted
    /// pages another domain (or Dom0) has in use now.
    public var shared: Int

    public var description: String {
        "\(populated) pages populated, \(balloonedOut) ballooned out, \(pageTables) page-table pages, \(shared) shared"
    }
}

/// A guest domain: its memory, vCPUs, console and lifecycle. Built and steered through `DomainControl`.
public final class Domain: @unchecked Sendable {
    public let id: UInt16
    public let name: String
    /// Xen's domain handle (a UUID), returned by XENVER_guest_handle.
    public let handle: [UInt8]
    public let memory: MachineMemory
    /// PFN → MFN: the domain's pseudo-physical memory (`PVLayout.invalidMFN` where ballooned out).
    public var p2m: [UInt64] { p2mState.withLock { $0 } }
    let p2mState: Mutex<[UInt64]>
    /// The most pages the domain may hold (`maxmem`; Dom0 may change it, as XEN_DOMCTL_max_mem).
    public var maxPages: Int { maxPagesLimit.load(ordering: .relaxed) }
    let maxPagesLimit: Atomic<Int>
    /// Dom0's pauses (XEN_DOMCTL_pausedomain): while above zero no vCPU runs guest code.
    let pauseCount = Mutex<Int>(0)
    /// `pauseCount > 0`, for the vCPU threads' checks (set under `pauseCount`'s lock).
    let paused = Atomic<Bool>(false)
    public var isPaused: Bool { paused.load(ordering: .acquiring) }
    /// Frames the guest gave back while still mapped: freed when their last reference goes (as Xen).
    var pendingRelease: Set<UInt64> = []
    /// Credit-scheduler weight (Xen's default 256) and cap in percent of one CPU (0 = none).
    public let weight = Atomic<Int>(256)
    public let cap = Atomic<Int>(0)
    /// Pages given back and not taken again (for `memoryStats`).
    let balloonedOut = Atomic<Int>(0)
    /// The last statistics before the domain's frames were freed.
    private let finalStats = Mutex<MemoryStats?>(nil)
    /// Guards page types, reference counts and the P2M of this domain's frames.
    let mmuLock = Mutex<Void>(())
    /// The shared_info frame: the domain's, but not in its p2m (as on Xen).
    public let sharedInfoMFN: UInt64
    public let console = DomainConsole()
    public private(set) var vcpus: [VCPU] = []
    /// Set once, by `DomainControl.createDomain`, before any thread can see the domain; never changed after.
    var vm: (any VirtualMachine)?
    /// The platform's VM for this domain (for platform-specific tools such as the benchmark baseline).
    public var virtualMachine: (any VirtualMachine)? { vm }
    weak var hypervisor: Hypervisor?

    /// Event-channel ports (this domain's lock; never held while taking another domain's).
    let events = Mutex(PortTable())
    /// Grant table and maptrack (this domain's lock; its MMU lock may be taken inside it).
    let grants = Mutex(GrantState())
    /// Dom0's services' clean-ups, run at release before the frames go (`DomainControl.onRelease`).
    let releaseHooks = Mutex<[@Sendable () -> Void]>([])
    /// Guest system time (the pvclock's clock) minus the host's monotonic clock, set by the platform.
    var systemTimeOffset: Int64 = 0
    /// `vm_assist` bits: the domain's, as on Xen (not per vCPU).
    let vmAssist = Atomic<UInt64>(0)
    /// Whether privileged instructions beyond Xen's set (cli/sti/hlt) are trapped and emulated.
    public let emulatePrivileged: Bool

    private let stateLock = Mutex<DomainState>(.created)
    /// Serialises bringing vCPUs up and down (VCPUOP_initialise/up/down), as Xen's domain lock.
    let lifecycleLock = Mutex<Void>(())
    private let crashLock = Mutex<CrashReport?>(nil)
    private let running = Atomic<Int>(0)
    private let finished = DispatchGroup()

    init(id: UInt16, name: String, handle: [UInt8], memory: MachineMemory, p2m: [UInt64], sharedInfoMFN: UInt64, vcpuCount: Int,
         emulatePrivileged: Bool = false, maxPages: Int? = nil) {
        self.emulatePrivileged = emulatePrivileged
        self.maxPagesLimit = Atomic(max(maxPages ?? p2m.count, p2m.count))
        self.id = id
        self.name = name
        self.handle = handle
        self.memory = memory
        self.p2mState = Mutex(p2m)
        self.sharedInfoMFN = sharedInfoMFN
        self.vcpus = (0..<vcpuCount).map { VCPU(id: $0, domain: self) }
        finished.enter()
    }

    public var state: DomainState { stateLock.withLock { $0 } }
    /// The crash report, when the hypervisor ended the domain.
    public var crashReport: CrashReport? { crashLock.withLock { $0 } }
    /// Pages of pseudo-physical address space (populated or not).
    public var nrPages: Int { p2mState.withLock { $0.count } }
    /// Pages the domain holds now (its populated PFNs).
    public var populatedPages: Int { p2mState.withLock { $0.reduce(0) { $1 == PVLayout.invalidMFN ? $0 : $0 + 1 } } }
    /// Machine frame behind `pfn`, or nil (out of range or ballooned out).
    public func mfn(forPFN pfn: Int) -> UInt64? {
        p2mState.withLock { p in pfn >= 0 && pfn < p.count && p[pfn] != PVLayout.invalidMFN ? p[pfn] : nil }
    }
    /// "domain 3 (hello-c)", for messages.
    public var label: String { "domain \(id) (\(name))" }

    /// Xen system time now: what the guest's pvclock reads.
    public func systemTime() -> UInt64 { systemTime(atMonotonic: monotonicNanos()) }

    /// Xen system time at host monotonic time `nanos`.
    func systemTime(atMonotonic nanos: UInt64) -> UInt64 { UInt64(bitPattern: Int64(bitPattern: nanos) &+ systemTimeOffset) }

    /// Takes a physical CPU before the vCPU first enters the guest. False: stop instead.
    public func vcpuWillRun(_ vcpu: VCPU) -> Bool {
        guard let scheduler = hypervisor?.scheduler else { return true }
        scheduler.add(vcpu)
        vcpu.setRunstate(.runnable)
        let ok = scheduler.acquire(vcpu)
        vcpu.setRunstate(.running)
        return ok
    }

    /// The scheduler asked for the physical CPU back, or the vCPU was taken down: queue for the CPU again
    /// (runnable meanwhile), or sleep offline until VCPUOP_up. False: stop instead.
    public func preempted(_ vcpu: VCPU) -> Bool {
        if vcpu.down.load(ordering: .acquiring) || isPaused { return sleepWhileDown(vcpu) }
        guard let scheduler = hypervisor?.scheduler else { vcpu.preemptRequested.store(false, ordering: .relaxed); return true }
        vcpu.setRunstate(.runnable)
        let ok = scheduler.requeue(vcpu)
        vcpu.setRunstate(.running)
        // Paused while queued (the request flag was cleared by the requeue): sleep now, not at the next exit.
        if ok && isPaused { return sleepWhileDown(vcpu) }
        return ok && !vcpu.stopRequested.load(ordering: .acquiring)
    }

    /// No vCPU runs guest code: each is parked (down or paused), never started, or stopped.
    var isQuiescent: Bool {
        lifecycleLock.withLock { _ in
            vcpus.allSatisfy { v in
                !v.threadStarted || v.quiescent.load(ordering: .acquiring) || v.stoppedNanos.load(ordering: .acquiring) != 0
            }
        }
    }

    /// Blocks until the domain has stopped and its resources are released.
    public func waitUntilFinished() { finished.wait() }

    /// Waits at most `seconds`; true if the domain finished.
    public func waitUntilFinished(seconds: Double) -> Bool {
        finished.wait(timeout: .now() + seconds) == .success
    }

    /// Frees a frame the guest gave back once nothing references it any more. Called with `mmuLock` held.
    func frameMaybeFree(_ mfn: UInt64) {
        guard pendingRelease.contains(mfn), let pages = hypervisor?.frames.pages,
              pages.typeCount[Int(mfn)] == 0, pages.mapCount[Int(mfn)] == 0 else { return }
        pendingRelease.remove(mfn)
        vm?.unmapFrames([mfn])
        hypervisor?.frames.release([mfn], from: id)
    }

    /// Records the final state (first one wins) and asks every vCPU to stop.
    func end(_ final: DomainState) {
        let changed = stateLock.withLock { s -> Bool in
            guard !s.isFinal else { return false }
            s = final
            return true
        }
        guard changed else { return }
        for v in vcpus {
            v.stopRequested.store(true, ordering: .releasing)
            v.parker.wake()
            hypervisor?.scheduler.wakeForStop(v)
            vm?.kick(v)
        }
    }

    /// Ends the domain with a report of why (vector, RIP, registers …).
    public func crash(_ report: CrashReport) {
        crashLock.withLock { if $0 == nil { $0 = report } }
        end(.crashed(report.summary))
    }

    func markRunning() -> Bool {
        stateLock.withLock { s in
            guard s == .created else { return false }
            s = .running
            return true
        }
    }

    /// Moves a domain that never ran straight to `destroyed`; false if it has started (or ended).
    func destroyIfNeverStarted() -> Bool {
        stateLock.withLock { s in
            guard s == .created else { return false }
            s = .destroyed
            return true
        }
    }

    func vcpuStarted() { running.add(1, ordering: .relaxed) }

    /// Called by the platform's vCPU thread as its last act. The last one out releases the domain.
    public func vcpuDidStop(_ vcpu: VCPU) {
        vcpu.stoppedNanos.store(monotonicNanos(), ordering: .relaxed)
        vcpu.setRunstate(.offline)
        hypervisor?.scheduler.remove(vcpu)
        if running.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { release() }
    }

    /// Current memory use (the last figures once the domain is gone).
    public var memoryStats: MemoryStats {
        if let final = finalStats.withLock({ $0 }) { return final }
        let frames = p2m.filter { $0 != PVLayout.invalidMFN }
        let tables = hypervisor.map { hv in frames.filter { PageType(rawValue: hv.frames.pages.type[Int($0)])?.level != nil }.count } ?? 0
        let granted = grants.withLock { $0.frames.count + Set($0.active.values.map(\.mfn)).count }
        return MemoryStats(populated: frames.count, balloonedOut: balloonedOut.load(ordering: .relaxed), pageTables: tables,
                           shared: 1 + granted)
    }

    /// Frees the VM and every frame; the console log stays readable.
    func release() {
        let stats = memoryStats
        finalStats.withLock { $0 = stats }
        if !state.isFinal { end(.destroyed) }
        for v in vcpus { v.timer.cancel() }
        closeAllPorts()
        for hook in releaseHooks.withLock({ h in defer { h = [] }; return h }) { hook() }
        let (tables, mappedElsewhere) = releaseGrants()
        vm?.destroy()   // `vm` stays set: a late kick finds no live thread and does nothing
        let held = (p2m.filter { $0 != PVLayout.invalidMFN } + [sharedInfoMFN] + Array(pendingRelease) + tables)
            .filter { !mappedElsewhere.contains($0) }
        hypervisor?.frames.release(held, from: id)
        hypervisor?.domainFinished(self)
        finished.leave()
    }
}
