import HyperABI
import Synchronization

/// What one event-channel port of a domain is bound to.
enum PortBinding: Sendable, Equatable {
    case free
    /// Allocated, waiting for `remote` to bind to it.
    case unbound(remote: UInt16)
    case interdomain(remoteDomain: UInt16, remotePort: UInt32)
    case virq(VIRQ, vcpu: Int)
    case ipi(vcpu: Int)
}

/// A domain's event-channel ports (2-level ABI: up to 4096), guarded by the domain's own lock.
struct PortTable: Sendable {
    var ports: [PortBinding] = [.free]          // port 0 is never allocated
    var notify: [Int] = [0]                     // vCPU notified for each port
    /// Port bound to (VIRQ, vCPU), for raising VIRQs without a search.
    var virqPorts: [Int: UInt32] = [:]

    static func virqKey(_ v: VIRQ, _ vcpu: Int) -> Int { Int(v.rawValue) << 16 | vcpu }

    func binding(_ port: UInt32) -> PortBinding? {
        port > 0 && Int(port) < ports.count ? ports[Int(port)] : nil
    }

    /// Lowest free port ≥ 1, growing the table up to the ABI's limit.
    mutating func allocate(_ binding: PortBinding, notify vcpu: Int = 0) throws(XenErrno) -> UInt32 {
        if let free = ports.indices.dropFirst().first(where: { ports[$0] == .free }) {
            ports[free] = binding
            notify[free] = vcpu
            return UInt32(free)
        }
        guard ports.count < EventChannelLayout.maxPorts else { throw .ENOSPC }
        ports.append(binding)
        notify.append(vcpu)
        return UInt32(ports.count - 1)
    }

    mutating func release(_ port: UInt32) {
        if case .virq(let v, let vcpu) = ports[Int(port)] { virqPorts[PortTable.virqKey(v, vcpu)] = nil }
        ports[Int(port)] = .free
        notify[Int(port)] = 0
    }
}

extension Domain {
    /// Marks `port` pending and notifies its vCPU, as Xen's 2-level `evtchn_set_pending`. Any thread.
    func setPending(_ port: UInt32, notify vcpuIndex: Int) {
        let word = Int(port / 64) * 8, bit = Int(port % 64)
        if memory.testAndSetBit(mfn: sharedInfoMFN, offset: SharedInfoLayout.evtchnPending + word, bit: bit) { return }
        if !memory.testBit(mfn: sharedInfoMFN, offset: SharedInfoLayout.evtchnMask + word, bit: bit), vcpuIndex < vcpus.count {
            let v = vcpus[vcpuIndex]
            let info = v.vcpuInfo
            if !memory.testAndSetBit(mfn: info.mfn, offset: info.offset + VCPUInfoLayout.pendingSel, bit: Int(port / 64)) {
                markUpcallPending(v)
            }
        }
        // Pollers last, as Xen: one woken earlier would find the port pending but not yet its upcall flag.
        wakePollers()
    }

    /// Sets evtchn_upcall_pending and gets the vCPU to notice: wake it if blocked, kick it if it runs unmasked.
    func markUpcallPending(_ v: VCPU) {
        let info = v.vcpuInfo
        memory.storeByte(mfn: info.mfn, offset: info.offset + VCPUInfoLayout.upcallPending, 1)
        v.parker.wake()
        if !v.eventsMasked {
            // An event is normal work: a background-hinted vCPU waiting for a CPU must get one to take it.
            hypervisor?.scheduler.clearHint(v)
            vm?.kick(v)
        }
    }

    private func wakePollers() {
        for v in vcpus where v.polling.load(ordering: .acquiring) { v.parker.wake() }
    }

    /// Raises a VIRQ: sets the bound port pending (nothing happens while it is unbound, as on Xen).
    public func raiseVIRQ(_ virq: VIRQ, vcpu: Int) {
        let target = virq.isPerVCPU ? vcpu : 0
        let port = events.withLock { $0.virqPorts[PortTable.virqKey(virq, target)] }
        if let port { setPending(port, notify: target) }
    }

    /// Closes every port (domain death, EVTCHNOP_reset); peers' ports go back to unbound.
    func closeAllPorts() {
        let count = events.withLock { $0.ports.count }
        for port in 1..<max(count, 1) { _ = try? closePort(UInt32(port)) }
    }

    /// EVTCHNOP_close: frees `port`; an interdomain peer's port reverts to unbound (it may be bound again).
    func closePort(_ port: UInt32) throws(XenErrno) {
        let binding = try events.withLock { (t) throws(XenErrno) -> PortBinding in
            guard let b = t.binding(port), b != .free else { throw .EINVAL }
            t.release(port)
            return b
        }
        memory.testAndClearBit(mfn: sharedInfoMFN, offset: SharedInfoLayout.evtchnPending + Int(port / 64) * 8, bit: Int(port % 64))
        if case .interdomain(DomainID.dom0, let dom0Port) = binding {
            hypervisor?.signalDom0(dom0Port, from: id)          // Dom0's service looks and finds the guest gone
            return
        }
        if case .interdomain(let remoteDomain, let remotePort) = binding, let peer = hypervisor?.liveDomain(remoteDomain) {
            let revert = peer.events.withLock { t -> Bool in
                guard case .interdomain(id, port) = t.binding(remotePort) else { return false }
                t.ports[Int(remotePort)] = .unbound(remote: id)
                return true
            }
            // The peer learns of the close the way Xen tells it: its port is set pending.
            if revert { peer.setPending(remotePort, notify: peer.events.withLock { $0.notify[Int(remotePort)] }) }
        }
    }
}
