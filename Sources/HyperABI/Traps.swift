/// `struct trap_info` (16 bytes): one entry of a PV guest's virtual IDT (`set_trap_table`, hypercall 0).
public enum TrapInfoLayout {
    public static let size = 16
    public static let vector = 0     // u8
    public static let flags = 1      // u8: bits 1:0 = DPL for `int n`; bit 2 = disable events on entry
    public static let cs = 2         // u16, ignored for 64-bit PV
    public static let address = 8    // u64, 0 = no handler
    /// `flags` bit 2: deliver like an interrupt gate (set evtchn_upcall_mask).
    public static let disableEventsFlag: UInt8 = 1 << 2
}

/// `struct iret_context` (72 bytes) found at the guest's RSP when it issues the `iret` hypercall (23).
public enum IretContextLayout {
    public static let size = 72
    public static let rax = 0, r11 = 8, rcx = 16, flags = 24, rip = 32, cs = 40, rflags = 48, rsp = 56, ss = 64
    /// `VGCF_in_syscall`: return as SYSRET would (RCX/R11 from RIP/RFLAGS, not from the frame).
    public static let inSyscall: UInt64 = 1 << 8
}

/// Callback types of `callback_op` (hypercall 30) and `struct callback_register`.
public enum CallbackType: UInt16, Sendable, CaseIterable {
    case event = 0
    case failsafe = 1
    case syscall = 2
    case sysenterDeprecated = 3
    case nmi = 4
    case sysenter = 5
    case syscall32 = 7
}

/// `callback_op` commands and structure layouts.
public enum CallbackOp {
    public static let register: UInt64 = 0
    public static let unregister: UInt64 = 1
    /// `struct callback_register` (16 bytes): type u16 @0, flags u16 @2, address u64 @8.
    public static let registerSize = 16
    public static let registerFlagsOffset = 2
    public static let registerAddressOffset = 8
    /// `struct callback_unregister` (4 bytes): type u16 @0.
    public static let unregisterSize = 4
    /// `CALLBACKF_mask_events`.
    public static let maskEvents: UInt16 = 1 << 0
}

/// `set_segment_base` (hypercall 25) selectors.
public enum SegmentBase: UInt64, Sendable {
    case fs = 0
    case gsUser = 1
    case gsKernel = 2
    case gsUserSelector = 3
}

/// `vm_assist` (hypercall 21) commands and types.
public enum VMAssist {
    public static let enable: UInt64 = 0
    public static let disable: UInt64 = 1
    /// Types valid for a 64-bit PV guest (bit numbers of the assist mask).
    public static let validTypes: Set<UInt64> = [0, 1, 2, 3, 4, 5, 32]
}

/// Xen's PV MSRs for segment bases, emulated for `wrmsr`/`rdmsr` at CPL 3.
public enum SegmentMSR {
    public static let fsBase: UInt32 = 0xc000_0100
    public static let gsBase: UInt32 = 0xc000_0101
    public static let shadowGSBase: UInt32 = 0xc000_0102
    public static let efer: UInt32 = 0xc000_0080
}

/// `update_va_mapping` flags (`UVMF_*`).
public enum UVMF {
    public static let none: UInt64 = 0
    public static let tlbFlush: UInt64 = 1
    public static let invlpg: UInt64 = 2
    public static let flushTypeMask: UInt64 = 3
    public static let all: UInt64 = 4
}
