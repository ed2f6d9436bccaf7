import CKVM
import HyperABI

/// The 64 KiB region every VM gets for the hypervisor's own use: the ring-0 stub and trampoline,
/// GDT, IDT, TSS, ring-0 stacks, and the page tables behind L4 slots 256 (read-only M2P) and 257 (stub).
/// Built once as a template; each VM gets its own copy in its own memory slot.
struct StubRegion {
    static let size = Int(HV_STUB_SIZE)
    static let stubVA = UInt64(HV_STUB_VA)
    static let stubGPA = UInt64(HV_STUB_GPA)
    static let doorbellGPA = UInt64(HV_DOORBELL_GPA)
    static let zapGPA = UInt64(HV_ZAP_GPA)
    static let exceptionPort = UInt16(HV_EXCEPTION_PORT)

    /// The bytes of the region.
    let image: [UInt8]

    /// Builds the region for a machine whose M2P occupies frames [0, m2pFrames) (a multiple of 512).
    init(m2pFrames: Int) {
        var b = [UInt8](repeating: 0, count: StubRegion.size)
        func put(_ v: UInt64, at off: Int) { for i in 0..<8 { b[off + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
        func copy(_ p: UnsafePointer<UInt8>, _ n: Int, to off: Int) { for i in 0..<n { b[off + i] = p[i] } }

        // The assembled stub (256 entries + common exit) and the SYSCALL trampoline.
        copy(ckvm_stub_code(), Int(ckvm_stub_code_size()), to: Int(HV_OFF_CODE))
        copy(ckvm_trampoline(), Int(ckvm_trampoline_size()), to: Int(HV_OFF_TRAMPOLINE))

        // IDT: an interrupt gate per vector, DPL 0 so `int n` from CPL 3 arrives as #GP((n << 3) | 2) for the
        // core to check against the guest's trap_info; DPL 3 for #BP and #OF so `int3` and `int $4` arrive
        // as themselves (Xen skips the guest DPL check for those two). NMI, #DF, #MC run on IST1.
        for v in 0..<256 {
            let handler = StubRegion.stubVA + UInt64(HV_OFF_CODE) + UInt64(v * Int(HV_VECTOR_STRIDE))
            let ist: UInt64 = (v == 2 || v == 8 || v == 18) ? 1 : 0
            let gate: UInt64 = (v == 3 || v == 4) ? 0xee : 0x8e
            let low = (handler & 0xffff) | (UInt64(PVLayout.hypervisorCS) << 16) | (ist << 32) | (gate << 40)
                | (((handler >> 16) & 0xffff) << 48)
            put(low, at: Int(HV_OFF_IDT) + v * 16)
            put(handler >> 32, at: Int(HV_OFF_IDT) + v * 16 + 8)
        }

        // TSS: RSP0 and IST1; the I/O bitmap offset points past the limit (no port is allowed).
        put(StubRegion.stubVA + UInt64(HV_OFF_STACK_TOP), at: Int(HV_OFF_TSS) + 4)
        put(StubRegion.stubVA + UInt64(HV_OFF_IST_TOP), at: Int(HV_OFF_TSS) + 0x24)
        b[Int(HV_OFF_TSS) + 0x66] = 0x68

        // Xen's reserved GDT page (selectors 0xe000…): ring-0 CS/DS, ring-3 CS32, DS/SS, CS64, TSS.
        let gdt = Int(HV_OFF_GDT_RESERVED)
        put(0x00af_9b00_0000_ffff, at: gdt + Int(PVLayout.hypervisorCS & 0xff8))
        put(0x00cf_9300_0000_ffff, at: gdt + Int(PVLayout.hypervisorDS & 0xff8))
        put(0x00cf_fb00_0000_ffff, at: gdt + Int(PVLayout.flatUserCS32 & 0xff8))
        put(0x00cf_f300_0000_ffff, at: gdt + Int(PVLayout.flatKernelSS & 0xff8))
        put(0x00af_fb00_0000_ffff, at: gdt + Int(PVLayout.flatKernelCS & 0xff8))
        let tss = StubRegion.stubVA + UInt64(HV_OFF_TSS)
        put(0x67 | ((tss & 0xff_ffff) << 16) | (0x8b << 40) | (((tss >> 24) & 0xff) << 56),
            at: gdt + Int(PVLayout.hypervisorTSS & 0xff8))
        put(tss >> 32, at: gdt + Int(PVLayout.hypervisorTSS & 0xff8) + 8)

        // Page tables of slot 257: L3[0] → L2[0] → L1 covering the stub's 2 MiB.
        let table = PTE.present | PTE.writable | PTE.user | PTE.accessed
        let gpa = { (off: Int32) in StubRegion.stubGPA + UInt64(off) }
        put(gpa(HV_OFF_STUB_L2) | table, at: Int(HV_OFF_STUB_L3))
        put(gpa(HV_OFF_STUB_L1) | table, at: Int(HV_OFF_STUB_L2))
        let l1 = Int(HV_OFF_STUB_L1)
        let sup = PTE.present | PTE.accessed
        let nx = PTE.noExecute
        let rwData = sup | PTE.writable | PTE.dirty | nx
        func map(_ voff: Int32, _ entry: UInt64) { put(entry, at: l1 + Int(voff >> 12) * 8) }
        map(HV_OFF_CODE, gpa(HV_OFF_CODE) | sup)
        map(HV_OFF_CODE + 0x1000, gpa(HV_OFF_CODE + 0x1000) | sup)
        map(HV_OFF_TRAMPOLINE, gpa(HV_OFF_TRAMPOLINE) | sup | PTE.user)
        map(HV_OFF_IDT, gpa(HV_OFF_IDT) | sup | nx)
        map(HV_OFF_TSS, gpa(HV_OFF_TSS) | rwData)
        map(HV_OFF_STACK, gpa(HV_OFF_STACK) | rwData)
        map(HV_OFF_STACK + 0x1000, gpa(HV_OFF_STACK + 0x1000) | rwData)
        map(HV_OFF_IST, gpa(HV_OFF_IST) | rwData)
        map(HV_VOFF_DOORBELL, StubRegion.doorbellGPA | sup | PTE.user | PTE.writable | PTE.dirty | nx)
        for page in 0..<Int(HV_GDT_PAGES) {
            let backing = page == Int(HV_GDT_PAGES) - 1 ? HV_OFF_GDT_RESERVED : HV_OFF_ZERO
            map(HV_VOFF_GDT + Int32(page << 12), gpa(backing) | sup | nx)
        }

        // Slot 256: the M2P, read-only and user-readable, in 2 MiB pages over machine frames [0, m2pFrames).
        put(gpa(HV_OFF_M2P_L2) | table, at: Int(HV_OFF_M2P_L3))
        for i in 0..<min(m2pFrames / 512, 512) {
            put(UInt64(i) << 21 | PTE.present | PTE.user | PTE.accessed | PTE.pageSize | nx, at: Int(HV_OFF_M2P_L2) + i * 8)
        }
        image = b
    }

    /// The L4 entries every guest L4 gets in the hypervisor's slots.
    static var l4Entries: [(slot: Int, entry: UInt64)] {
        let table = PTE.present | PTE.writable | PTE.user | PTE.accessed
        return [(Int(HV_M2P_L4_SLOT), stubGPA + UInt64(HV_OFF_M2P_L3) | table),
                (Int(HV_STUB_L4_SLOT), stubGPA + UInt64(HV_OFF_STUB_L3) | table)]
    }

    /// True for addresses in the hypervisor's virtual range (the stub, the trampoline): a vCPU kicked there
    /// is between guest instructions of ours, not the guest's.
    static func isHypervisorAddress(_ va: UInt64) -> Bool {
        va >= PVLayout.hypervisorVirtStart && va < PVLayout.hypervisorVirtEnd
    }

    /// Offset in the region of a ring-0 stack address holding `count` bytes, if it lies on the stacks.
    static func stackOffset(_ va: UInt64, count: Int) -> Int? {
        guard va >= stubVA + UInt64(HV_OFF_STACK), va + UInt64(count) <= stubVA + UInt64(HV_OFF_IST_TOP) else { return nil }
        return Int(va - stubVA)
    }
}
