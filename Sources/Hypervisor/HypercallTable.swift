import HyperABI

/// What the platform does after the core handled an exit.
public enum VCPUAction: Sendable {
    /// Enter the guest again.
    case resume
    /// Leave the run loop: the domain ended (or is ending).
    case stop
}

extension Domain {
    /// Handles a hypercall: `rax` = number, `rdi rsi rdx r10 r8` = arguments, as Xen's x86-64 PV ABI.
    /// On return `rax` holds the result and `rip`/`rflags` are set as SYSRET would set them
    /// (RIP ← RCX, RFLAGS ← R11 with IF forced on and IOPL/NT/VM cleared, as Xen does since XSA-202);
    /// `iret` instead loads a whole frame. A deliverable event is then bounced to the guest's callback,
    /// as Xen checks on every return to the guest. Runs on the vCPU's thread; allocates nothing.
    @inline(__always)
    public func hypercall(_ vcpu: VCPU, _ regs: inout CPURegisters) -> VCPUAction {
        if vcpu.firstHypercallNanos.load(ordering: .relaxed) == 0 {
            vcpu.firstHypercallNanos.store(monotonicNanos(), ordering: .relaxed)
        }
        // SYSCALL from guest user mode is the user's system call, not a hypercall.
        guard vcpu.pv.kernelMode else { return userSyscall(vcpu, &regs) }
        let nr = regs.rax
        let bucket = Int(min(nr, UInt64(Hypercall.statisticsBuckets)))
        vcpu.counters[bucket] &+= 1
        let started = monotonicNanos()
        defer { vcpu.hypercallNanos[bucket] &+= monotonicNanos() &- started }
        if nr == Hypercall.iret.rawValue {
            guard case .resume = iret(vcpu, &regs) else { return .stop }
        } else {
            let result: UInt64
            do {
                result = try dispatch(nr, vcpu, &regs)
            } catch {
                result = error.hypercallResult
            }
            regs.rax = result
            regs.rip = regs.rcx
            regs.rflags = (regs.r11 & ~Self.rflagsForcedClear) | Self.rflagsForcedSet
        }
        if vcpu.stopRequested.load(ordering: .acquiring) { return .stop }
        return deliverEvents(vcpu, &regs) ? .resume : .stop
    }

    /// IOPL (12–13), NT (14), RF (16), VM (17).
    static let rflagsForcedClear: UInt64 = 0x3000 | 0x4000 | 0x10000 | 0x20000
    /// IF (9) and the always-one bit 1.
    static let rflagsForcedSet: UInt64 = 0x200 | 0x2

    /// The hypercall table: one line per implemented call, everything else is -ENOSYS.
    @inline(__always)
    func dispatch(_ nr: UInt64, _ vcpu: VCPU, _ regs: inout CPURegisters) throws(XenErrno) -> UInt64 {
        switch Hypercall(rawValue: nr) {
        case .setTrapTable: try setTrapTable(vcpu, regs.rdi)
        case .setGDT: try setGDT(vcpu, list: regs.rdi, entries: regs.rsi)
        case .updateDescriptor: try updateDescriptor(vcpu, machineAddress: regs.rdi, descriptor: regs.rsi)
        case .stackSwitch: stackSwitch(vcpu, ss: regs.rdi, sp: regs.rsi)
        case .setCallbacks: setCallbacks(vcpu, event: regs.rdi, failsafe: regs.rsi, syscall: regs.rdx)
        case .fpuTaskswitch: fpuTaskswitch(vcpu, set: regs.rdi)
        case .memoryOp: try memoryOp(vcpu, command: regs.rdi, argument: regs.rsi)
        case .multicall: try multicall(vcpu, list: regs.rdi, count: regs.rsi, &regs)
        case .updateVAMapping: try updateVAMapping(vcpu, va: regs.rdi, pte: regs.rsi, flags: regs.rdx)
        case .setTimerOp: setTimerOp(vcpu, deadline: regs.rdi)
        case .xenVersion: try xenVersion(vcpu, command: regs.rdi, argument: regs.rsi)
        case .consoleIO: try consoleIO(vcpu, command: regs.rdi, count: regs.rsi, buffer: regs.rdx)
        case .vmAssist: try vmAssist(vcpu, command: regs.rdi, type: regs.rsi)
        case .vcpuOp: try vcpuOp(vcpu, command: regs.rdi, target: regs.rsi, argument: regs.rdx)
        case .mmuUpdate: try mmuUpdate(vcpu, list: regs.rdi, count: regs.rsi, done: regs.rdx, foreign: regs.r10)
        case .mmuextOp: try mmuextOp(vcpu, list: regs.rdi, count: regs.rsi, done: regs.rdx, foreignDomain: regs.r10)
        case .setSegmentBase: try setSegmentBase(vcpu, which: regs.rdi, base: regs.rsi)
        case .schedOp: try schedOp(vcpu, command: regs.rdi, argument: regs.rsi, &regs)
        case .callbackOp: try callbackOp(vcpu, command: regs.rdi, argument: regs.rsi)
        case .eventChannelOp: try eventChannelOp(vcpu, command: regs.rdi, argument: regs.rsi)
        case .grantTableOp: try grantTableOp(vcpu, command: regs.rdi, list: regs.rsi, count: regs.rdx)
        default: throw .ENOSYS
        }
    }
}
