// Clock.swift - Xen system time (pvclock), the wall clock, VIRQ_TIMER
// timers, sleeping, idling and steal time.

import CGuestKit

public enum Clock {
    /// Nanoseconds per second, millisecond, microsecond.
    public static let second: UInt64 = 1_000_000_000
    public static let millisecond: UInt64 = 1_000_000
    public static let microsecond: UInt64 = 1_000

    /// System time in ns (pvclock + TSC).
    public static func now() -> UInt64 {
        gk_now_ns()
    }

    /// UTC wall-clock time.
    public static func wallClock() -> (seconds: UInt64, nanoseconds: UInt32) {
        var sec: UInt64 = 0
        var nsec: UInt32 = 0
        gk_wallclock(&sec, &nsec)
        return (sec, nsec)
    }

    /// Blocks for `nanoseconds` (single-shot timer + SCHEDOP_block).
    public static func sleep(nanoseconds: UInt64) {
        gk_sleep_ns(nanoseconds)
    }

    /// Blocks until system time `deadline`.
    public static func sleep(until deadline: UInt64) {
        gk_sleep_until(deadline)
    }

    /// VIRQ_TIMER's port (bound on first use).
    public static func timerChannel() throws(XenError) -> EventChannel {
        EventChannel(port: evtchn_port_t(try XenError.check(Int(gk_timer_port()))))
    }

    /// One VIRQ_TIMER at system time `deadline` (VCPUOP_set_singleshot_timer).
    public static func setTimer(deadline: UInt64) throws(XenError) {
        _ = try XenError.check(Int(gk_timer_set(deadline)))
    }

    /// Cancels the single-shot timer.
    public static func cancelTimer() throws(XenError) {
        _ = try XenError.check(Int(gk_timer_cancel()))
    }

    /// A VIRQ_TIMER every `nanoseconds` (at least 1 ms); 0 stops it.
    public static func setPeriodic(nanoseconds: UInt64) throws(XenError) {
        _ = try XenError.check(Int(gk_timer_periodic(nanoseconds)))
    }

    /// Blocks forever with events enabled; handlers keep running.
    public static func idle() -> Never {
        gk_idle()
    }

    /// Has the hypervisor keep this vCPU's runstate up to date
    /// (VCPUOP_register_runstate_memory_area).
    public static func registerRunstate() throws(XenError) {
        _ = try XenError.check(Int(gk_runstate_register()))
    }

    /// A consistent copy of the runstate, if registered.
    public static func runstate() -> vcpu_runstate_info? {
        var r = vcpu_runstate_info()
        return gk_runstate(&r) == 0 ? r : nil
    }

    /// Time spent runnable or offline (steal), in ns; 0 without a runstate area.
    public static var stealTime: UInt64 {
        gk_steal_ns()
    }
}
