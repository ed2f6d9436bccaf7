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
        guard domain.vcpuWillRun(vcpu) else { return }
        // A vCPU started by VCPUOP_initialise brings segment bases (and maybe more) to load first.
        if !vcpu.pv.dirty.isEmpty, !applyArchState() { return }
        // Taken down (or preempted) before it first ran: a kick sent before the thread existed was lost.
        if vcpu.preemptRequested.load(ordering: .relaxed), !yieldCPU(&regs) { return }
        while !vcpu.stopRequested.load(ordering: .acquiring) {
            let rc = ckvm_run(fd)
            vcpu.exits.add(1, ordering: .relaxed)
            let action: VCPUAction
            if rc < 0 {
                guard rc == -EINTR || rc == -EAGAIN else {
                    loadRegisters(&regs)
                    let why = rc == -EFAULT
                        ? "KVM_RUN failed with EFAULT: the guest touched guest-physical memory that is not its own"
                        : "KVM_RUN failed: \(HypervisorError.hostErrnoName(-rc))"
                    _ = domain.fatalExit(vcpu, why, registers: regs)
                    return
                }
                // A kick: an event to deliver, or a stop. Inside our stub or trampoline, wait for the next exit.
                ckvm_clear_immediate_exit(run)
                loadRegisters(&regs)
                guard !StubRegion.isHypervisorAddress(regs.rip) else { continue }
                action = domain.interrupted(vcpu, &regs)
                storeRegisters(regs)
            } else {
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
            }
            if case .stop = action { return }
            if !vcpu.pv.dirty.isEmpty, !applyArchState() { return }
            if vcpu.preemptRequested.load(ordering: .relaxed), !yieldCPU(&regs) { return }
        }
    }

    /// The credit scheduler wants this physical CPU for someone else, or the vCPU went down or its domain
    /// was paused: leave the registers (current in the synced area) where tools and save read them, then
    /// queue or sleep. False: the domain is ending.
    private func yieldCPU(_ regs: inout CPURegisters) -> Bool {
        loadRegisters(&regs)
        vcpu.willPark(regs)
        return vcpu.domain.preempted(vcpu)
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

    /// An exception delivered through the stub: read its frame from the ring-0 stack, let the core decide,
    /// and resume through the stub's `iretq` with the frame rewritten to where the guest continues.
    private func exception(_ regs: CPURegisters) -> VCPUAction {
        guard let offset = StubRegion.stackOffset(regs.rsp, count: 56, vcpu: vcpu.id) else {
            return vcpu.domain.fatalExit(vcpu, "exception exit with the ring-0 stack pointer at 0x\(String(regs.rsp, radix: 16))", registers: regs)
        }
        let w = vm.stub.words(at: offset, count: 7)
        let frame = ExceptionFrame(vector: UInt8(truncatingIfNeeded: w[0]), errorCode: w[1], rip: w[2], cs: w[3],
                                   rflags: w[4], rsp: w[5], ss: w[6])
        var sregs = kvm_sregs()
        let cr2 = frame.vector == 14 && ckvm_get_sregs(fd, &sregs) == 0 ? sregs.cr2 : 0
        guard case .resume(let guest) = vcpu.domain.exception(vcpu, frame, cr2: cr2, registers: regs) else { return .stop }
        // The stub pops vector and error code, then `iretq` takes RIP, CS, RFLAGS, RSP, SS from here.
        vm.stub.store([guest.rip, UInt64(PVLayout.flatKernelCS), guest.rflags, guest.rsp, UInt64(PVLayout.flatKernelSS)],
                      at: offset + 16)
        var stub = guest
        stub.rip = regs.rip
        stub.rsp = regs.rsp
        stub.rflags = regs.rflags
        storeRegisters(stub)
        return .resume
    }

    /// Loads what the core changed into the real vCPU: segment bases, CR0.TS, the pvclock location,
    /// and fresh translations after a page-table write. False if KVM refused (the domain is ended).
    private func applyArchState() -> Bool {
        let dirty = vcpu.pv.dirty
        vcpu.clearArchDirty()
        var failure: String? = nil
        if !dirty.isDisjoint(with: [.segmentBases, .taskSwitched]) {
            let pv = vcpu.pv
            let r = ckvm_set_pv_segments(fd, pv.fsBase, pv.activeGSBase, pv.shadowGSBase, pv.taskSwitched ? 1 : 0)
            if r < 0 { failure = "loading segment bases: \(HypervisorError.hostErrnoName(-r))" }
        }
        if dirty.contains(.baseTable) {
            let r = ckvm_set_cr3(fd, vcpu.currentL4 << 12)
            if r < 0 { failure = "loading a new page-table base: \(HypervisorError.hostErrnoName(-r))" }
        }
        if dirty.contains(.timeArea) {
            let r = ckvm_set_pvclock(fd, vcpu.timeAreaAddress)
            if r < 0 { failure = "moving the pvclock: \(HypervisorError.hostErrnoName(-r))" }
        }
        if dirty.contains(.descriptorTables) {
            vm.mapGuestGDT(vcpu.pv.gdtFrames, vcpu: vcpu.id)
        }
        if !dirty.isDisjoint(with: [.translations, .descriptorTables]) {
            let r = ckvm_zap_translations(vm.fd, StubRegion.zapGPA, vm.stub.base)
            if r < 0 { failure = "dropping stale translations: \(HypervisorError.hostErrnoName(-r))" }
        }
        guard let failure else { return true }
        var regs = CPURegisters()
        loadRegisters(&regs)
        _ = vcpu.domain.fatalExit(vcpu, failure, registers: regs)
        return false
    }

    @inline(__always) func loadRegisters(_ r: inout CPURegisters) {
        let k = ckvm_sync_regs(run)!.pointee
        r.rax = k.rax; r.rbx = k.rbx; r.rcx = k.rcx; r.rdx = k.rdx
        r.rsi = k.rsi; r.rdi = k.rdi; r.rsp = k.rsp; r.rbp = k.rbp
        r.r8 = k.r8; r.r9 = k.r9; r.r10 = k.r10; r.r11 = k.r11
        r.r12 = k.r12; r.r13 = k.r13; r.r14 = k.r14; r.r15 = k.r15
        r.rip = k.rip; r.rflags = k.rflags
    }

    /// Writes every register back through the synced area and marks it dirty (an `iret` or an event
    /// bounce changes RSP, RCX, R11 … not only the result).
    @inline(__always) func storeRegisters(_ r: CPURegisters) {
        let k = ckvm_sync_regs(run)!
        k.pointee.rax = r.rax; k.pointee.rbx = r.rbx; k.pointee.rcx = r.rcx; k.pointee.rdx = r.rdx
        k.pointee.rsi = r.rsi; k.pointee.rdi = r.rdi; k.pointee.rsp = r.rsp; k.pointee.rbp = r.rbp
        k.pointee.r8 = r.r8; k.pointee.r9 = r.r9; k.pointee.r10 = r.r10; k.pointee.r11 = r.r11
        k.pointee.r12 = r.r12; k.pointee.r13 = r.r13; k.pointee.r14 = r.r14; k.pointee.r15 = r.r15
        k.pointee.rip = r.rip; k.pointee.rflags = r.rflags
        ckvm_mark_regs_dirty(run)
    }
}
