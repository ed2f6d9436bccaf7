import HyperABI

/// One entry of a vCPU's virtual IDT (`trap_info`).
public struct TrapEntry: Sendable, Equatable {
    public var address: UInt64 = 0
    /// DPL for software `int n` (bits 1:0 of trap_info.flags).
    public var dpl: UInt8 = 0
    /// trap_info.flags bit 2: mask events on entry, like an interrupt gate.
    public var disablesEvents = false
    public init() {}
}

/// A registered guest callback (event upcall, failsafe, syscall …).
public struct Callback: Sendable, Equatable {
    public var address: UInt64 = 0
    public var masksEvents = false
    public init() {}
    public init(address: UInt64, masksEvents: Bool) { self.address = address; self.masksEvents = masksEvents }
}

/// What the platform must load into the real CPU before it resumes the vCPU.
public struct ArchDirty: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// FS base, active (kernel) GS base, shadow (user) GS base.
    public static let segmentBases = ArchDirty(rawValue: 1 << 0)
    /// CR0.TS.
    public static let taskSwitched = ArchDirty(rawValue: 1 << 1)
    /// Where the pvclock (vcpu_info.time) lives moved.
    public static let timeArea = ArchDirty(rawValue: 1 << 2)
    /// Guest page tables changed under the running vCPU: stale translations must go.
    public static let translations = ArchDirty(rawValue: 1 << 3)
    /// The guest's GDT frames changed (`set_gdt`).
    public static let descriptorTables = ArchDirty(rawValue: 1 << 4)
    /// The page-table base changed (NEW_BASEPTR, or a switch between kernel and user L4).
    public static let baseTable = ArchDirty(rawValue: 1 << 5)
}

/// The paravirtual CPU state Xen keeps per vCPU for an x86-64 PV guest. Owned by the vCPU's thread.
public struct PVState: Sendable {
    /// The virtual IDT: 256 entries set by `set_trap_table`.
    public var trapTable = [TrapEntry](repeating: TrapEntry(), count: 256)
    public var eventCallback = Callback()
    public var failsafeCallback = Callback()
    public var syscallCallback = Callback()
    public var syscall32Callback = Callback()
    public var sysenterCallback = Callback()
    /// Kernel stack for frames built when the guest was in user mode (`stack_switch`).
    public var kernelSS: UInt64 = UInt64(PVLayout.flatKernelSS)
    public var kernelSP: UInt64 = 0
    public var fsBase: UInt64 = 0
    public var gsBaseKernel: UInt64 = 0
    public var gsBaseUser: UInt64 = 0
    /// The GS base the CPU uses now (the kernel's in kernel mode, the user's in user mode: Xen swaps them
    /// on every mode change) and the one it keeps in MSR_KERNEL_GS_BASE.
    public var activeGSBase: UInt64 { kernelMode ? gsBaseKernel : gsBaseUser }
    public var shadowGSBase: UInt64 { kernelMode ? gsBaseUser : gsBaseKernel }
    /// Virtual CR0.TS (`fpu_taskswitch`, `clts`).
    public var taskSwitched = false
    /// Guest kernel mode (true) or guest user mode; both run at CPL 3, as on Xen.
    public var kernelMode = true
    /// The user-mode L4 (MMUEXT_NEW_USER_BASEPTR), 0 when none: returning to user mode needs one.
    public var userL4: UInt64 = 0
    /// Machine frames of the guest's own GDT entries (`set_gdt`), in order.
    public var gdtFrames: [UInt64] = []
    /// Guest-virtual address of the registered `vcpu_runstate_info`, 0 when none.
    public var runstateArea: UInt64 = 0
    /// What changed that the platform has to apply before resuming.
    public var dirty: ArchDirty = []
    public init() {}
}
