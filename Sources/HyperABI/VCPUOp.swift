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
