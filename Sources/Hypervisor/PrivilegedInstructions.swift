import HyperABI

/// What became of a privileged instruction the guest executed.
enum PrivilegedOutcome {
    /// Emulated: registers updated, RIP past the instruction.
    case resumed
    /// `hlt` in trap-and-emulate mode: block the vCPU (RIP already past it).
    case blocked
    /// Not emulated: deliver this exception to the guest.
    case bounce(vector: UInt8, errorCode: UInt64?)
}

extension Domain {
    /// Fetches up to 15 instruction bytes at `rip` (fewer at the end of the mapped range).
    func instructionBytes(_ vcpu: VCPU, at rip: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        let space = vcpu.addressSpace
        for i in 0..<15 {
            guard case .success(let t) = space.translate(rip &+ UInt64(i), write: false) else { break }
            bytes.append(memory.loadByte(mfn: t.mfn, offset: t.offset))
        }
        return bytes
    }

    /// Exact length of the instruction at `rip`, if it decodes.
    func instructionLength(_ vcpu: VCPU, at rip: UInt64) -> Int? {
        DecodedInstruction.decode(instructionBytes(vcpu, at: rip))?.length
    }

    /// Emulates what Xen emulates for a PV guest kernel (and, with `privileged = "emulate"`, cli/sti/hlt);
    /// everything else is bounced as #GP (or #UD for an invalid opcode).
    func emulatePrivileged(_ vcpu: VCPU, _ regs: inout CPURegisters, invalidOpcode: Bool) -> PrivilegedOutcome {
        let fallback = PrivilegedOutcome.bounce(vector: invalidOpcode ? 6 : 13, errorCode: invalidOpcode ? nil : 0)
        // Only the guest kernel gets Xen's emulation; guest user mode gets the plain exception.
        guard vcpu.pv.kernelMode else { return fallback }
        guard let insn = DecodedInstruction.decode(instructionBytes(vcpu, at: regs.rip)) else { return fallback }
        // #UD reaches us only for Xen's forced-emulation prefix (ud2; "xen"; cpuid).
        if invalidOpcode && insn.kind != .forcedEmulationCPUID { return fallback }
        var context = GuestPrivilegedContext(domain: self, vcpu: vcpu)
        switch PrivilegedEmulator.emulate(insn, registers: &regs, context: &context) {
        case .emulated: return .resumed
        case .block: return .blocked
        case .generalProtection(let e): return .bounce(vector: 13, errorCode: e)
        case .invalidOpcode: return .bounce(vector: 6, errorCode: nil)
        case .fault: return .bounce(vector: 13, errorCode: 0)
        }
    }
}

/// The hypervisor's side of privileged-instruction emulation for one vCPU (Xen's emul-priv-op policy).
struct GuestPrivilegedContext: PrivilegedContext {
    let domain: Domain
    let vcpu: VCPU
    static let policy = CPUIDPolicy()

    var emulateAll: Bool { domain.emulatePrivileged }

    var virtualInterruptsEnabled: Bool {
        get { !vcpu.eventsMasked }
        set { vcpu.setEventsMasked(!newValue) }
    }

    mutating func readMSR(_ index: UInt32) -> UInt64? {
        switch index {
        case SegmentMSR.fsBase: vcpu.pv.fsBase
        case SegmentMSR.gsBase: vcpu.pv.gsBaseKernel            // the active GS (emulated in kernel mode only)
        case SegmentMSR.shadowGSBase: vcpu.pv.gsBaseUser
        case SegmentMSR.efer: 0xd01                             // SCE | LME | LMA | NXE
        default: nil
        }
    }

    mutating func writeMSR(_ index: UInt32, _ value: UInt64) -> Bool {
        switch index {
        case SegmentMSR.fsBase, SegmentMSR.gsBase, SegmentMSR.shadowGSBase:
            guard PVLayout.isCanonical(value) else { return false }
            if index == SegmentMSR.fsBase { vcpu.pv.fsBase = value }
            else if index == SegmentMSR.gsBase { vcpu.pv.gsBaseKernel = value }
            else { vcpu.pv.gsBaseUser = value }
            vcpu.pv.dirty.insert(.segmentBases)
            return true
        case SegmentMSR.efer:
            return value == 0xd01                               // writing the same value is allowed
        default:
            return false
        }
    }

    func cpuid(leaf: UInt32, subleaf: UInt32) -> (eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32) {
        GuestPrivilegedContext.policy.query(leaf: leaf, subleaf: subleaf)
    }

    func readCR(_ n: Int) -> UInt64? {
        switch n {
        case 0: 0x8005_0033 | (vcpu.pv.taskSwitched ? 0x8 : 0)
        case 2:
            domain.memory.readWord(mfn: vcpu.vcpuInfo.mfn, offset: vcpu.vcpuInfo.offset + VCPUInfoLayout.cr2)
        case 3: vcpu.context.kernelL4 << 12
        case 4: 0x620                                            // PAE | OSFXSR | OSXMMEXCPT
        default: nil
        }
    }

    mutating func writeCR(_ n: Int, _ value: UInt64) -> Bool {
        if n == 3 {
            // Trap-and-emulate mode only: a base-pointer switch validated exactly as MMUEXT_NEW_BASEPTR.
            guard emulateAll else { return false }
            do throws(XenErrno) { try domain.switchBase(vcpu, to: value >> 12) } catch { return false }
            return true
        }
        guard n == 0 else { return false }
        // Only TS may change (as Xen), everything else must be written back as it reads.
        guard value & ~UInt64(0x8) == 0x8005_0033 else { return false }
        vcpu.pv.taskSwitched = value & 0x8 != 0
        vcpu.pv.dirty.insert(.taskSwitched)
        return true
    }

    mutating func readPort(_ port: UInt16, size: Int) -> UInt32 { size == 4 ? ~0 : (1 << (8 * UInt32(size))) - 1 }

    mutating func writePort(_ port: UInt16, size: Int, value: UInt32) {}

    func readGuest(_ va: UInt64, count: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: count)
        let ok = out.withUnsafeMutableBytes { raw -> Bool in
            do throws(XenErrno) { try vcpu.addressSpace.copyFromGuest(va, into: raw); return true } catch { return false }
        }
        return ok ? out : nil
    }

    mutating func writeGuest(_ va: UInt64, _ bytes: [UInt8]) -> Bool {
        do throws(XenErrno) { try vcpu.addressSpace.copyToGuest(va, bytes: bytes); return true } catch { return false }
    }

    func tsc() -> UInt64 { monotonicNanos() }   // rdtsc does not trap here (CR4.TSD is clear)
}
