/// What the privileged-instruction emulator needs from the faulting vCPU and its domain.
///
/// The emulator only decodes operands and moves values between registers, ports and memory;
/// every policy decision (which MSRs exist, what CPUID says, which ports the domain may touch,
/// how a CR3 write validates) belongs to the context.
public protocol PrivilegedContext {
    /// Whether the domain asked for trap-and-emulate of cli/sti/hlt (`privileged = "emulate"`).
    var emulateAll: Bool { get }
    /// The guest's virtual interrupt flag: `!vcpu_info.evtchn_upcall_mask`.
    var virtualInterruptsEnabled: Bool { get set }
    /// The value of MSR `index`, or nil when the guest may not read it (→ #GP(0)).
    mutating func readMSR(_ index: UInt32) -> UInt64?
    /// Writes MSR `index`; false when the write is refused (→ #GP(0)).
    mutating func writeMSR(_ index: UInt32, _ value: UInt64) -> Bool
    /// The guest's CPUID policy for (leaf, subleaf).
    func cpuid(leaf: UInt32, subleaf: UInt32) -> (eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32)
    /// The guest's view of control register `n`, or nil when it may not read it (→ #GP(0)).
    func readCR(_ n: Int) -> UInt64?
    /// Writes control register `n`; false when the value is refused (→ #GP(0)).
    mutating func writeCR(_ n: Int, _ value: UInt64) -> Bool
    /// Reads `size` (1, 2 or 4) bytes from I/O port `port`. The context decides access;
    /// a port the domain may not read reads as all ones.
    mutating func readPort(_ port: UInt16, size: Int) -> UInt32
    /// Writes the low `size` bytes of `value` to I/O port `port` (dropped when not permitted).
    mutating func writePort(_ port: UInt16, size: Int, value: UInt32)
    /// Reads guest-virtual memory with the guest kernel's rights; nil when any byte is
    /// inaccessible (the emulator then returns `.fault`).
    func readGuest(_ va: UInt64, count: Int) -> [UInt8]?
    /// Writes guest-virtual memory; false when any byte is inaccessible (→ `.fault`).
    mutating func writeGuest(_ va: UInt64, _ bytes: [UInt8]) -> Bool
    /// The guest's time-stamp counter.
    func tsc() -> UInt64
}

/// How an emulation attempt ended.
public enum EmulationResult: Equatable, Sendable {
    /// Registers updated and RIP advanced by the instruction's exact length. (For a REP INS/OUTS
    /// stopped after `PrivilegedEmulator.maxRepetitionsPerExit` iterations, RCX/RSI/RDI show the
    /// progress and RIP is left on the instruction, so the guest re-executes it and continues.)
    case emulated
    /// `hlt` under `emulateAll`: RIP advanced; the caller blocks the vCPU (SCHEDOP_block semantics).
    case block
    /// Bounce #GP with this error code to the guest; RIP unchanged.
    case generalProtection(errorCode: UInt64)
    /// Bounce #UD to the guest; RIP unchanged.
    case invalidOpcode
    /// A guest memory access failed; RIP unchanged (iterations of a REP string instruction that
    /// completed before the failure stay in RCX/RSI/RDI). The caller decides what to inject.
    case fault
}

/// Emulation of the privileged instructions a PV guest kernel executes at CPL 3, following Xen's
/// `xen/arch/x86/pv/emul-priv-op.c` (and `emul-inv-op.c` for the forced-emulation prefix).
public enum PrivilegedEmulator {
    /// REP INS/OUTS iterations done per exit before the instruction is restarted, so a huge RCX
    /// cannot hold the vCPU thread (Xen likewise bounds the work per emulation).
    public static let maxRepetitionsPerExit = 4096

