import CKVM
import Glibc
import HyperABI
import Hypervisor

extension KVMVCPU {
    /// The vCPU exit loop: enter the guest, handle the exit, repeat until the domain ends.
    /// Hypercalls (doorbell MMIO) are the hot path: registers move through KVM's synced area,
    /// nothing is allocated and no lock is taken.
    func runLoop() {
        let domain = vcpu.domain
        var regs = CPURegisters()
        while !vcpu.stopRequested.load(ordering: .acquiring) {
            let rc = ckvm_run(fd)
            vcpu.exits.add(1, ordering: .relaxed)
            if rc < 0 {
                if rc == -EINTR || rc == -EAGAIN {
                    ckvm_clear_immediate_exit(run)   // a kick: look at stopRequested again
                    continue
                }
                loadRegisters(&regs)
                let why = rc == -EFAULT
                    ? "KVM_RUN failed with EFAULT: the guest touched guest-physical memory that is not its own"
                    : "KVM_RUN failed: \(HypervisorError.hostErrnoName(-rc))"
                _ = domain.fatalExit(vcpu, why, registers: regs)
                return
            }
            let action: VCPUAction
            switch ckvm_exit_reason(run) {
            case UInt32(KVM_EXIT_MMIO) where ckvm_mmio_address(run) == StubRegion.doorbellGPA && ckvm_mmio_is_write(run) != 0:
                loadRegisters(&regs)
                action = domain.hypercall(vcpu, &regs)
                storeRegisters(regs)
            case UInt32(KVM_EXIT_IO) where ckvm_io_port(run) == StubRegion.exceptionPort:
                loadRegisters(&regs)
                action = exception(regs)
            case UInt32(KVM_EXIT_INTR):
                continue
            case let reason:
                loadRegisters(&regs)
                action = domain.fatalExit(vcpu, abnormalExit(reason), registers: regs)
            }
            if case .stop = action { return }
        }
    }

    /// Why an exit other than a hypercall, an exception or a kick can only mean a broken guest.
    private func abnormalExit(_ reason: UInt32) -> String {
        switch reason {
        case UInt32(KVM_EXIT_MMIO): "access to guest-physical 0x\(String(ckvm_mmio_address(run), radix: 16)), which has no memory"
        case UInt32(KVM_EXIT_IO): "port I/O to 0x\(String(ckvm_io_port(run), radix: 16)) from ring 0"
        case UInt32(KVM_EXIT_SHUTDOWN): "triple fault (the CPU shut down)"
        case UInt32(KVM_EXIT_HLT): "hlt executed in ring 0"
        case UInt32(KVM_EXIT_INTERNAL_ERROR): "KVM internal error, suberror \(ckvm_internal_suberror(run))"
        case UInt32(KVM_EXIT_FAIL_ENTRY): "VM entry failed, hardware reason 0x\(String(ckvm_fail_entry_reason(run), radix: 16))"
        default: "unexpected KVM exit reason \(reason)"
        }
    }

    /// An exception delivered through the stub: read its frame from the ring-0 stack.
    private func exception(_ regs: CPURegisters) -> VCPUAction {
        guard let offset = StubRegion.stackOffset(regs.rsp, count: 56) else {
            return vcpu.domain.fatalExit(vcpu, "exception exit with the ring-0 stack pointer at 0x\(String(regs.rsp, radix: 16))", registers: regs)
        }
        let w = vm.stub.words(at: offset, count: 7)
        let frame = ExceptionFrame(vector: UInt8(truncatingIfNeeded: w[0]), errorCode: w[1], rip: w[2], cs: w[3],
                                   rflags: w[4], rsp: w[5], ss: w[6])
        var sregs = kvm_sregs()
        let cr2 = ckvm_get_sregs(fd, &sregs) == 0 ? sregs.cr2 : 0
        return vcpu.domain.exception(vcpu, frame, cr2: cr2, registers: regs)
    }

    @inline(__always) private func loadRegisters(_ r: inout CPURegisters) {
        let k = ckvm_sync_regs(run)!.pointee
        r.rax = k.rax; r.rbx = k.rbx; r.rcx = k.rcx; r.rdx = k.rdx
        r.rsi = k.rsi; r.rdi = k.rdi; r.rsp = k.rsp; r.rbp = k.rbp
        r.r8 = k.r8; r.r9 = k.r9; r.r10 = k.r10; r.r11 = k.r11
        r.r12 = k.r12; r.r13 = k.r13; r.r14 = k.r14; r.r15 = k.r15
        r.rip = k.rip; r.rflags = k.rflags
    }

    /// Writes back what a hypercall changes (result, return address, flags) and marks it dirty.
    @inline(__always) private func storeRegisters(_ r: CPURegisters) {
        let k = ckvm_sync_regs(run)!
        k.pointee.rax = r.rax
        k.pointee.rip = r.rip
        k.pointee.rflags = r.rflags
        ckvm_mark_regs_dirty(run)
    }
}
