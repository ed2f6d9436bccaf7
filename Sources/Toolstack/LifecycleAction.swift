/// What the toolstack does when a domain powers off, reboots, crashes or trips its watchdog: the values
/// of xl's `on_poweroff`, `on_reboot`, `on_crash` and `on_watchdog`, spelled as xl spells them.
public enum LifecycleAction: String, Sendable, CaseIterable, Codable {
    /// Destroy the domain and free everything it held.
    case destroy
    /// Destroy the domain and build a fresh one from the same configuration.
    case restart
    /// Keep the stopped domain and its memory for inspection until someone destroys it.
    case preserve
    /// Keep the stopped domain under a new name and start a fresh one under the old name.
    case renameRestart = "rename-restart"
    /// Write the domain's memory to a core file, then destroy it.
    case coredumpDestroy = "coredump-destroy"
    /// Write the domain's memory to a core file, then restart it.
    case coredumpRestart = "coredump-restart"
    /// Reset the domain in place, memory kept, so the guest can boot again (kexec-style crash kernels).
    case softReset = "soft-reset"
}
