import HyperABI
import Synchronization

/// Dom0's end of an event channel with a guest. Dom0 is host code, not a guest domain: its end is a
/// callback the guest's EVTCHNOP_send runs (on the guest's vCPU thread, so it must only wake a service
/// thread), and `notify()` sets the guest's port pending. The guest sees an ordinary interdomain port
/// bound to domain 0, as with Xen's xenstored and xenconsoled.
public final class Dom0Channel: @unchecked Sendable {
    /// Dom0's port number (the guest's status call reports it as the remote port).
    public let port: UInt32
    /// The guest's port, for start_info or XenStore.
    public let guestPort: UInt32
    public let domain: Domain
    let handler: @Sendable () -> Void

    init(port: UInt32, guestPort: UInt32, domain: Domain, handler: @escaping @Sendable () -> Void) {
        self.port = port; self.guestPort = guestPort; self.domain = domain; self.handler = handler
    }

    /// Raises the event on the guest's port (as Xen's evtchn_send from the back-end's side).
    public func notify() {
        let target = domain.events.withLock { t -> Int? in
            guard case .interdomain(DomainID.dom0, port) = t.binding(guestPort) else { return nil }
            return t.notify[Int(guestPort)]
        }
        if let target { domain.setPending(guestPort, notify: target) }
    }

    /// Whether the guest still has its end bound to this channel.
    public var isConnected: Bool {
        domain.events.withLock { t in
            if case .interdomain(DomainID.dom0, port) = t.binding(guestPort) { return true }
            return false
        }
    }

    /// Ends Dom0's side: the guest's port reverts to unbound (it learns of it as from any closing peer).
    public func close() {
        domain.hypervisor?.dom0Ports.withLock { $0[port] = nil }
        let reverted = domain.events.withLock { t -> Bool in
            guard case .interdomain(DomainID.dom0, port) = t.binding(guestPort) else { return false }
            t.ports[Int(guestPort)] = .unbound(remote: DomainID.dom0)
            return true
        }
        if reverted { domain.setPending(guestPort, notify: 0) }
    }
}

extension DomainControl {
    /// Opens an event channel between `domain` and Dom0 (what Xen's builder and daemons do for the store
    /// and console): a new guest port, already bound to a Dom0 port whose events run `handler`.
    public func openDom0Channel(_ domain: Domain, handler: @escaping @Sendable () -> Void) throws(HypervisorError) -> Dom0Channel {
        let dom0Port = hypervisor.nextDom0Port.add(1, ordering: .relaxed).newValue
        let guestPort: UInt32
        do {
            guestPort = try domain.events.withLock { (t) throws(XenErrno) in
                try t.allocate(.interdomain(remoteDomain: DomainID.dom0, remotePort: dom0Port))
            }
        } catch {
            throw HypervisorError(error, domain.label, "open an event channel to Dom0", "no free port")
        }
        return registerDom0Channel(port: dom0Port, guestPort: guestPort, domain: domain, handler: handler)
    }

    private func registerDom0Channel(port: UInt32, guestPort: UInt32, domain: Domain, handler: @escaping @Sendable () -> Void) -> Dom0Channel {
        let channel = Dom0Channel(port: port, guestPort: guestPort, domain: domain, handler: handler)
        hypervisor.dom0Ports.withLock { $0[port] = channel }
        return channel
    }

    /// Binds Dom0 to a port the guest allocated for it (EVTCHNOP_alloc_unbound with remote domain 0, as
    /// front-ends do, then tell the back-end through XenStore).
    public func bindDom0Channel(_ domain: Domain, guestPort: UInt32, handler: @escaping @Sendable () -> Void) throws(HypervisorError) -> Dom0Channel {
        let dom0Port = hypervisor.nextDom0Port.add(1, ordering: .relaxed).newValue
        let bound = domain.events.withLock { t -> Bool in
            guard case .unbound(DomainID.dom0)? = t.binding(guestPort) else { return false }
            t.ports[Int(guestPort)] = .interdomain(remoteDomain: DomainID.dom0, remotePort: dom0Port)
            return true
        }
        guard bound else {
            throw HypervisorError(.EINVAL, domain.label, "bind port \(guestPort) to Dom0", "the port is not offered to domain 0")
        }
        return registerDom0Channel(port: dom0Port, guestPort: guestPort, domain: domain, handler: handler)
    }
}

extension Hypervisor {
    /// A guest sent on a port bound to Dom0's `port`: run that channel's handler.
    func signalDom0(_ port: UInt32, from domain: UInt16) {
        guard let channel = dom0Ports.withLock({ $0[port] }), channel.domain.id == domain else { return }
        channel.handler()
    }
}
