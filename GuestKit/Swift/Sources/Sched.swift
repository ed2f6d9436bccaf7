// Sched.swift - the sched_op hypercall.

import CGuestKit

public enum Sched {
    /// Why a domain stops (SHUTDOWN_* in <xen/sched.h>).
    public enum ShutdownReason: UInt32 {
        case poweroff = 0
        case reboot = 1
        case suspend = 2
        case crash = 3
        case watchdog = 4
        case softReset = 5
    }

    /// SCHEDOP_yield: let other vCPUs run.
    public static func yield() throws(XenError) {
        _ = try XenError.check(Hypervisor.schedOp(SCHEDOP_yield, nil))
    }

    /// SCHEDOP_shutdown with `reason`, after flushing the console.
    /// Never returns (falls back to a crash stop if the hypervisor refuses).
    public static func shutdown(_ reason: ShutdownReason) -> Never {
        gk_shutdown(reason.rawValue)
    }
}