    /// Emulates `insn`, the instruction at `registers.rip`, on behalf of the guest kernel.
    /// On `.emulated` and `.block` RIP has moved past the instruction; on every other result RIP
    /// is unchanged.
    public static func emulate<C: PrivilegedContext>(
        _ insn: DecodedInstruction, registers: inout CPURegisters, context: inout C
    ) -> EmulationResult {
        switch step(insn, &registers, &context) {
        case .done:
            registers.rip &+= UInt64(insn.length)
            return .emulated
        case .doneAndBlock:
            registers.rip &+= UInt64(insn.length)
            return .block
        case .restart:
            return .emulated
        case .bounce(let result):
            return result
        }
    }

    private enum Step {
        case done, doneAndBlock, restart
        case bounce(EmulationResult)
    }

    private static let gp0 = Step.bounce(.generalProtection(errorCode: 0))
    /// CR0.TS, the only bit `clts` clears.
    private static let cr0TS: UInt64 = 1 << 3
    /// RFLAGS.DF: string instructions walk down when set.
    private static let directionFlag: UInt64 = 1 << 10
    /// Control registers that exist in 64-bit mode; any other number is #UD on hardware.
    private static let existingCRs: Set<Int> = [0, 2, 3, 4, 8]

    private static func step<C: PrivilegedContext>(
        _ insn: DecodedInstruction, _ r: inout CPURegisters, _ context: inout C
    ) -> Step {
        switch insn.kind {
        /// Xen: MSR index in ECX; FS/GS/shadow-GS bases come from the vCPU's saved state, EFER and a
        /// few others from filtered host values, the rest from the domain's MSR policy; an MSR
        /// outside the policy raises #GP(0). EAX/EDX receive the low/high halves (zero-extended).
        case .rdmsr:
            guard let value = context.readMSR(UInt32(truncatingIfNeeded: r.rcx)) else { return gp0 }
            r.rax = value & 0xFFFF_FFFF
            r.rdx = value >> 32
            return .done

        /// Xen: value EDX:EAX to the MSR in ECX; base MSRs must be canonical, EFER may only be
        /// rewritten with its current value, others per policy; a refused write raises #GP(0).
        case .wrmsr:
            let value = (r.rdx & 0xFFFF_FFFF) << 32 | (r.rax & 0xFFFF_FFFF)
            guard context.writeMSR(UInt32(truncatingIfNeeded: r.rcx), value) else { return gp0 }
            return .done

        /// Xen: leaf EAX, subleaf ECX answered from the domain's CPUID policy (guest_cpuid), with
        /// Xen's own leaves at 0x40000000; all four registers written zero-extended.
        /// Forced emulation (`ud2; .ascii "xen"; cpuid`, arriving as #UD) is the same CPUID and
        /// skips all 7 bytes; it is how a PV guest reaches the policy when CPUID itself does not fault.
        case .cpuid, .forcedEmulationCPUID:
            let leaf = context.cpuid(leaf: UInt32(truncatingIfNeeded: r.rax),
                                     subleaf: UInt32(truncatingIfNeeded: r.rcx))
            r.rax = UInt64(leaf.eax)
            r.rbx = UInt64(leaf.ebx)
            r.rcx = UInt64(leaf.ecx)
            r.rdx = UInt64(leaf.edx)
            return .done

        /// Xen: only reached when CR4.TSD makes RDTSC fault (a TSC mode that emulates it);
        /// EDX:EAX = the guest's TSC.
        case .rdtsc:
            let t = context.tsc()
            r.rax = t & 0xFFFF_FFFF
            r.rdx = t >> 32
            return .done

        /// Xen: as RDTSC, plus ECX = TSC_AUX (which this hypervisor reports as 0).
        case .rdtscp:
            let t = context.tsc()
            r.rax = t & 0xFFFF_FFFF
            r.rdx = t >> 32
            r.rcx = 0
            return .done

        /// Xen: emulated only with its virtual PMU enabled for the domain; there is none here: #GP(0).
        case .rdpmc:
            return gp0

        /// Xen: CR0 (with the virtual TS), CR2 (the last #PF address), CR3 (the kernel L4's MFN << 12),
        /// CR4 (the guest's view) are readable; the full 64-bit GPR is written.
        /// A CR number that does not exist is #UD, as on hardware.
        case .movFromCR(let cr, let gpr):
            guard existingCRs.contains(cr) else { return .bounce(.invalidOpcode) }
            guard let value = context.readCR(cr) else { return gp0 }
            r[encoding: gpr] = value
            return .done

        /// Xen: CR0 writes may change only TS (= fpu_taskswitch), CR3 writes are NEW_BASEPTR,
        /// CR4 writes are filtered; a refused value raises #GP(0).
        case .movToCR(let cr, let gpr):
            guard existingCRs.contains(cr) else { return .bounce(.invalidOpcode) }
            guard context.writeCR(cr, r[encoding: gpr]) else { return gp0 }
            return .done

        /// Xen emulates the debug registers (validated like `set_debugreg`); they are not
        /// virtualised here, so DR0–DR7 bounce #GP(0). DR8–DR15 do not exist: #UD.
        case .movFromDR(let dr, _), .movToDR(let dr, _):
            return dr > 7 ? .bounce(.invalidOpcode) : gp0

        /// Xen: `clts` is fpu_taskswitch(0): CR0 := CR0 & ~TS through the context's CR0.
        case .clts:
            guard let cr0 = context.readCR(0), context.writeCR(0, cr0 & ~cr0TS) else { return gp0 }
            return .done

        /// Xen: WBINVD (and INVD, which it never executes as such, to lose no data) flushes caches
        /// only for a domain with cache-flush permission, otherwise it is ignored. Here: a no-op.
        case .wbinvd, .invd:
            return .done

        /// Xen validates the new XCR0 against the domain's policy; not supported here: #GP(0).
        case .xsetbv:
            return gp0

        /// Xen does not emulate HLT for PV (guests yield with SCHEDOP_block): #GP(0).
        /// With `emulateAll` it is accepted and the vCPU blocks as with SCHEDOP_block.
        case .hlt:
            return context.emulateAll ? .doneAndBlock : gp0

        /// Xen treats CLI/STI as no-ops when the virtual IOPL allows them, else #GP; PV kernels use
        /// `evtchn_upcall_mask` instead. With `emulateAll` they set the virtual interrupt flag;
        /// otherwise #GP(0).
        case .cli, .sti:
            guard context.emulateAll else { return gp0 }
            context.virtualInterruptsEnabled = insn.kind == .sti
            return .done

        /// Xen: IN from a port allowed by the virtual IOPL / I/O bitmap and the domain's I/O
        /// permissions; a denied port reads as all ones (here the context decides). 32-bit results
        /// zero-extend RAX; 8- and 16-bit results keep the rest of RAX.
        case .inImmediate(let port, let size):
            return input(port: UInt16(port), size: size, &r, &context)
        case .inDX(let size):
            return input(port: UInt16(truncatingIfNeeded: r.rdx), size: size, &r, &context)

        /// Xen: OUT with the same access rules as IN; a denied write is dropped.
        case .outImmediate(let port, let size):
            return output(port: UInt16(port), size: size, &r, &context)
        case .outDX(let size):
            return output(port: UInt16(truncatingIfNeeded: r.rdx), size: size, &r, &context)

        /// Xen: INS/OUTS through its rep_ins/rep_outs hooks: port DX, memory ES:[RDI] / seg:[RSI],
        /// stepping by ±size with DF, RCX times under REP (ECX/ESI/EDI with a 67 prefix).
        case .ins(let size):
            return string(insn, input: true, size: size, &r, &context)
        case .outs(let size):
            return string(insn, input: false, size: size, &r, &context)

        /// Xen never emulates descriptor-table or task-register loads, LMSW, INVLPG, SWAPGS,
        /// SYSRET or SYSEXIT for a PV guest: it has set_gdt, MMUEXT_SET_LDT, fpu_taskswitch,
        /// MMUEXT_INVLPG and the iret hypercall instead, and Xen does SWAPGS itself. #GP(0).
        case .lgdt, .lidt, .lldt, .ltr, .lmsw, .invlpg, .swapgs, .sysret, .sysexit:
            return gp0

        /// VMX, SVM, MONITOR/MWAIT, CLAC/STAC, INVEPT/INVVPID/INVPCID: not emulated by Xen for PV. #GP(0).
        case .other:
            return gp0

        /// `int n` through a gate whose DPL is below the guest's CPL arrives as #GP with error code
        /// (n << 3) | 2 (IDT bit). Xen's do_general_protection then delivers it as a software interrupt
        /// if the guest's trap table allows (RIP past the instruction), else bounces the #GP;
        /// that is the caller's job, so it is returned as a #GP with that error code.
        case .int(let vector):
            return .bounce(.generalProtection(errorCode: UInt64(vector) << 3 | 2))
        }
    }

