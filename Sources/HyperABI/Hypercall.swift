/// Xen's hypercall numbers (x86-64 PV: `rax` = number, `rdi rsi rdx r10 r8` = arguments).
public enum Hypercall: UInt64, Sendable, CaseIterable {
    case setTrapTable = 0
    case mmuUpdate = 1
    case setGDT = 2
    case stackSwitch = 3
    case setCallbacks = 4
    case fpuTaskswitch = 5
    case schedOpCompat = 6
    case platformOp = 7
    case setDebugreg = 8
    case getDebugreg = 9
    case updateDescriptor = 10
    case memoryOp = 12
    case multicall = 13
    case updateVAMapping = 14
    case setTimerOp = 15
    case eventChannelOpCompat = 16
    case xenVersion = 17
    case consoleIO = 18
    case physdevOpCompat = 19
    case grantTableOp = 20
    case vmAssist = 21
    case updateVAMappingOtherDomain = 22
    case iret = 23
    case vcpuOp = 24
    case setSegmentBase = 25
    case mmuextOp = 26
    case xsmOp = 27
    case nmiOp = 28
    case schedOp = 29
    case callbackOp = 30
    case xenoprofOp = 31
    case eventChannelOp = 32
    case physdevOp = 33
    case hvmOp = 34
    case sysctl = 35
    case domctl = 36
    case kexecOp = 37
    case tmemOp = 38
    case argoOp = 39
    case xenpmuOp = 40
    case dmOp = 41
    case hypfsOp = 42
    case mca = 48
    case pagingDomctlCont = 49

    /// Xen's name for the call, as in `__HYPERVISOR_<name>`.
    public var xenName: String {
        switch self {
        case .setTrapTable: "set_trap_table"
        case .mmuUpdate: "mmu_update"
        case .setGDT: "set_gdt"
        case .stackSwitch: "stack_switch"
        case .setCallbacks: "set_callbacks"
        case .fpuTaskswitch: "fpu_taskswitch"
        case .schedOpCompat: "sched_op_compat"
        case .platformOp: "platform_op"
        case .setDebugreg: "set_debugreg"
        case .getDebugreg: "get_debugreg"
        case .updateDescriptor: "update_descriptor"
        case .memoryOp: "memory_op"
        case .multicall: "multicall"
        case .updateVAMapping: "update_va_mapping"
        case .setTimerOp: "set_timer_op"
        case .eventChannelOpCompat: "event_channel_op_compat"
        case .xenVersion: "xen_version"
        case .consoleIO: "console_io"
        case .physdevOpCompat: "physdev_op_compat"
        case .grantTableOp: "grant_table_op"
        case .vmAssist: "vm_assist"
        case .updateVAMappingOtherDomain: "update_va_mapping_otherdomain"
        case .iret: "iret"
        case .vcpuOp: "vcpu_op"
        case .setSegmentBase: "set_segment_base"
        case .mmuextOp: "mmuext_op"
        case .xsmOp: "xsm_op"
        case .nmiOp: "nmi_op"
        case .schedOp: "sched_op"
        case .callbackOp: "callback_op"
        case .xenoprofOp: "xenoprof_op"
        case .eventChannelOp: "event_channel_op"
        case .physdevOp: "physdev_op"
        case .hvmOp: "hvm_op"
        case .sysctl: "sysctl"
        case .domctl: "domctl"
        case .kexecOp: "kexec_op"
        case .tmemOp: "tmem_op"
        case .argoOp: "argo_op"
        case .xenpmuOp: "xenpmu_op"
        case .dmOp: "dm_op"
        case .hypfsOp: "hypfs_op"
        case .mca: "mca"
        case .pagingDomctlCont: "paging_domctl_cont"
        }
    }

    /// Number of 32-byte slots in the hypercall page.
    public static let pageSlots = 128
    /// Size of one hypercall-page slot.
    public static let slotSize = 32
    /// Numbers at or above this are counted in one "other" bucket by per-call statistics.
    public static let statisticsBuckets = 64
}
