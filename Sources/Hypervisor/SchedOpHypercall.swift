import CHost
import Glibc
import HyperABI

extension Domain {
    /// `sched_op(cmd, arg)` (29): yield, block, shutdown, poll, remote_shutdown, and our priority hint.
    func schedOp(_ vcpu: VCPU, command: UInt64, argument: UInt64, _ regs: inout CPURegisters) throws(XenErrno) -> UInt64 {
        switch SchedOpCommand(rawValue: command) {
        case .yield:
            // Behind the vCPUs waiting at its priority, as Xen's credit scheduler; with none, the host thread yields.
            if let scheduler = hypervisor?.scheduler, scheduler.hasWaitingPeer(vcpu) {
                _ = preempted(vcpu)          // false: the domain is ending, which the exit loop sees next
            } else {
                sched_yield()
            }
            return 0
        case .block:
            _ = block(vcpu, parkedAs: Self.afterHypercall(regs))   // if the domain ended meanwhile, the caller sees stopRequested
            return 0
        case .shutdown:
            let raw = try vcpu.addressSpace.load(UInt32.self, at: argument)
            // Xen would record any code; an unknown one is refused here so a typo cannot look like a poweroff.
            guard let reason = ShutdownReason(rawValue: raw) else { throw .EINVAL }
            end(.shutdown(reason))
            return 0
        case .poll:
            return try poll(vcpu, argument, parkedAs: Self.afterHypercall(regs))
        case .remoteShutdown:
            throw .EPERM                                   // for the control domain only
        case .priorityHint:
            let background = try vcpu.addressSpace.load(UInt32.self, at: argument)
            guard background <= 1 else { throw .EINVAL }
            hypervisor?.scheduler.setBackground(vcpu, background == 1)
            return 0
        default:
            throw .ENOSYS
        }
    }

    /// SCHEDOP_block: enable events and sleep until one is pending (or the domain ends, or the vCPU is taken down). Returns at once
    /// when one already is: the upcall is then delivered on the way back to the guest.
    /// Returns false if the domain ended meanwhile.
    /// The registers a hypercall returns to the guest with (result 0), as SYSRET leaves them.
    static func afterHypercall(_ regs: CPURegisters) -> CPURegisters {
        var r = regs
        r.rax = 0
        r.rip = regs.rcx
        r.rflags = (regs.r11 & ~rflagsForcedClear) | rflagsForcedSet
        return r
    }

    /// `parkedAs`: the registers the vCPU continues with, kept for tools and save while it sleeps.
    func block(_ vcpu: VCPU, parkedAs registers: CPURegisters) -> Bool {
        vcpu.setEventsMasked(false)
        chost_fence_sync()
        guard !vcpu.upcallPending else { return true }
        vcpu.setRunstate(.blocked)
        let scheduler = hypervisor?.scheduler
        scheduler?.clearHint(vcpu)
        scheduler?.release(vcpu)
        defer { scheduler?.acquire(vcpu, boosted: true) }             // Xen's wake-up boost
        // A blocked vCPU runs no guest code: a pause need not wake it. Its registers, for tools and save,
        // are those it will return to the guest with.
        vcpu.willPark(registers)
        vcpu.quiescent.store(true, ordering: .releasing)
        defer { vcpu.quiescent.store(false, ordering: .releasing) }
        // Paused, it stays here even for an event: returning would bounce it into guest memory mid-save.
        while (!vcpu.upcallPending || isPaused) && !vcpu.stopRequested.load(ordering: .acquiring) && !vcpu.down.load(ordering: .acquiring) {
            // Sleep until the vCPU's own timer at the latest, and fire it from here: a timer that would
            // otherwise wake the timer queue, which then wakes us, costs two wake-ups instead of one.
            let deadline = vcpu.timer.nextHostDeadline
            vcpu.parker.park(until: deadline)
            if let deadline, monotonicNanos() >= deadline { vcpu.timer.fire() }
        }
        vcpu.setRunstate(.running)
        writeRunstate(vcpu)
        return !vcpu.stopRequested.load(ordering: .acquiring)
    }

    /// SCHEDOP_poll: sleep until one of the given ports is pending or the timeout (Xen system time, 0 = none)
    /// passes. Events may stay masked.
    func poll(_ vcpu: VCPU, _ argument: UInt64, parkedAs registers: CPURegisters) throws(XenErrno) -> UInt64 {
        let space = vcpu.addressSpace
        let list = try space.load(UInt64.self, at: argument + UInt64(SchedPollLayout.ports))
        let count = Int(try space.load(UInt32.self, at: argument + UInt64(SchedPollLayout.nrPorts)))
        let timeout = try space.load(UInt64.self, at: argument + UInt64(SchedPollLayout.timeout))
        guard count <= 128 else { throw .EINVAL }
        var ports: [UInt32] = []
        for i in 0..<count {
            let p = try space.load(UInt32.self, at: list &+ UInt64(i * 4))
            guard p < UInt32(EventChannelLayout.maxPorts) else { throw .EINVAL }
            ports.append(p)
        }
        func anyPending() -> Bool {
            ports.contains { memory.testBit(mfn: sharedInfoMFN, offset: SharedInfoLayout.evtchnPending + Int($0 / 64) * 8, bit: Int($0 % 64)) }
        }
        let deadline: UInt64? = timeout == 0 ? nil : UInt64(bitPattern: Int64(bitPattern: timeout) &- systemTimeOffset)
        if anyPending() { return 0 }
        vcpu.polling.store(true, ordering: .releasing)
        defer { vcpu.polling.store(false, ordering: .releasing) }
        vcpu.setRunstate(.blocked)
        let scheduler = hypervisor?.scheduler
        scheduler?.clearHint(vcpu)
        scheduler?.release(vcpu)
        defer { scheduler?.acquire(vcpu, boosted: true) }
        vcpu.willPark(registers)
        vcpu.quiescent.store(true, ordering: .releasing)
        defer { vcpu.quiescent.store(false, ordering: .releasing) }
        while (!anyPending() || isPaused) && !vcpu.stopRequested.load(ordering: .acquiring) && !vcpu.down.load(ordering: .acquiring) {
            if let deadline, monotonicNanos() >= deadline, !isPaused { break }
            let timer = vcpu.timer.nextHostDeadline
            let wake = [deadline, timer].compactMap { $0 }.min()
            vcpu.parker.park(until: wake)
            if let timer, monotonicNanos() >= timer { vcpu.timer.fire() }
        }
        vcpu.setRunstate(.running)
        return 0
    }

    /// Copies the runstate to the guest's registered area (if any); a bad area is ignored, as on Xen.
    func writeRunstate(_ vcpu: VCPU) {
        let area = vcpu.pv.runstateArea
        guard area != 0 else { return }
        try? vcpu.addressSpace.copyToGuest(area, bytes: vcpu.runstateInfo)
    }
}

@inline(__always) func chost_fence_sync() { chost_fence() }
