/// `sched_op` (hypercall 29) sub-ops: `sched_op(cmd, arg)`.
public enum SchedOpCommand: UInt64, Sendable {
    case yield = 0
    case block = 1
    case shutdown = 2
    case poll = 3
    case remoteShutdown = 4
    case shutdownCode = 5
    case watchdog = 6
    /// This hypervisor's extension, in a private range Xen does not use (0x1000–0x10ff): the priority
    /// hint. arg → `struct sched_priority_hint { uint32_t background; }`: 1 marks the work the vCPU does
    /// from now on as background (it runs only when no normal work of any domain is runnable), 0 clears
    /// it. Blocking, polling or taking an event clears it too, so a guest that forgets cannot starve its
    /// own later normal work.
    case priorityHint = 0x1000
}

/// `SHUTDOWN_*` reasons carried by `struct sched_shutdown { unsigned int reason; }`.
public enum ShutdownReason: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case poweroff = 0
    case reboot = 1
    case suspend = 2
    case crash = 3
    case watchdog = 4

    public var description: String {
        switch self {
        case .poweroff: "poweroff"
        case .reboot: "reboot"
        case .suspend: "suspend"
        case .crash: "crash"
        case .watchdog: "watchdog"
        }
    }

    /// Size of `struct sched_shutdown`.
    public static let structSize = 4
}
