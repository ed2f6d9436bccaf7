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
    /// (xen-pv-facts §3.3). The guest is always in kernel mode here, so the frame goes below the
    /// interrupted RSP and the saved CS has its RPL cleared (0xe030: "interrupted kernel").
    /// Low → high: RCX, R11, [error code], RIP, CS | saved_mask << 32, RFLAGS (IF = virtual IF), RSP, SS.
    func bounce(_ vcpu: VCPU, _ regs: inout CPURegisters, to handler: UInt64, errorCode: UInt64?, maskEvents: Bool) throws(BounceFailure) {
        let savedMask: UInt64 = vcpu.eventsMasked ? 1 : 0
        let top = regs.rsp & ~15
        guard top <= PVLayout.hypervisorVirtStart || top >= PVLayout.hypervisorVirtEnd + 0x40 else {
            throw .unusableStack(regs.rsp)
        }
        var flags = regs.rflags & ~(0x200 | 0x3000)                   // virtual IF and IOPL 0 in the frame
        if savedMask == 0 { flags |= 0x200 }
        var words: [UInt64] = [regs.rcx, regs.r11]
        if let errorCode { words.append(errorCode) }
        words += [regs.rip, UInt64(PVLayout.flatKernelCS & ~3) | savedMask << 32, flags, regs.rsp, UInt64(PVLayout.flatKernelSS)]
        let base = top &- UInt64(words.count * 8)
        var bytes = [UInt8](repeating: 0, count: words.count * 8)
        for (i, w) in words.enumerated() { for b in 0..<8 { bytes[i * 8 + b] = UInt8(truncatingIfNeeded: w >> (8 * UInt64(b))) } }
        do { try vcpu.addressSpace.copyToGuest(base, bytes: bytes) } catch { throw .unusableStack(regs.rsp) }
        if maskEvents { vcpu.setEventsMasked(true) }
        regs.rsp = base
        regs.rip = handler
        regs.rflags = (regs.rflags & ~Domain.handlerClearedFlags) | 0x202
    }

    /// Delivers a pending event upcall if one is deliverable (pending, unmasked, a callback registered):
    /// Xen checks this on every return to the guest. Returns false if the domain had to be ended.
    @inline(__always)
    func deliverEvents(_ vcpu: VCPU, _ regs: inout CPURegisters) -> Bool {
        guard vcpu.pv.eventCallback.address != 0, vcpu.eventDeliverable else { return true }
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
