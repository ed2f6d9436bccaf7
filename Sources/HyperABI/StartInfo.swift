/// `struct start_info` (x86-64, 1168 bytes): the page a PV guest finds in `rsi` at entry.
public enum StartInfoLayout {
    public static let size = 1168
    public static let magic = 0          // char[32], "xen-3.0-x86_64"
    public static let magicSize = 32
    public static let nrPages = 32       // u64
    public static let sharedInfo = 40    // u64, machine address of shared_info
    public static let flags = 48         // u32, SIF_*
    public static let storeMFN = 56      // u64
    public static let storeEvtchn = 64   // u32
    public static let consoleMFN = 72    // u64 (domU view)
    public static let consoleEvtchn = 80 // u32
    public static let ptBase = 88        // u64, VA of the bootstrap L4
    public static let nrPTFrames = 96    // u64
    public static let mfnList = 104      // u64, VA of the p2m array
    public static let modStart = 112     // u64
    public static let modLen = 120       // u64
    public static let cmdLine = 128      // char[1024]
    public static let cmdLineSize = 1024
    public static let firstP2MPFN = 1152 // u64
    public static let nrP2MFrames = 1160 // u64

    /// Guest type string of a 64-bit PV domain.
    public static let magic64 = "xen-3.0-x86_64"
}

/// `SIF_*` flags in `start_info.flags`.
public struct StartInfoFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let privileged = StartInfoFlags(rawValue: 1 << 0)
    public static let initDomain = StartInfoFlags(rawValue: 1 << 1)
    public static let multibootModule = StartInfoFlags(rawValue: 1 << 2)
    public static let modStartPFN = StartInfoFlags(rawValue: 1 << 3)
    public static let virtP2MForTools = StartInfoFlags(rawValue: 1 << 4)
}

/// `struct vcpu_info` (64 bytes) inside shared_info.
public enum VCPUInfoLayout {
    public static let size = 64
    public static let upcallPending = 0  // u8
    public static let upcallMask = 1     // u8, the virtual interrupt flag (1 = masked)
    public static let pendingSel = 8     // u64
    public static let cr2 = 16           // u64 (arch.cr2)
    public static let time = 32          // struct vcpu_time_info (32 bytes)
}

/// `struct shared_info` (x86-64): the page shared between the hypervisor and a domain.
public enum SharedInfoLayout {
    public static let legacyMaxVCPUs = 32
    public static let vcpuInfo = 0       // vcpu_info[32]
    public static let evtchnPending = 2048
    public static let evtchnMask = 2560
    public static let wcVersion = 3072
    public static let wcSec = 3076
    public static let wcNsec = 3080
    public static let wcSecHi = 3084
    public static let maxPFN = 3088
    public static let pfnToMFNFrameListList = 3096
    public static let usedSize = 3136
}
