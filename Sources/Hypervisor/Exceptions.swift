import HyperABI

extension Domain {
    /// An exception raised while the guest ran, delivered by the platform's ring-0 stub.
    /// There is no trap table yet, so every guest exception ends the domain with a report;
    /// a fault inside the stub itself is a double fault.
    public func exception(_ vcpu: VCPU, _ frame: ExceptionFrame, cr2: UInt64, registers: CPURegisters) -> VCPUAction {
        let cause: CrashReport.Cause = frame.fromGuest
            ? .exception(frame, cr2: cr2)
            : .nestedFault(frame, cr2: cr2)
        var regs = registers
        if frame.fromGuest {
            // Show the guest's own rip/rsp/rflags, not the stub's.
            regs.rip = frame.rip
            regs.rsp = frame.rsp
            regs.rflags = frame.rflags
        }
        crash(CrashReport(cause: cause, vcpu: vcpu.id, registers: regs))
        return .stop
    }

    /// The VM stopped in a way only a broken or hostile guest causes.
    public func fatalExit(_ vcpu: VCPU, _ why: String, registers: CPURegisters) -> VCPUAction {
        crash(CrashReport(cause: .fatalExit(why), vcpu: vcpu.id, registers: registers))
        return .stop
    }
}
