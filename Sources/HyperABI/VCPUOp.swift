/// `vcpu_op` (hypercall 24) commands: `vcpu_op(cmd, vcpuid, arg)`.
public enum VCPUOpCommand: UInt64, Sendable {
    case initialise = 0
    case up = 1
    case down = 2
    case isUp = 3
    case getRunstateInfo = 4
    case registerRunstateMemoryArea = 5
    case setPeriodicTimer = 6
    case stopPeriodicTimer = 7
    case setSingleshotTimer = 8
    case stopSingleshotTimer = 9
    case registerVCPUInfo = 10
    case sendNMI = 11
    case getPhysID = 12
    case registerVCPUTimeMemoryArea = 13
    case registerRunstatePhysArea = 14
    case registerVCPUTimePhysArea = 15
}

/// Layouts of the `vcpu_op` argument structures.
public enum VCPUOpLayout {
    /// vcpu_set_singleshot_timer: timeout_abs_ns u64 @0, flags u32 @8.
    public static let singleshotSize = 16
    /// vcpu_set_periodic_timer: period_ns u64 @0.
    public static let periodicSize = 8
    /// vcpu_register_runstate_memory_area: addr u64 @0 (guest virtual).
    public static let runstateAreaSize = 8
    /// vcpu_register_vcpu_info: mfn u64 @0, offset u32 @8, rsvd u32 @12.
    public static let registerVCPUInfoSize = 16
    /// Shortest periodic timer Xen accepts (1 ms).
    public static let minimumPeriodNanos: UInt64 = 1_000_000
}

/// `struct vcpu_runstate_info` (48 bytes): state s32 @0, state_entry_time u64 @8, time[4] u64 @16.
public enum RunstateLayout {
    public static let size = 48
    public static let state = 0
    public static let stateEntryTime = 8
    public static let time = 16
}

/// `RUNSTATE_*`.
public enum RunState: Int32, Sendable {
    case running = 0
    case runnable = 1
    case blocked = 2
    case offline = 3
}

/// `struct sched_poll` (24 bytes): ports handle @0, nr_ports u32 @8, timeout u64 @16.
public enum SchedPollLayout {
    public static let size = 24
    public static let ports = 0
    public static let nrPorts = 8
    public static let timeout = 16
}

/// `struct sched_remote_shutdown` (8 bytes): domain_id u16 @0, reason u32 @4.
public enum SchedRemoteShutdownLayout {
    public static let size = 8
}

/// `struct vcpu_time_info` (32 bytes) inside vcpu_info: Xen's pvclock (byte-identical to KVM's).
public enum VCPUTimeLayout {
    public static let version = 0, tscTimestamp = 8, systemTime = 16, tscToSystemMul = 24, tscShift = 28, flags = 29
    public static let size = 32
}

/// `struct multicall_entry` (64 bytes): op u64 @0, result u64 @8 (OUT), args[6] u64 @16.
public enum MulticallLayout {
    public static let size = 64
    public static let result = 8
    public static let args = 16
    /// Calls per multicall Xen would run before preempting; a longer list is refused here.
    public static let maximumEntries = 1024
}

/// `memory_op` (hypercall 12) commands (`cmd & 0xf`; the upper bits carry continuation state).
public enum MemoryOpCommand: UInt64, Sendable {
    case increaseReservation = 0
    case decreaseReservation = 1
    case maximumRAMPage = 2
    case currentReservation = 3
    case maximumReservation = 4
    case machphysMFNList = 5
    case populatePhysmap = 6
    case addToPhysmap = 7
    case memoryMap = 9
    case machineMemoryMap = 10
    case exchange = 11
    case machphysMapping = 12
}

/// Layouts of the `memory_op` argument structures (x86-64).
public enum MemoryOpLayout {
    /// xen_memory_reservation: extent_start handle @0, nr_extents u64 @8, extent_order u32 @16,
    /// mem_flags u32 @20, domid u16 @24 (32 bytes with padding).
    public static let reservationSize = 32
    public static let extentStart = 0, nrExtents = 8, extentOrder = 16, memFlags = 20, domid = 24
    /// xen_memory_map: nr_entries u32 @0 (IN/OUT), buffer handle @8.
    public static let memoryMapSize = 16
    /// One E820 entry: addr u64, size u64, type u32 (20 bytes, packed).
    public static let e820EntrySize = 20
    public static let e820RAM: UInt32 = 1
    /// xen_add_to_physmap: domid u16 @0, size u16 @2, space u32 @4, idx u64 @8, gpfn u64 @16.
    public static let addToPhysmapSize = 24
    public static let spaceSharedInfo: UInt32 = 0
    public static let spaceGrantTable: UInt32 = 1
    /// xen_machphys_mapping: v_start, v_end, max_mfn (3 × u64).
    public static let machphysMappingSize = 24
    /// The largest extent order accepted (Xen lets a PV domU ask for up to order 9 by default).
    public static let maximumOrder: UInt32 = 9
}

/// `struct vcpu_guest_context` for x86-64 (5168 bytes): VCPUOP_initialise's argument.
public enum VCPUGuestContextLayout {
    public static let size = 5168
    /// FXSAVE image (512 bytes), loaded only with VGCF_i387_valid.
    public static let fpuContext = 0
    public static let flags = 512
    /// `struct cpu_user_regs` (CPUUserRegsLayout).
    public static let userRegs = 520
    /// `struct trap_info trap_ctxt[256]`: entry i is vector i.
    public static let trapContext = 720
    public static let ldtBase = 4816, ldtEntries = 4824
    /// `gdt_frames[16]` (MFNs), then `gdt_ents`.
    public static let gdtFrames = 4832, gdtEntries = 4960
    public static let maxGDTFrames = 16
    public static let kernelSS = 4968, kernelSP = 4976
    /// `ctrlreg[8]`: [1] the user L4 and [3] the kernel L4, both in CR3 format (MFN << 12).
    public static let controlRegisters = 4984
    public static let debugRegisters = 5048
    public static let eventCallback = 5112, failsafeCallback = 5120, syscallCallback = 5128
    public static let vmAssist = 5136
    public static let fsBase = 5144, gsBaseKernel = 5152, gsBaseUser = 5160

    /// `VGCF_*` flags.
    public static let flagI387Valid: UInt64 = 1 << 0
    public static let flagInKernel: UInt64 = 1 << 2
    public static let flagFailsafeDisablesEvents: UInt64 = 1 << 3
    public static let flagSyscallDisablesEvents: UInt64 = 1 << 4
    public static let flagOnline: UInt64 = 1 << 5
}

/// `struct cpu_user_regs` for x86-64 (200 bytes).
public enum CPUUserRegsLayout {
    public static let size = 200
    /// r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rax, rcx, rdx, rsi, rdi: 8 bytes each from offset 0.
    public static let r15 = 0, r14 = 8, r13 = 16, r12 = 24, rbp = 32, rbx = 40, r11 = 48, r10 = 56, r9 = 64, r8 = 72
    public static let rax = 80, rcx = 88, rdx = 96, rsi = 104, rdi = 112
    public static let errorCode = 120, entryVector = 124
    public static let rip = 128, cs = 136, savedUpcallMask = 140, rflags = 144, rsp = 152, ss = 160
    public static let es = 168, ds = 176, fs = 184, gs = 192
}
