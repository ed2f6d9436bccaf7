import Foundation

/// Everything about a paused domain except its RAM, with every machine frame number replaced by the
/// PFN it stands for (or a marker for shared_info and grant-table frames), so it can be rebuilt on other
/// frames: what a save file carries besides the pages (those are `DomainControl.canonicalFrame`'s).
public struct DomainImage: Codable, Sendable {
    public var name: String
    public var handle: [UInt8]
    public var nrPages: Int
    public var maxPages: Int
    public var emulatePrivileged: Bool
    public var weight: Int
    public var cap: Int
    public var vmAssist: UInt64
    /// Xen system time when it was saved: the restored domain's clock continues from here.
    public var systemTime: UInt64
    public var balloonedOut: Int
    /// PFNs with a frame behind them.
    public var populated: [Bool]
    /// Pinned page tables: PFN and level.
    public var pinned: [TableImage]
    /// Every page table (pinned or not): their entries are in canonical form in the saved pages.
    public var pageTables: [TableImage]
    public var sharedInfo: Data
    /// The grant table's frames (entries' frames as PFNs).
    public var grantFrames: [Data]
    public var ports: [PortImage]
    public var vcpus: [VCPUImage]

    /// A page table: its PFN and level.
    public struct TableImage: Codable, Sendable, Equatable {
        public var pfn: Int
        public var level: Int
    }

    /// One event-channel port that is not Dom0's (those the services open again).
    public struct PortImage: Codable, Sendable, Equatable {
        public var port: UInt32
        /// "unbound", "virq" or "ipi".
        public var kind: String
        public var remote: UInt16?
        public var virq: UInt32?
        public var vcpu: Int?
        public var notify: Int
    }

    /// One vCPU: registers, extended state, PV state, timers.
    public struct VCPUImage: Codable, Sendable {
        /// rax rbx rcx rdx rsi rdi rbp rsp r8–r15 rip rflags.
        public var registers: [UInt64]
        /// KVM's xsave area (FPU, SSE, AVX), empty when the platform has none.
        public var extendedState: Data
        public var online: Bool
        public var initialised: Bool
        public var kernelL4PFN: Int?
        public var userL4PFN: Int?
        public var kernelMode: Bool
        public var traps: [TrapImage]
        public var eventCallback: UInt64
        public var failsafeCallback: UInt64
        public var failsafeMasksEvents: Bool
        public var syscallCallback: UInt64
        public var syscallMasksEvents: Bool
        public var kernelSS: UInt64
        public var kernelSP: UInt64
        public var fsBase: UInt64
        public var gsBaseKernel: UInt64
        public var gsBaseUser: UInt64
        public var taskSwitched: Bool
        public var gdtPFNs: [Int]
        public var runstateArea: UInt64
        /// Where vcpu_info lives: nil for its slot in shared_info, else the PFN and offset.
        public var vcpuInfoPFN: Int?
        public var vcpuInfoOffset: Int
        public var singleshotDeadline: UInt64?
        public var timerPeriod: UInt64?
    }

    /// A non-empty virtual IDT entry.
    public struct TrapImage: Codable, Sendable, Equatable {
        public var vector: Int
        public var address: UInt64
        public var dpl: UInt8
        public var disablesEvents: Bool
    }

    /// PTE and grant-entry frame fields in canonical form: a PFN, or one of these markers.
    public static let sharedInfoMarker: UInt64 = 0xf_ffff_ff00
    public static let grantFrameMarker: UInt64 = 0xf_ffff_f000
}
