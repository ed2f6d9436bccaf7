/// `grant_table_op` (hypercall 20) commands: `grant_table_op(cmd, uop, count)`.
public enum GrantTableCommand: UInt64, Sendable {
    case mapGrantRef = 0
    case unmapGrantRef = 1
    case setupTable = 2
    case dumpTable = 3
    case transfer = 4
    case copy = 5
    case querySize = 6
    case unmapAndReplace = 7
    case setVersion = 8
    case getStatusFrames = 9
    case getVersion = 10
    case swapGrantRef = 11
    case cacheFlush = 12
}

/// `GNTST_*`: the per-operation status a grant operation writes back (a negative 16-bit value).
public enum GrantStatus: Int16, Sendable, Error, CaseIterable {
    case okay = 0
    case generalError = -1
    case badDomain = -2
    case badGntref = -3
    case badHandle = -4
    case badVirtAddr = -5
    case badDevAddr = -6
    case noDeviceSpace = -7
    case permissionDenied = -8
    case badPage = -9
    case badCopyArg = -10
    case addressTooBig = -11
    case eagain = -12
    case noSpace = -13

    /// Xen's name after `GNTST_`.
    public var xenName: String {
        switch self {
        case .okay: "okay"
        case .generalError: "general_error"
        case .badDomain: "bad_domain"
        case .badGntref: "bad_gntref"
        case .badHandle: "bad_handle"
        case .badVirtAddr: "bad_virt_addr"
        case .badDevAddr: "bad_dev_addr"
        case .noDeviceSpace: "no_device_space"
        case .permissionDenied: "permission_denied"
        case .badPage: "bad_page"
        case .badCopyArg: "bad_copy_arg"
        case .addressTooBig: "address_too_big"
        case .eagain: "eagain"
        case .noSpace: "no_space"
        }
    }
}

/// Grant table v1: entries, flags and the argument structures of grant_table_op.
public enum GrantLayout {
    /// `grant_entry_v1`: flags u16 @0, domid u16 @2, frame u32 @4.
    public static let entrySize = 8
    public static let entryDomid = 2, entryFrame = 4
    public static let entriesPerFrame = 4096 / entrySize
    /// Refs 0–7 are the toolstack's (console, xenstore …).
    public static let reservedEntries = 8
    /// Table frames a domain starts with and may grow to (Xen's defaults: 1 and 64).
    public static let initialFrames = 1
    public static let maxFrames = 64
    /// Operations in one grant_table_op call.
    public static let maximumBatch = 512

    /// `GTF_*` in the entry's flags.
    public static let typeMask: UInt16 = 3
    public static let permitAccess: UInt16 = 1
    public static let readonly: UInt16 = 1 << 2
    public static let reading: UInt16 = 1 << 3
    public static let writing: UInt16 = 1 << 4
    public static let subPage: UInt16 = 1 << 8

    /// `GNTMAP_*`.
    public static let mapDevice: UInt32 = 1 << 0
    public static let mapHost: UInt32 = 1 << 1
    public static let mapReadonly: UInt32 = 1 << 2
    public static let mapApplication: UInt32 = 1 << 3
    public static let mapContainsPTE: UInt32 = 1 << 4

    /// `GNTCOPY_*`.
    public static let copySourceGref: UInt16 = 1 << 0
    public static let copyDestGref: UInt16 = 1 << 1

    /// `gnttab_map_grant_ref` (32): host_addr u64 @0, flags u32 @8, ref u32 @12, dom u16 @16,
    /// status s16 @18 (OUT), handle u32 @20 (OUT), dev_bus_addr u64 @24 (OUT).
    public static let mapSize = 32
    public static let mapFlags = 8, mapRef = 12, mapDom = 16, mapStatus = 18, mapHandle = 20, mapDevBusAddr = 24
    /// `gnttab_unmap_grant_ref` (24): host_addr u64 @0, dev_bus_addr u64 @8, handle u32 @16, status s16 @20.
    public static let unmapSize = 24
    public static let unmapDevBusAddr = 8, unmapHandle = 16, unmapStatus = 20
    /// `gnttab_setup_table` (24): dom u16 @0, nr_frames u32 @4, status s16 @8 (OUT), frame_list @16.
    public static let setupSize = 24
    public static let setupNrFrames = 4, setupStatus = 8, setupFrameList = 16
    /// `gnttab_copy` (40): source {ref/gmfn @0, domid u16 @8, offset u16 @10}, dest {@16 the same},
    /// len u16 @32, flags u16 @34, status s16 @36 (OUT).
    public static let copySize = 40
    public static let copySource = 0, copyDest = 16, copyPtrDomid = 8, copyPtrOffset = 10
    public static let copyLen = 32, copyFlags = 34, copyStatus = 36
    /// `gnttab_query_size` (16): dom u16 @0, nr_frames u32 @4, max_nr_frames u32 @8, status s16 @12.
    public static let querySize = 16
    public static let queryNrFrames = 4, queryMaxNrFrames = 8, queryStatus = 12
    /// `gnttab_set_version` (4): version u32. `gnttab_get_version` (8): dom u16 @0, version u32 @4.
    public static let setVersionSize = 4
    public static let getVersionSize = 8, getVersionVersion = 4
}
