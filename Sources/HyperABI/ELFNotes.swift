/// Xen ELF note types (note name `"Xen"`), numbered as in `xen/include/public/elfnote.h`.
///
/// A PV kernel carries these in a `PT_NOTE` segment (or `SHT_NOTE` section). Numeric notes hold a
/// little-endian number in a 4- or 8-byte descriptor; string notes hold NUL-terminated text.
public enum XenELFNote: UInt32, Sendable, CaseIterable {
    /// Virtual address of the kernel entry point (default: ELF `e_entry`).
    case entry = 1
    /// Virtual address of the page the hypervisor fills with hypercall stubs.
    case hypercallPage = 2
    /// Virtual address the kernel's pseudo-physical address 0 is mapped at (default 0).
    case virtBase = 3
    /// Subtracted from `p_paddr` before adding `VIRT_BASE` (default 0; needs `VIRT_BASE`).
    case paddrOffset = 4
    /// Xen interface the kernel was built for; must start with `"xen-3.0"`.
    case xenVersion = 5
    /// Guest OS name, e.g. `"linux"`, `"Mini-OS"`.
    case guestOS = 6
    /// Guest OS version string.
    case guestVersion = 7
    /// Loader protocol; `"generic"` for every modern PV kernel.
    case loader = 8
    /// PAE mode string (`"yes"`, `"no"`, `"bimodal"`): meaningful for 32-bit guests.
    case paeMode = 9
    /// `|`-separated feature names; a leading `!` marks a required feature.
    case features = 10
    /// `"yes"`: the loader should append the symbol table after the kernel.
    case bsdSymtab = 11
    /// Lowest hypervisor virtual address the guest tolerates (32-bit guests).
    case hvStartLow = 12
    /// Mask and value of the PTE bits that say an L1 entry holds a valid MFN.
    case l1MFNValid = 13
    /// Non-zero: the guest supports `SHUTDOWN_suspend` being cancelled.
    case suspendCancel = 14
    /// Virtual address at which to map the initial P2M list.
    case initP2M = 15
    /// Non-zero: the guest accepts an unmapped module given by PFN.
    case modStartPFN = 16
    /// Bitmap of `XENFEAT_*` the kernel supports.
    case supportedFeatures = 17
    /// 32-bit physical entry point for PVH boot.
    case phys32Entry = 18

    /// The name Xen's tools print for this note, e.g. `"HYPERCALL_PAGE"`.
    public var name: String {
        switch self {
        case .entry: "ENTRY"
        case .hypercallPage: "HYPERCALL_PAGE"
        case .virtBase: "VIRT_BASE"
        case .paddrOffset: "PADDR_OFFSET"
        case .xenVersion: "XEN_VERSION"
        case .guestOS: "GUEST_OS"
        case .guestVersion: "GUEST_VERSION"
        case .loader: "LOADER"
        case .paeMode: "PAE_MODE"
        case .features: "FEATURES"
        case .bsdSymtab: "BSD_SYMTAB"
        case .hvStartLow: "HV_START_LOW"
        case .l1MFNValid: "L1_MFN_VALID"
        case .suspendCancel: "SUSPEND_CANCEL"
        case .initP2M: "INIT_P2M"
        case .modStartPFN: "MOD_START_PFN"
        case .supportedFeatures: "SUPPORTED_FEATURES"
        case .phys32Entry: "PHYS32_ENTRY"
        }
    }

    /// True when the descriptor is NUL-terminated text, false when it is a number.
    public var isString: Bool {
        switch self {
        case .xenVersion, .guestOS, .guestVersion, .loader, .paeMode, .features, .bsdSymtab: true
        case .entry, .hypercallPage, .virtBase, .paddrOffset, .hvStartLow, .l1MFNValid,
             .suspendCancel, .initP2M, .modStartPFN, .supportedFeatures, .phys32Entry: false
        }
    }
}
