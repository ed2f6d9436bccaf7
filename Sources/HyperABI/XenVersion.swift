/// `xen_version` (hypercall 17) sub-ops: `xen_version(cmd, arg)`.
public enum XenVersionCommand: UInt64, Sendable {
    case version = 0
    case extraversion = 1
    case compileInfo = 2
    case capabilities = 3
    case changeset = 4
    case platformParameters = 5
    case getFeatures = 6
    case pagesize = 7
    case guestHandle = 8
}

/// Sizes of the structures `xen_version` fills, and what this hypervisor reports.
public enum XenVersionABI {
    /// `xen_extraversion_t`: char[16].
    public static let extraversionSize = 16
    /// `struct xen_compile_info`: compiler[64], compile_by[16], compile_domain[32], compile_date[32].
    public static let compileInfoSize = 144
    public static let compileInfoCompilerOffset = 0
    public static let compileInfoByOffset = 64
    public static let compileInfoDomainOffset = 80
    public static let compileInfoDateOffset = 112
    /// `xen_capabilities_info_t`: char[1024].
    public static let capabilitiesSize = 1024
    /// `xen_changeset_info_t`: char[64].
    public static let changesetSize = 64
    /// `struct xen_platform_parameters { unsigned long virt_start; }`.
    public static let platformParametersSize = 8
    /// `struct xen_feature_info { unsigned int submap_idx; uint32_t submap; }`.
    public static let featureInfoSize = 8
    public static let featureInfoSubmapOffset = 4
    /// `xen_domain_handle_t`: uint8_t[16].
    public static let domainHandleSize = 16

    /// The Xen interface version this hypervisor implements (major:minor returned by XENVER_version).
    public static let major: UInt32 = 4
    public static let minor: UInt32 = 19
    public static let extraversion = ".0-swiftxen"
    public static let capabilities = "xen-3.0-x86_64"
    public static let compiler = "swiftc 6.3"
    public static let compileBy = "swiftxen"
    public static let compileDomain = "swiftxen.local"
    public static let changeset = "swiftxen issue-2 PV core"
}
