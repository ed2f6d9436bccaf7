import CKVM
import HyperABI

/// The region every VM gets for the hypervisor's own use: the ring-0 stub and trampoline, the IDT, the page
/// tables behind L4 slots 257 (stub) and 258 (read-only M2P), and per vCPU a TSS, ring-0 stacks and a GDT.
/// The shared part is built once as a template; each VM gets its own copy, sized for its vCPUs, in its own
/// memory slot.
struct StubRegion {
    static let stubVA = UInt64(HV_STUB_VA)
    static let stubGPA = UInt64(HV_STUB_GPA)
    static let doorbellGPA = UInt64(HV_DOORBELL_GPA)
    static let zapGPA = UInt64(HV_ZAP_GPA)
    static let exceptionPort = UInt16(HV_EXCEPTION_PORT)
    static let maxVCPUs = Int(HV_MAX_VCPUS)

    /// The shared part: [0, HV_OFF_VCPUS).
    let image: [UInt8]
    /// A whole region for one vCPU, for the C baseline loop.
    let singleVCPUImage: [UInt8]

    /// Bytes of a region for `vcpus` vCPUs.
    static func size(vcpus: Int) -> Int { Int(HV_OFF_VCPUS) + vcpus * Int(HV_VCPU_STRIDE) }

    /// Builds the template for a machine whose M2P occupies frames [0, m2pFrames) (a multiple of 512).
    init(m2pFrames: Int) {
        var b = [UInt8](repeating: 0, count: Int(HV_OFF_VCPUS))
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

        // Page tables of slot 257: L3[0] → L2; L2[0] → the L1 of the shared pages, L2[1…2] → the per-vCPU L1s.
        let table = PTE.present | PTE.writable | PTE.user | PTE.accessed
        let gpa = { (off: Int32) in StubRegion.stubGPA + UInt64(off) }
        put(gpa(HV_OFF_STUB_L2) | table, at: Int(HV_OFF_STUB_L3))
        put(gpa(HV_OFF_STUB_L1) | table, at: Int(HV_OFF_STUB_L2))
        put(gpa(HV_OFF_VCPU_L1) | table, at: Int(HV_OFF_STUB_L2) + 8)
        put(gpa(HV_OFF_VCPU_L1 + 0x1000) | table, at: Int(HV_OFF_STUB_L2) + 16)
        let l1 = Int(HV_OFF_STUB_L1)
        let sup = PTE.present | PTE.accessed
        func map(_ voff: Int32, _ entry: UInt64) { put(entry, at: l1 + Int(voff >> 12) * 8) }
        map(HV_OFF_CODE, gpa(HV_OFF_CODE) | sup)
        map(HV_OFF_CODE + 0x1000, gpa(HV_OFF_CODE + 0x1000) | sup)
        map(HV_OFF_TRAMPOLINE, gpa(HV_OFF_TRAMPOLINE) | sup | PTE.user)
        map(HV_OFF_IDT, gpa(HV_OFF_IDT) | sup | PTE.noExecute)
        map(HV_VOFF_DOORBELL, StubRegion.doorbellGPA | sup | PTE.user | PTE.writable | PTE.dirty | PTE.noExecute)

        // Slot 258: the M2P, read-only and user-readable, in 2 MiB pages over machine frames [0, m2pFrames).
        put(gpa(HV_OFF_M2P_L2) | table, at: Int(HV_OFF_M2P_L3))
        for i in 0..<min(m2pFrames / 512, 512) {
            put(UInt64(i) << 21 | PTE.present | PTE.user | PTE.accessed | PTE.pageSize | PTE.noExecute, at: Int(HV_OFF_M2P_L2) + i * 8)
        }
        image = b
        var single = [UInt8](repeating: 0, count: StubRegion.size(vcpus: 1))
        let template = b
        single.withUnsafeMutableBytes { StubRegion.fill($0, template: template, vcpus: 1) }
        singleVCPUImage = single
    }

