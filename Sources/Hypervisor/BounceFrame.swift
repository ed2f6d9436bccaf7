import HyperABI

/// Why a bounce (exception or event delivery to the guest kernel) could not be made.
enum BounceFailure: Error {
    /// The guest stack is in the hypervisor's range or cannot be written: double-fault semantics.
    case unusableStack(UInt64)
}

extension Domain {
    /// RFLAGS bits the CPU clears when it enters a handler: TF, NT, RF, VM, AC.
    static let handlerClearedFlags: UInt64 = 0x100 | 0x4000 | 0x10000 | 0x20000 | 0x40000

    /// Builds Xen's x86-64 PV bounce frame on the guest kernel stack and points the vCPU at `handler`
    /// (xen-pv-facts §3.3). From kernel mode the frame goes below the interrupted RSP and the saved CS has
    /// its RPL cleared (0xe030: "interrupted kernel"); from user mode the vCPU first switches to kernel
    /// mode (swapping GS bases) and the frame goes at the kernel stack from `stack_switch`, CS 0xe033.
    /// Low → high: RCX, R11, [error code], RIP, CS | saved_mask << 32, RFLAGS (IF = virtual IF), RSP, SS.
    func bounce(_ vcpu: VCPU, _ regs: inout CPURegisters, to handler: UInt64, errorCode: UInt64?, maskEvents: Bool,
                clearDirection: Bool = false) throws(BounceFailure) {
        let savedMask: UInt64 = vcpu.eventsMasked ? 1 : 0
        let fromUser = !vcpu.pv.kernelMode
        let top = (fromUser ? vcpu.pv.kernelSP : regs.rsp) & ~15
        guard top <= PVLayout.hypervisorVirtStart || top >= PVLayout.hypervisorVirtEnd + 0x40 else {
            throw .unusableStack(regs.rsp)
        }
        var flags = regs.rflags & ~(0x200 | 0x3000)                   // virtual IF and IOPL 0 in the frame
        if savedMask == 0 { flags |= 0x200 }
        var words: [UInt64] = [regs.rcx, regs.r11]
        if let errorCode { words.append(errorCode) }
        let cs = fromUser ? UInt64(PVLayout.flatKernelCS) : UInt64(PVLayout.flatKernelCS & ~3)
        words += [regs.rip, cs | savedMask << 32, flags, regs.rsp, UInt64(PVLayout.flatKernelSS)]
        let base = top &- UInt64(words.count * 8)
        var bytes = [UInt8](repeating: 0, count: words.count * 8)
        for (i, w) in words.enumerated() { for b in 0..<8 { bytes[i * 8 + b] = UInt8(truncatingIfNeeded: w >> (8 * UInt64(b))) } }
        do { try vcpu.kernelAddressSpace.copyToGuest(base, bytes: bytes) } catch { throw .unusableStack(top) }
        if fromUser { toggleGuestMode(vcpu) }
        if maskEvents { vcpu.setEventsMasked(true) }
        regs.rsp = base
        regs.rip = handler
        regs.rflags = (regs.rflags & ~Domain.handlerClearedFlags) | 0x202
        if clearDirection { regs.rflags &= ~0x400 }
    }

    /// Switches the vCPU between guest kernel and guest user mode: as Xen's toggle_guest_mode, the GS
    /// bases swap (SWAPGS) and the page tables switch (here the user L4 is the kernel's, see mmuext_op).
    func toggleGuestMode(_ vcpu: VCPU) {
        vcpu.pv.kernelMode.toggle()
        vcpu.pv.dirty.insert(.segmentBases)
        if vcpu.pv.userL4 != vcpu.context.kernelL4 { vcpu.pv.dirty.insert(.baseTable) }
    }

    /// A SYSCALL executed in guest user mode is not a hypercall: bounce it to the guest kernel's syscall
    /// callback (xen-pv-facts §3.10), with RIP/RFLAGS the SYSCALL saved in RCX/R11; without a callback,
    /// #UD at the SYSCALL instruction.
    func userSyscall(_ vcpu: VCPU, _ regs: inout CPURegisters) -> VCPUAction {
        regs.rip = regs.rcx
        regs.rflags = regs.r11
        let callback = vcpu.pv.syscallCallback
        do {
            if callback.address != 0 {
                try bounce(vcpu, &regs, to: callback.address, errorCode: nil, maskEvents: callback.masksEvents, clearDirection: true)
            } else {
                regs.rip &-= 2
                let ud = vcpu.pv.trapTable[6]
                guard ud.address != 0 else {
                    crash(CrashReport(cause: .fatalExit("SYSCALL in guest user mode with no syscall callback and no #UD handler"),
                                      vcpu: vcpu.id, registers: regs))
                    return .stop
                }
                try bounce(vcpu, &regs, to: ud.address, errorCode: nil, maskEvents: ud.disablesEvents)
            }
        } catch {
            crash(CrashReport(cause: .fatalExit("cannot deliver a user SYSCALL: the kernel stack at 0x\(String(vcpu.pv.kernelSP, radix: 16)) is unusable"),
                              vcpu: vcpu.id, registers: regs))
            return .stop
        }
        return deliverEvents(vcpu, &regs) ? .resume : .stop
    }

    /// Delivers a pending event upcall if one is deliverable (pending, unmasked, a callback registered):
    /// Xen checks this on every return to the guest. Returns false if the domain had to be ended.
    @inline(__always)
    func deliverEvents(_ vcpu: VCPU, _ regs: inout CPURegisters) -> Bool {
        guard vcpu.pv.eventCallback.address != 0, vcpu.eventDeliverable else { return true }
        hypervisor?.scheduler.clearHint(vcpu)   // an event is normal work
        do {
            try bounce(vcpu, &regs, to: vcpu.pv.eventCallback.address, errorCode: nil, maskEvents: true)
            return true
        } catch {
            crash(CrashReport(cause: .fatalExit("cannot deliver an event: the guest stack at 0x\(String(regs.rsp, radix: 16)) is unusable"),
                              vcpu: vcpu.id, registers: regs))
            return false
        }
    }

    /// The vCPU was kicked out of guest code (an event arrived, or a stop was asked for).
    /// `regs` are the guest's registers at CPL 3; the platform calls this only outside its stub.
    public func interrupted(_ vcpu: VCPU, _ regs: inout CPURegisters) -> VCPUAction {
        if vcpu.stopRequested.load(ordering: .acquiring) { return .stop }
        return deliverEvents(vcpu, &regs) ? .resume : .stop
    }
}
