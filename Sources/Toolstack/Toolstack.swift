import HyperABI
import Hypervisor
import KVM

/// Dom0's toolstack: owns the hypervisor, builds domains from configs, starts, waits for and destroys them.
public final class Toolstack: Sendable {
    public let hypervisor: Hypervisor
    public var control: DomainControl { hypervisor.control }
    /// XenStore and the console back-end, connected to every domain this toolstack builds.
    public let services: Dom0Services
    /// Lifecycle and failure messages (`hv dmesg`).
    public let log: HypervisorLog
    public var builder: DomainBuilder { DomainBuilder(control: control, services: services) }

    /// Brings up the hypervisor on KVM with `machineMemoryBytes` of machine memory (sparse) and
    /// `pcpus` physical CPUs for the scheduler to hand out (default: the host's).
    public init(machineMemoryBytes: Int, pcpus: Int = CreditScheduler.hostCPUs, log: HypervisorLog = HypervisorLog(echo: false)) throws(ToolstackError) {
        guard pcpus >= 1 else { throw .invalid(object: "pcpus", problem: "\(pcpus) physical CPUs: need at least 1") }
        HostUsage.raiseOpenFileLimit()
        do {
            let memory = try MachineMemory(bytes: machineMemoryBytes)
            hypervisor = try Hypervisor(memory: memory, pcpus: pcpus) { (frames) throws(HypervisorError) -> any Platform in
                try KVMPlatform(frames: frames)
            }
        } catch {
            throw .hypervisor(error)
        }
        self.log = log
        services = Dom0Services(control: hypervisor.control, log: log)
    }

    /// Builds a domain and leaves it paused.
    public func create(_ config: DomainConfig) throws(ToolstackError) -> Domain {
        try builder.build(config)
    }

    /// Starts a built domain.
    public func start(_ domain: Domain) throws(ToolstackError) {
        do { try control.unpause(domain) } catch { throw .hypervisor(error) }
    }

    public func destroy(_ domain: Domain) { control.destroy(domain) }
}

/// `hv run`'s exit status for a domain that ended: 0 for poweroff, 10 + Xen's SHUTDOWN_ code otherwise,
/// 13 (crash) also when the hypervisor ended it, 15 when it was destroyed from Dom0.
public enum ExitStatus {
    public static func code(for state: DomainState) -> Int32 {
        switch state {
        case .shutdown(.poweroff): 0
        case .shutdown(let r): 10 + Int32(r.rawValue)
        case .crashed: 10 + Int32(ShutdownReason.crash.rawValue)
        case .destroyed: 15
        case .created, .running: 16
        }
    }

    /// The table printed by `hv run --help` and the README.
    public static let legend = """
    0 every domain powered off; 1 hv could not build or run a domain; 11 reboot; 12 suspend;
    13 crash (SHUTDOWN_crash, or ended by the hypervisor); 14 watchdog; 15 destroyed; 64 usage error.
    With several domains the highest code wins.
    """
}