    /// Writes a region for `vcpus` vCPUs into `region` (StubRegion.size(vcpus:) bytes, zeroed): the shared
    /// template, then each vCPU's TSS, reserved GDT page and page-table entries.
    static func fill(_ region: UnsafeMutableRawBufferPointer, template: [UInt8], vcpus: Int) {
        precondition(vcpus >= 1 && vcpus <= maxVCPUs && region.count >= size(vcpus: vcpus))
        template.withUnsafeBytes { region.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        func put(_ v: UInt64, at off: Int) { region.storeBytes(of: v.littleEndian, toByteOffset: off, as: UInt64.self) }
        let sup = PTE.present | PTE.accessed
        let rwData = sup | PTE.writable | PTE.dirty | PTE.noExecute
        for i in 0..<vcpus {
            let pages = vcpuRegionOffset(i)
            let gpa = { (off: Int32) in stubGPA + UInt64(pages) + UInt64(off) }
            let block = vcpuVA(i)

            // TSS: RSP0 and IST1; the I/O bitmap offset points past the limit (no port is allowed).
            let tss = pages + Int(HV_VCPU_OFF_TSS)
            put(block + UInt64(HV_VCPU_VOFF_STACK_TOP), at: tss + 4)
            put(block + UInt64(HV_VCPU_VOFF_IST_TOP), at: tss + 0x24)
            region[tss + 0x66] = 0x68

            // Xen's reserved GDT page (selectors 0xe000…): ring-0 CS/DS, ring-3 CS32, DS/SS, CS64, this vCPU's TSS.
            let gdt = pages + Int(HV_VCPU_OFF_GDT_RESERVED)
            put(0x00af_9b00_0000_ffff, at: gdt + Int(PVLayout.hypervisorCS & 0xff8))
            put(0x00cf_9300_0000_ffff, at: gdt + Int(PVLayout.hypervisorDS & 0xff8))
            put(0x00cf_fb00_0000_ffff, at: gdt + Int(PVLayout.flatUserCS32 & 0xff8))
            put(0x00cf_f300_0000_ffff, at: gdt + Int(PVLayout.flatKernelSS & 0xff8))
            put(0x00af_fb00_0000_ffff, at: gdt + Int(PVLayout.flatKernelCS & 0xff8))
            let tssVA = block + UInt64(HV_VCPU_VOFF_TSS)
            put(0x67 | ((tssVA & 0xff_ffff) << 16) | (0x8b << 40) | (((tssVA >> 24) & 0xff) << 56),
                at: gdt + Int(PVLayout.hypervisorTSS & 0xff8))
            put(tssVA >> 32, at: gdt + Int(PVLayout.hypervisorTSS & 0xff8) + 8)

            // Its block of virtual pages: the GDT window (zero pages until set_gdt, then the reserved page),
            // the TSS, the ring-0 stack and the IST stack (contiguous, so one range covers both).
            func map(_ voff: Int32, _ entry: UInt64) { put(entry, at: l1EntryOffset(vcpu: i, voff: Int(voff))) }
            for page in 0..<Int(HV_GDT_PAGES) {
                let backing = page == Int(HV_GDT_PAGES) - 1 ? gpa(HV_VCPU_OFF_GDT_RESERVED) : stubGPA + UInt64(HV_OFF_ZERO)
                map(HV_VCPU_VOFF_GDT + Int32(page << 12), backing | sup | PTE.noExecute)
            }
            map(HV_VCPU_VOFF_TSS, gpa(HV_VCPU_OFF_TSS) | rwData)
            for page in 0..<3 { map(HV_VCPU_VOFF_STACK + Int32(page << 12), gpa(HV_VCPU_OFF_STACK + Int32(page << 12)) | rwData) }
        }
    }

    /// Region offset of vCPU `i`'s pages.
    static func vcpuRegionOffset(_ i: Int) -> Int { Int(HV_OFF_VCPUS) + i * Int(HV_VCPU_STRIDE) }

    /// Virtual address of vCPU `i`'s block (its GDT is at the start).
    static func vcpuVA(_ i: Int) -> UInt64 { stubVA + UInt64(HV_VOFF_VCPUS) + UInt64(i) * UInt64(HV_VCPU_VSTRIDE) }

    /// Region offset of the L1 entry mapping `voff` in vCPU `i`'s block (the two per-vCPU L1s are adjacent).
    static func l1EntryOffset(vcpu i: Int, voff: Int) -> Int {
        Int(HV_OFF_VCPU_L1) + ((i * Int(HV_VCPU_VSTRIDE) + voff) >> 12) * 8
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

    /// Region offset of `count` bytes at `va` on vCPU `i`'s ring-0 or IST stack, if they lie there.
    static func stackOffset(_ va: UInt64, count: Int, vcpu i: Int) -> Int? {
        let low = vcpuVA(i) + UInt64(HV_VCPU_VOFF_STACK)
        guard va >= low, va + UInt64(count) <= vcpuVA(i) + UInt64(HV_VCPU_VOFF_IST_TOP) else { return nil }
        return vcpuRegionOffset(i) + Int(HV_VCPU_OFF_STACK) + Int(va - low)
    }
}
