import HyperABI

extension Domain {
    /// `set_trap_table(traps)` (0): fills the virtual IDT from an array ending with address 0;
    /// NULL clears it. A non-canonical handler stops with -EINVAL (earlier entries stay applied).
    func setTrapTable(_ vcpu: VCPU, _ table: UInt64) throws(XenErrno) -> UInt64 {
        guard table != 0 else {
            vcpu.pv.trapTable = [TrapEntry](repeating: TrapEntry(), count: 256)
            return 0
        }
        let space = vcpu.addressSpace
        // Xen loops until the terminator with preemption; one table can name each vector at most once
        // usefully, so a list longer than this is a guest bug.
        for i in 0..<4096 {
            let at = table &+ UInt64(i * TrapInfoLayout.size)
            let address = try space.load(UInt64.self, at: at + UInt64(TrapInfoLayout.address))
            if address == 0 { return 0 }
            guard PVLayout.isCanonical(address) else { throw .EINVAL }
            let vector = try space.load(UInt8.self, at: at)
            let flags = try space.load(UInt8.self, at: at + UInt64(TrapInfoLayout.flags))
            var e = TrapEntry()
            e.address = address
            e.dpl = flags & 3
            e.disablesEvents = flags & TrapInfoLayout.disableEventsFlag != 0
            vcpu.pv.trapTable[Int(vector)] = e
        }
        throw .E2BIG
    }

    /// `set_callbacks(event, failsafe, syscall)` (4): the older registration; non-canonical ones are ignored.
    func setCallbacks(_ vcpu: VCPU, event: UInt64, failsafe: UInt64, syscall: UInt64) -> UInt64 {
        if PVLayout.isCanonical(event) { vcpu.pv.eventCallback = Callback(address: event, masksEvents: true) }
        if PVLayout.isCanonical(failsafe) { vcpu.pv.failsafeCallback = Callback(address: failsafe, masksEvents: false) }
        if PVLayout.isCanonical(syscall) { vcpu.pv.syscallCallback = Callback(address: syscall, masksEvents: false) }
        return 0
    }

    /// `callback_op(cmd, arg)` (30): register or unregister one callback type.
    func callbackOp(_ vcpu: VCPU, command: UInt64, argument: UInt64) throws(XenErrno) -> UInt64 {
        let space = vcpu.addressSpace
        switch command {
        case CallbackOp.register:
            let raw = try space.load(UInt16.self, at: argument)
            let flags = try space.load(UInt16.self, at: argument + UInt64(CallbackOp.registerFlagsOffset))
            let address = try space.load(UInt64.self, at: argument + UInt64(CallbackOp.registerAddressOffset))
            guard let type = CallbackType(rawValue: raw), type != .sysenterDeprecated else { throw .ENOSYS }
            guard PVLayout.isCanonical(address) else { throw .EINVAL }
            let cb = Callback(address: address, masksEvents: flags & CallbackOp.maskEvents != 0)
            switch type {
            case .event: vcpu.pv.eventCallback = Callback(address: address, masksEvents: true)   // always masks (TBF_INTERRUPT)
            case .failsafe: vcpu.pv.failsafeCallback = cb
            case .syscall: vcpu.pv.syscallCallback = cb
            case .syscall32: vcpu.pv.syscall32Callback = cb
            case .sysenter: vcpu.pv.sysenterCallback = cb
            case .nmi:
                var e = TrapEntry()
                e.address = address
                e.disablesEvents = true
                vcpu.pv.trapTable[2] = e
            case .sysenterDeprecated: throw .ENOSYS
            }
            return 0
        case CallbackOp.unregister:
            let raw = try space.load(UInt16.self, at: argument)
            guard let type = CallbackType(rawValue: raw), type != .sysenterDeprecated else { throw .ENOSYS }
            guard type == .nmi else { throw .EINVAL }            // only the NMI callback can be removed
            vcpu.pv.trapTable[2] = TrapEntry()
            return 0
        default:
            throw .ENOSYS
        }
    }

