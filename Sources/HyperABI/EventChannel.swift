/// `event_channel_op` (hypercall 32) commands: `event_channel_op(cmd, arg)`.
public enum EventChannelCommand: UInt64, Sendable {
    case bindInterdomain = 0
    case bindVIRQ = 1
    case bindPIRQ = 2
    case close = 3
    case send = 4
    case status = 5
    case allocUnbound = 6
    case bindIPI = 7
    case bindVCPU = 8
    case unmask = 9
    case reset = 10
    case initControl = 11
    case expandArray = 12
    case setPriority = 13
}

/// Layouts of the `event_channel_op` argument structures (x86-64).
public enum EventChannelLayout {
    /// evtchn_bind_interdomain: remote_dom u16 @0, remote_port u32 @4, local_port u32 @8 (OUT).
    public static let bindInterdomainSize = 12
    /// evtchn_bind_virq: virq u32 @0, vcpu u32 @4, port u32 @8 (OUT).
    public static let bindVIRQSize = 12
    /// evtchn_close / evtchn_send / evtchn_unmask: port u32 @0.
    public static let portSize = 4
    /// evtchn_status: dom u16 @0, port u32 @4, status u32 @8 (OUT), vcpu u32 @12 (OUT), union @16.
    public static let statusSize = 24
    /// evtchn_alloc_unbound: dom u16 @0, remote_dom u16 @2, port u32 @4 (OUT).
    public static let allocUnboundSize = 8
    /// evtchn_bind_ipi: vcpu u32 @0, port u32 @4 (OUT).
    public static let bindIPISize = 8
    /// evtchn_bind_vcpu: port u32 @0, vcpu u32 @4.
    public static let bindVCPUSize = 8
    /// evtchn_reset: dom u16 @0.
    public static let resetSize = 2
    /// Ports of the 2-level ABI on a 64-bit guest (64 words of 64 bits).
    public static let maxPorts = 4096
}

/// `EVTCHNSTAT_*`: what `EVTCHNOP_status` reports for a port.
public enum EventChannelStatus: UInt32, Sendable {
    case closed = 0
    case unbound = 1
    case interdomain = 2
    case pirq = 3
    case virq = 4
    case ipi = 5
}

/// Virtual IRQs (`VIRQ_*`).
public enum VIRQ: UInt32, Sendable, CaseIterable {
    case timer = 0
    case debug = 1
    case console = 2
    case domExc = 3
    case tbuf = 4
    case debugger = 6
    case xenoprof = 7
    case conRing = 8
    case pcpuState = 9
    case memEvent = 10
    case argo = 11
    case enomem = 12
    case xenpmu = 13

    /// Per-vCPU VIRQs bind on any vCPU (one port per vCPU); the others are global and bind on vCPU 0.
    public var isPerVCPU: Bool { self == .timer || self == .debug || self == .xenoprof || self == .xenpmu }
    /// Number of VIRQs (`NR_VIRQS`).
    public static let count = 24
}
