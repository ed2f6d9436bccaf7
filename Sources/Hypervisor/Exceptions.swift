import HyperABI

/// What the platform does after the core handled an exception.
public enum TrapResult: Sendable {
    /// Resume the guest with these registers (its RIP, RSP, RFLAGS and GPRs, possibly at a handler).
    case resume(CPURegisters)
    /// The domain ended.
    case stop
}

extension Domain {
    /// An exception raised while the guest ran, delivered by the platform's ring-0 stub.
    /// Privileged instructions Xen emulates are emulated; software interrupts and exceptions go to the
    /// guest's trap table with Xen's bounce frame; anything without a handler ends the domain, and so
    /// does a fault inside the stub itself or while building the frame (double-fault semantics).
    public func exception(_ vcpu: VCPU, _ frame: ExceptionFrame, cr2: UInt64, registers: CPURegisters) -> TrapResult {
        var regs = registers
        regs.rip = frame.rip
        regs.rsp = frame.rsp
        regs.rflags = frame.rflags
        guard frame.fromGuest, frame.vector != 8 else {
            crash(CrashReport(cause: .nestedFault(frame, cr2: cr2), vcpu: vcpu.id, registers: registers))
            return .stop
        }
        var vector = frame.vector
        var errorCode: UInt64? = ExceptionVector.hasErrorCode(vector) ? frame.errorCode : nil
        // `int n` through a DPL 0 gate is architecturally #GP((n << 3) | 2); this KVM raises #UD instead.
        // Either way it is a software interrupt the guest's trap_info may allow.
        var softwareInterrupt: UInt8? = nil
        if vector == 13 && frame.errorCode & 7 == 2 {
            softwareInterrupt = UInt8(truncatingIfNeeded: frame.errorCode >> 3)
        } else if vector == 6, let insn = DecodedInstruction.decode(instructionBytes(vcpu, at: regs.rip)),
                  case .int(let n) = insn.kind {
            softwareInterrupt = n
        }
        if let n = softwareInterrupt {
            // From the guest kernel a trap_info DPL of 1 or more allows `int n`; from user mode only DPL 3.
            let minimumDPL: UInt8 = vcpu.pv.kernelMode ? 1 : 3
            if vcpu.pv.trapTable[Int(n)].address != 0, vcpu.pv.trapTable[Int(n)].dpl >= minimumDPL,
               let length = instructionLength(vcpu, at: regs.rip) {
                regs.rip &+= UInt64(length)
                vector = n
                errorCode = nil
            } else {
                vector = 13
                errorCode = UInt64(n) << 3 | 2
            }
        }
        switch vector {
        case _ where softwareInterrupt != nil:
            break
        case 13 where frame.errorCode == 0, 6:
            switch emulatePrivileged(vcpu, &regs, invalidOpcode: vector == 6) {
            case .resumed: return deliverEvents(vcpu, &regs) ? .resume(regs) : .stop
            case .blocked: return block(vcpu, parkedAs: regs) && deliverEvents(vcpu, &regs) ? .resume(regs) : .stop
            case .bounce(let v, let e): vector = v; errorCode = e
            }
        case 14 where emulatePageTableWrite(vcpu, &regs, address: cr2, errorCode: frame.errorCode):
            return deliverEvents(vcpu, &regs) ? .resume(regs) : .stop
        case 14:
            // The guest reads CR2 from vcpu_info.arch.cr2; U/S says whether the guest was in user mode.
            let info = vcpu.vcpuInfo
            memory.writeWord(mfn: info.mfn, offset: info.offset + VCPUInfoLayout.cr2, cr2)
            errorCode = (frame.errorCode & ~4) | (vcpu.pv.kernelMode ? 0 : 4)
        default:
            break
        }
        let entry = vcpu.pv.trapTable[Int(vector)]
        guard entry.address != 0 else {
            var shown = frame
            shown.vector = vector
            crash(CrashReport(cause: .exception(shown, cr2: cr2), vcpu: vcpu.id, registers: regs))
            return .stop
        }
        do {
            try bounce(vcpu, &regs, to: entry.address, errorCode: errorCode, maskEvents: entry.disablesEvents)
        } catch {
            crash(CrashReport(cause: .nestedFault(frame, cr2: cr2), vcpu: vcpu.id, registers: regs))
            return .stop
        }
        return .resume(regs)
    }

    /// The VM stopped in a way only a broken or hostile guest causes.
    public func fatalExit(_ vcpu: VCPU, _ why: String, registers: CPURegisters) -> VCPUAction {
        crash(CrashReport(cause: .fatalExit(why), vcpu: vcpu.id, registers: registers))
        return .stop
    }
}