    private static func portMask(_ size: Int) -> UInt32 {
        size == 4 ? .max : (1 << UInt32(size * 8)) - 1
    }

    private static func input<C: PrivilegedContext>(
        port: UInt16, size: Int, _ r: inout CPURegisters, _ context: inout C
    ) -> Step {
        guard size == 1 || size == 2 || size == 4 else { return gp0 }
        let value = UInt64(context.readPort(port, size: size) & portMask(size))
        switch size {
        case 4: r.rax = value
        case 2: r.rax = r.rax & ~0xFFFF | value
        default: r.rax = r.rax & ~0xFF | value
        }
        return .done
    }

    private static func output<C: PrivilegedContext>(
        port: UInt16, size: Int, _ r: inout CPURegisters, _ context: inout C
    ) -> Step {
        guard size == 1 || size == 2 || size == 4 else { return gp0 }
        context.writePort(port, size: size, value: UInt32(truncatingIfNeeded: r.rax) & portMask(size))
        return .done
    }

    /// INS (`input`) or OUTS, with or without REP. Registers are committed after every completed
    /// iteration, so a fault part-way leaves exactly the hardware-visible progress.
    private static func string<C: PrivilegedContext>(
        _ insn: DecodedInstruction, input: Bool, size: Int, _ r: inout CPURegisters, _ context: inout C
    ) -> Step {
        guard size == 1 || size == 2 || size == 4 else { return gp0 }
        // In 64-bit mode only FS and GS overrides have a base, and the context exposes no segment
        // bases: such an OUTS is not emulated. (INS always writes ES:[RDI]; ES has base 0.)
        if !input, let segment = insn.segmentOverride, segment == 0x64 || segment == 0x65 { return gp0 }

        let mask: UInt64 = insn.addressSize == 4 ? 0xFFFF_FFFF : .max
        let stride = UInt64(size)
        let delta = r.rflags & directionFlag != 0 ? 0 &- stride : stride
        var remaining = insn.rep ? r.rcx & mask : 1
        var index = input ? r.rdi : r.rsi

        func commit(_ index: UInt64, _ r: inout CPURegisters) {
            if input { r.rdi = index } else { r.rsi = index }
        }

        if remaining == 0 {
            // Nothing to do, but 32-bit addressing in 64-bit mode still zero-extends RCX and the
            // index register (what the hardware, and Xen's emulator, do).
            r.rcx = 0
            commit(index & mask, &r)
            return .done
        }

        var iterations = 0
        while remaining > 0 {
            if iterations == maxRepetitionsPerExit { return .restart }
            let port = UInt16(truncatingIfNeeded: r.rdx)
            let address = index & mask
            if input {
                let value = context.readPort(port, size: size)
                let bytes = (0..<size).map { UInt8(truncatingIfNeeded: value >> UInt32($0 * 8)) }
                guard context.writeGuest(address, bytes) else { return .bounce(.fault) }
            } else {
                guard let bytes = context.readGuest(address, count: size), bytes.count == size else {
                    return .bounce(.fault)
                }
                let value = bytes.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << UInt32($1.offset * 8) }
                context.writePort(port, size: size, value: value)
            }
            index = (index &+ delta) & mask
            commit(index, &r)
            remaining -= 1
            if insn.rep { r.rcx = remaining }
            iterations += 1
        }
        return .done
    }
}
