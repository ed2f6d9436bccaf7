/// `sched_op` (hypercall 29) sub-ops: `sched_op(cmd, arg)`.
public enum SchedOpCommand: UInt64, Sendable {
    case yield = 0
    case block = 1
    case shutdown = 2
    case poll = 3
    case remoteShutdown = 4
    case shutdownCode = 5
    case watchdog = 6
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
