import HyperABI

/// Bringing a domain's vCPUs up and down (VCPUOP_initialise, up, down), as Xen: every vCPU but 0 starts
/// down and uninitialised; a down vCPU runs no guest code and is offline in its runstate; a vCPU that
/// goes down and comes up again continues where it was.
extension Domain {
    /// VCPUOP_initialise: gives a never-initialised vCPU its first state from a `vcpu_guest_context`.
    /// With VGCF_online in its flags the vCPU comes up at once.
    func initialiseVCPU(_ caller: VCPU, _ target: VCPU, context address: UInt64) throws(XenErrno) {
        var raw = [UInt8](repeating: 0, count: VCPUGuestContextLayout.size)
        let failed = raw.withUnsafeMutableBytes { b -> XenErrno? in
            do throws(XenErrno) { try caller.addressSpace.copyFromGuest(address, into: b); return nil } catch { return error }
        }
        if let failed { throw failed }
        let guest = GuestContext(raw)
        let online = try lifecycleLock.withLock { (_) throws(XenErrno) -> Bool in
            guard !target.initialised else { throw .EEXIST }
            let (context, pv) = try decode(guest)
            try takeBaseReferences(kernel: context.kernelL4, user: pv.userL4)
            target.context = context
            target.pv = pv
            target.initialised = true
            return guest.word(VCPUGuestContextLayout.flags) & VCPUGuestContextLayout.flagOnline != 0
        }
        if online { try bringUp(target) }
    }

    /// VCPUOP_up: an initialised vCPU that is down runs again (its thread starts the first time).
    func bringUp(_ target: VCPU) throws(XenErrno) {
        let startThread = try lifecycleLock.withLock { (_) throws(XenErrno) -> Bool in
            guard target.initialised else { throw .EINVAL }
            guard !state.isFinal, target.down.exchange(false, ordering: .acquiringAndReleasing) else { return false }
            guard !target.threadStarted else { return false }
            target.threadStarted = true
            vcpuStarted()                   // before the thread exists: the domain cannot be released under it
            return true
        }
        guard startThread else {
            target.parker.wake()            // asleep in sleepWhileDown, if it went down before
            return
        }
        do {
            try vm?.start(target)
        } catch {
            crash(CrashReport(cause: .fatalExit("could not start vcpu \(target.id): \(error)"), vcpu: target.id, registers: target.context.registers))
            vcpuDidStop(target)
            throw .ENOMEM
        }
    }

    /// VCPUOP_down: the vCPU stops at its next exit (at once if it is the caller). Taking the last running
    /// vCPU down powers the domain off, as Xen does.
    func takeDown(_ caller: VCPU, _ target: VCPU) {
        // The check and the change under one lock: two vCPUs taking themselves down at once cannot both pass.
        let (last, wasDown) = lifecycleLock.withLock { _ -> (Bool, Bool) in
            guard vcpus.contains(where: { $0 !== target && !$0.down.load(ordering: .acquiring) }) else { return (true, false) }
            return (false, target.down.exchange(true, ordering: .acquiringAndReleasing))
        }
        guard !last else {
            end(.shutdown(.poweroff))
            return
        }
        guard !wasDown else { return }
        // The exit loop looks at preemptRequested after every exit: one flag to test, whatever the reason.
        target.preemptRequested.store(true, ordering: .releasing)
        target.parker.wake()                // out of SCHEDOP_block/poll
        if target !== caller { vm?.kick(target) }
    }

    /// Called by the vCPU's own thread when it finds itself down or its domain paused: gives its physical
    /// CPU back and sleeps, offline (as Xen accounts a paused vCPU), until VCPUOP_up or Dom0's unpause, or
    /// the domain's end. False: stop instead.
    func sleepWhileDown(_ vcpu: VCPU) -> Bool {
        vcpu.preemptRequested.store(false, ordering: .relaxed)
        let scheduler = hypervisor?.scheduler
        vcpu.setRunstate(.offline)
        writeRunstate(vcpu)
        scheduler?.release(vcpu)
        vcpu.quiescent.store(true, ordering: .releasing)
        defer { vcpu.quiescent.store(false, ordering: .releasing) }
        while (vcpu.down.load(ordering: .acquiring) || isPaused) && !vcpu.stopRequested.load(ordering: .acquiring) {
            vcpu.parker.park(until: nil)
        }
        guard !vcpu.stopRequested.load(ordering: .acquiring) else { return false }
        vcpu.setRunstate(.runnable)
        let ok = scheduler?.acquire(vcpu) ?? true
        vcpu.setRunstate(.running)
        writeRunstate(vcpu)
        return ok && !vcpu.stopRequested.load(ordering: .acquiring)
    }