    /// `stack_switch(ss, sp)` (3): the kernel stack for frames built when the guest was in user mode.
    func stackSwitch(_ vcpu: VCPU, ss: UInt64, sp: UInt64) -> UInt64 {
        vcpu.pv.kernelSS = ss | 3
        vcpu.pv.kernelSP = sp
        return 0
    }

    /// `set_segment_base(which, base)` (25).
    func setSegmentBase(_ vcpu: VCPU, which: UInt64, base: UInt64) throws(XenErrno) -> UInt64 {
        guard let kind = SegmentBase(rawValue: which) else { throw .EINVAL }
        switch kind {
        case .fs, .gsUser, .gsKernel:
            guard PVLayout.isCanonical(base) else { throw .EINVAL }
            switch kind {
            case .fs: vcpu.pv.fsBase = base
            case .gsUser: vcpu.pv.gsBaseUser = base
            default: vcpu.pv.gsBaseKernel = base
            }
        case .gsUserSelector:
            // No guest GDT/LDT entries can hold a base yet: the selector loads as null, as Xen does on failure.
            vcpu.pv.gsBaseUser = 0
        }
        vcpu.pv.dirty.insert(.segmentBases)
        return 0
    }

    /// `fpu_taskswitch(set)` (5): set or clear CR0.TS, so the next FPU/SSE use raises #NM.
    func fpuTaskswitch(_ vcpu: VCPU, set: UInt64) -> UInt64 {
        vcpu.pv.taskSwitched = set != 0
        vcpu.pv.dirty.insert(.taskSwitched)
        return 0
    }

    /// `vm_assist(cmd, type)` (21).
    func vmAssist(_ vcpu: VCPU, command: UInt64, type: UInt64) throws(XenErrno) -> UInt64 {
        guard command == VMAssist.enable || command == VMAssist.disable else { throw .ENOSYS }
        guard VMAssist.validTypes.contains(type) else { throw .EINVAL }
        if command == VMAssist.enable {
            vmAssist.bitwiseOr(1 << type, ordering: .relaxed)
        } else {
            vmAssist.bitwiseAnd(~(1 << type), ordering: .relaxed)
        }
        return 0
    }

    /// `iret` (23): returns from an exception or event frame. Never "returns": it loads a whole new
    /// register state from `struct iret_context` at the guest's RSP.
    func iret(_ vcpu: VCPU, _ regs: inout CPURegisters) -> VCPUAction {
        var frame = [UInt64](repeating: 0, count: IretContextLayout.size / 8)
        let ok = frame.withUnsafeMutableBytes { raw -> Bool in
            do throws(XenErrno) { try vcpu.addressSpace.copyFromGuest(regs.rsp, into: raw); return true } catch { return false }
        }
        guard ok else {
            crash(CrashReport(cause: .fatalExit("iret: the frame at rsp 0x\(String(regs.rsp, radix: 16)) is unreadable"), vcpu: vcpu.id, registers: regs))
            return .stop
        }
        let rax = frame[0], r11 = frame[1], rcx = frame[2], flags = frame[3]
        let rip = frame[4], cs = frame[5], rflags = frame[6], rsp = frame[7]
        if cs & 3 == 3 && vcpu.pv.kernelMode {
            // Returning to user mode needs a user page table (MMUEXT_NEW_USER_BASEPTR), as on Xen.
            guard vcpu.pv.userL4 != 0 else {
                crash(CrashReport(cause: .fatalExit("iret to user mode (cs 0x\(String(cs, radix: 16))) without a user page table"), vcpu: vcpu.id, registers: regs))
                return .stop
            }
            toggleGuestMode(vcpu)
        }
        regs.rip = rip
        regs.rsp = rsp
        regs.rflags = (rflags & 0x3f_7fd5 & ~0x2_3000) | 0x202        // architectural bits, no IOPL/VM, IF on
        vcpu.setEventsMasked(rflags & 0x200 == 0)
        regs.rax = rax
        if flags & IretContextLayout.inSyscall != 0 {
            regs.rcx = rip
            regs.r11 = regs.rflags
        } else {
            regs.rcx = rcx
            regs.r11 = r11
        }
        return .resume
    }
}
