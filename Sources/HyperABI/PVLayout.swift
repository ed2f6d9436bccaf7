/// Fixed facts of the x86-64 PV guest's world: page size, selectors, the hypervisor's virtual hole.
public enum PVLayout {
    public static let pageSize: UInt64 = 4096
    public static let pageShift: UInt64 = 12

    /// Start of the hypervisor's reserved virtual range (L4 slots 256–271).
    public static let hypervisorVirtStart: UInt64 = 0xffff_8000_0000_0000
    /// End (exclusive) of the hypervisor's reserved virtual range.
    public static let hypervisorVirtEnd: UInt64 = 0xffff_8800_0000_0000
    public static let firstReservedL4Slot = 256
    public static let lastReservedL4Slot = 271
    /// The read-only machine-to-physical table every PV guest can read (u64 PFN per MFN).
    public static let machphysVirtStart: UInt64 = 0xffff_8000_0000_0000
    public static let machphysVirtEnd: UInt64 = 0xffff_8040_0000_0000
    /// M2P value of a frame no domain holds as RAM.
    public static let invalidM2PEntry: UInt64 = ~0
    /// p2m value of a PFN with no frame behind it.
    public static let invalidMFN: UInt64 = ~0

    /// Xen's flat selectors for 64-bit PV guests (both modes run at CPL 3).
    public static let flatKernelCS: UInt16 = 0xe033
    public static let flatKernelSS: UInt16 = 0xe02b
    public static let flatKernelDS: UInt16 = 0
    public static let flatUserCS32: UInt16 = 0xe023
    /// The hypervisor's own ring-0 selectors in the reserved GDT page.
    public static let hypervisorCS: UInt16 = 0xe008
    public static let hypervisorDS: UInt16 = 0xe010
    /// The TSS selector in the reserved GDT page.
    public static let hypervisorTSS: UInt16 = 0xe040
    /// First GDT entry reserved to the hypervisor (selector 0xe000).
    public static let firstReservedGDTEntry = 7168

    /// True when `va` is a canonical 48-bit x86-64 address.
    @inlinable public static func isCanonical(_ va: UInt64) -> Bool {
        let top = va >> 47
        return top == 0 || top == 0x1_ffff
    }
}

/// Page-table entry bits (4-level x86-64 paging).
public enum PTE {
    public static let present: UInt64 = 1 << 0
    public static let writable: UInt64 = 1 << 1
    public static let user: UInt64 = 1 << 2
    public static let writeThrough: UInt64 = 1 << 3
    public static let cacheDisable: UInt64 = 1 << 4
    public static let accessed: UInt64 = 1 << 5
    public static let dirty: UInt64 = 1 << 6
    public static let pageSize: UInt64 = 1 << 7
    public static let global: UInt64 = 1 << 8
    public static let noExecute: UInt64 = 1 << 63
    /// Software bit (ignored by the MMU): an L1 entry the hypervisor wrote for a grant mapping (Xen's
    /// _PAGE_GNTTAB). Guests cannot set it, and only unmap_grant_ref may clear such an entry.
    public static let grantMapping: UInt64 = 1 << 62
    /// Bits 12–51: the frame address.
    public static let addressMask: UInt64 = 0x000f_ffff_ffff_f000
}

/// Domain identifiers with special meaning (`DOMID_*`).
public enum DomainID {
    public static let dom0: UInt16 = 0
    public static let firstGuest: UInt16 = 1
    public static let maxGuest: UInt16 = 0x7fef
    public static let this: UInt16 = 0x7ff0       // DOMID_SELF
    public static let io: UInt16 = 0x7ff1
    public static let xen: UInt16 = 0x7ff2
    public static let cow: UInt16 = 0x7ff3
    public static let invalid: UInt16 = 0x7ff4
    public static let any: UInt16 = 0x7ff5
    public static let idle: UInt16 = 0x7fff
}

/// x86 exception vectors, with the names used in crash reports.
public enum ExceptionVector {
    /// Vectors that push an error code.
    @inlinable public static func hasErrorCode(_ v: UInt8) -> Bool {
        switch v { case 8, 10, 11, 12, 13, 14, 17, 21, 29, 30: true; default: false }
    }

    /// Short mnemonic and name, e.g. "#GP general protection".
    public static func name(_ v: UInt8) -> String {
        switch v {
        case 0: "#DE divide error"
        case 1: "#DB debug"
        case 2: "NMI"
        case 3: "#BP breakpoint"
        case 4: "#OF overflow"
        case 5: "#BR bound range"
        case 6: "#UD invalid opcode"
        case 7: "#NM device not available"
        case 8: "#DF double fault"
        case 10: "#TS invalid TSS"
        case 11: "#NP segment not present"
        case 12: "#SS stack fault"
        case 13: "#GP general protection"
        case 14: "#PF page fault"
        case 16: "#MF x87 floating point"
        case 17: "#AC alignment check"
        case 18: "#MC machine check"
        case 19: "#XM SIMD floating point"
        case 20: "#VE virtualization"
        case 21: "#CP control protection"
        default: v < 32 ? "reserved exception \(v)" : "interrupt \(v)"
        }
    }
}
