import HyperABI
import Synchronization

/// The hypervisor: machine memory, the frame table, the domains, and the platform that runs them.
public final class Hypervisor: Sendable {
    public let memory: MachineMemory
    public let frames: FrameTable
    public let platform: any Platform
    /// Hands out the physical CPUs.
    public let scheduler: CreditScheduler
    private struct Table {
        var live: [UInt16: Domain] = [:]
        var nextID: UInt16 = DomainID.firstGuest
    }
    private let table = Mutex(Table())
    /// Dom0's event-channel ends, by Dom0 port number.
    let dom0Ports = Mutex<[UInt32: Dom0Channel]>([:])
    let nextDom0Port = Atomic<UInt32>(0)
    /// Frames of dead domains still mapped by others (grant mappings), with their pins.
    let orphans = Mutex<[UInt64: Int]>([:])

    /// Creates a hypervisor over `memory` with a platform built for its frame table.
    public init(memory: MachineMemory, pcpus: Int = CreditScheduler.hostCPUs,
                platform makePlatform: (FrameTable) throws(HypervisorError) -> any Platform) throws(HypervisorError) {
        self.memory = memory
        self.scheduler = CreditScheduler(pcpus: pcpus)
        self.frames = FrameTable(memory: memory)
        self.platform = try makePlatform(frames)
    }

    /// The privileged interface Dom0's toolstack uses to build and steer domains.
    public var control: DomainControl { DomainControl(hypervisor: self) }

    /// Domains that have not yet finished, by id.
    public var domains: [Domain] { table.withLock { Array($0.live.values).sorted { $0.id < $1.id } } }

    func domain(_ id: UInt16) throws(HypervisorError) -> Domain {
        guard let d = table.withLock({ $0.live[id] }) else {
            throw HypervisorError(.ESRCH, "domain \(id)", "look up", "no such domain")
        }
        return d
    }

    func register(_ make: (UInt16) throws(HypervisorError) -> Domain) throws(HypervisorError) -> Domain {
        let id: UInt16 = try table.withLock { (t) throws(HypervisorError) -> UInt16 in
            var id = t.nextID
            while t.live[id] != nil { id = id >= DomainID.maxGuest ? DomainID.firstGuest : id + 1 }
            guard t.live.count < Int(DomainID.maxGuest) else {
                throw HypervisorError(.ENOSPC, "hypervisor", "create domain", "no free domain id")
            }
            t.nextID = id >= DomainID.maxGuest ? DomainID.firstGuest : id + 1
            return id
        }
        let d = try make(id)
        table.withLock { $0.live[id] = d }
        return d
    }

    /// A domain that has not finished, by id.
    func liveDomain(_ id: UInt16) -> Domain? { table.withLock { $0.live[id] } }

    func domainFinished(_ d: Domain) {
        table.withLock { t in if t.live[d.id] === d { t.live[d.id] = nil } }
    }
}