    /// The start state a `vcpu_guest_context` describes, checked as Xen's arch_set_info_guest checks it.
    private func decode(_ g: GuestContext) throws(XenErrno) -> (VCPUContext, PVState) {
        typealias L = VCPUGuestContextLayout
        typealias R = CPUUserRegsLayout
        let flags = g.word(L.flags)
        guard flags & L.flagInKernel != 0 else { throw .EINVAL }        // starting in guest user mode: not supported
        var c = VCPUContext()
        func reg(_ off: Int) -> UInt64 { g.word(L.userRegs + off) }
        c.registers.r15 = reg(R.r15); c.registers.r14 = reg(R.r14); c.registers.r13 = reg(R.r13); c.registers.r12 = reg(R.r12)
        c.registers.rbp = reg(R.rbp); c.registers.rbx = reg(R.rbx); c.registers.r11 = reg(R.r11); c.registers.r10 = reg(R.r10)
        c.registers.r9 = reg(R.r9); c.registers.r8 = reg(R.r8); c.registers.rax = reg(R.rax); c.registers.rcx = reg(R.rcx)
        c.registers.rdx = reg(R.rdx); c.registers.rsi = reg(R.rsi); c.registers.rdi = reg(R.rdi)
        c.registers.rip = reg(R.rip)
        c.registers.rsp = reg(R.rsp)
        c.registers.rflags = (reg(R.rflags) & 0x3f_7fd5 & ~0x2_3000) | 0x202     // architectural bits, no IOPL/VM, IF on
        c.kernelL4 = g.word(L.controlRegisters + 3 * 8) >> 12

        var pv = PVState()
        for v in 0..<256 {
            let at = L.trapContext + v * TrapInfoLayout.size
            let address = g.word(at + TrapInfoLayout.address)
            guard address != 0 else { continue }
            let flags = g.byte(at + TrapInfoLayout.flags)
            pv.trapTable[v].address = address
            pv.trapTable[v].dpl = flags & 3
            pv.trapTable[v].disablesEvents = flags & TrapInfoLayout.disableEventsFlag != 0
        }
        pv.eventCallback = Callback(address: g.word(L.eventCallback), masksEvents: true)
        pv.failsafeCallback = Callback(address: g.word(L.failsafeCallback), masksEvents: flags & L.flagFailsafeDisablesEvents != 0)
        pv.syscallCallback = Callback(address: g.word(L.syscallCallback), masksEvents: flags & L.flagSyscallDisablesEvents != 0)
        pv.kernelSS = g.word(L.kernelSS) | 3
        pv.kernelSP = g.word(L.kernelSP)
        pv.fsBase = g.word(L.fsBase)
        pv.gsBaseKernel = g.word(L.gsBaseKernel)
        pv.gsBaseUser = g.word(L.gsBaseUser)
        pv.userL4 = g.word(L.controlRegisters + 1 * 8) >> 12

        let addresses = [c.registers.rip, c.registers.rsp, pv.kernelSP, pv.fsBase, pv.gsBaseKernel, pv.gsBaseUser,
                         pv.eventCallback.address, pv.failsafeCallback.address, pv.syscallCallback.address]
            + pv.trapTable.map(\.address)
        guard addresses.allSatisfy(PVLayout.isCanonical) else { throw .EINVAL }
        // vm_assist is the domain's: Xen takes it from vCPU 0's context only, so here it is checked, not applied.
        guard g.word(L.vmAssist) & ~VMAssist.validTypes.reduce(0, { $0 | 1 << $1 }) == 0 else { throw .EINVAL }
        // Neither an LDT nor a GDT of the guest's own at start (set_gdt can add the GDT once it runs).
        guard g.word(L.ldtEntries) == 0, g.word(L.gdtEntries) == 0 else { throw .EINVAL }
        pv.dirty = [.segmentBases]
        return (c, pv)
    }

    /// The kernel L4 (and the user L4, if any) must be pinned L4s of the domain; each base holds a type
    /// reference, as MMUEXT_NEW_BASEPTR's.
    private func takeBaseReferences(kernel: UInt64, user: UInt64) throws(XenErrno) {
        try withMMU { (mmu) throws(XenErrno) in
            func usable(_ l4: UInt64) -> Bool {
                mmu.owns(l4) && l4 < UInt64(mmu.info.count) && mmu.info.pinned[Int(l4)] && mmu.type(l4) == .l4
            }
            guard usable(kernel), user == 0 || usable(user) else { throw .EINVAL }
            try mmu.getType(kernel, .l4)
            if user != 0 {
                do throws(XenErrno) { try mmu.getType(user, .l4) } catch { mmu.putType(kernel); throw error }
            }
        }
    }
}

/// A copied `vcpu_guest_context`, read by offset.
private struct GuestContext {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    func word(_ off: Int) -> UInt64 { bytes[off..<off + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) } }
    func byte(_ off: Int) -> UInt8 { bytes[off] }
}
