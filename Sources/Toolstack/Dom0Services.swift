import Dispatch
import Foundation
import HyperABI
import Hypervisor
import Synchronization

/// Dom0's services for every domain: the XenStore daemon on each guest's store ring and the console
/// back-end on its console ring. A domain is connected when it is built (Xen's reserved grant refs 0 and
/// 1 name the two pages, two event channels to Dom0 carry the notifications); one service thread answers
/// whichever domains signalled. Each connection is apart from the others: a protocol error ends that
/// connection only, and the reason is kept (`failures`).
public final class Dom0Services: DomainServices, @unchecked Sendable {
    public let store: XenStore
    let control: DomainControl
    private final class Devices: @unchecked Sendable {
        let domain: Domain
        let store: StoreConnection
        let console: ConsoleBackend
        /// Where the builder put the store and console rings (a save file records them).
        var ringPFNs: (store: Int, console: Int) = (0, 0)
        var disks: [BlockBackend] = []
        var vifs: [NetworkBackend] = []
        /// A front-end's xenbus state changed (set from Dom0's watch, taken by the service thread).
        let handshakeDue = Atomic<Bool>(false)
        /// Held while the service thread works on the domain, and by `detach`.
        let lock = Mutex<Void>(())
        /// Failures already written to the log (each once).
        var logged: Set<String> = []
        /// Every connection's failure now, labelled ("store: …", "xvda: …").
        var failures: [String] {
            [store.failure.map { "store: \($0)" }, console.failure.map { "console: \($0)" }].compactMap { $0 }
                + disks.compactMap { d in d.failure.map { "\(d.spec.virtualDevice): \($0)" } }
                + vifs.enumerated().compactMap { (i, v) in v.failure.map { "vif\(domain.id).\(i): \($0)" } }
        }
        init(domain: Domain, store: StoreConnection, console: ConsoleBackend) {
            self.domain = domain; self.store = store; self.console = console
        }
    }
    private let devices = Mutex<[UInt16: Devices]>([:])
    /// The software switches, by bridge name (made when a vif first names one).
    private let switches = Mutex<[String: SoftwareSwitch]>([:])
    private let pending = Mutex<Set<UInt16>>([])
    private let wake = DispatchSemaphore(value: 0)
    private let stopped = Atomic<Bool>(false)

    /// Where connection failures are reported (the hypervisor log).
    let log: HypervisorLog?

    public init(control: DomainControl, log: HypervisorLog? = nil) {
        self.control = control
        self.log = log
        self.store = XenStore()
        defer {
            // Dom0's own watches (front-end states of block devices): tokens "vbd:<domid>:<devid>".
            store.connect(domid: DomainID.dom0) { [weak self] event in self?.dom0WatchFired(event) }
        }
        let thread = Thread { [weak self] in
            while let self, !self.stopped.load(ordering: .acquiring) { self.serviceOnce() }
        }
        thread.name = "dom0-services"
        thread.start()
    }

    deinit {
        stopped.store(true, ordering: .releasing)
        wake.signal()
    }

    /// Connects a freshly built domain: grants, event channels, its XenStore directory.
    public func attach(_ domain: Domain, config: DomainConfig, storePFN: Int, consolePFN: Int) throws(ToolstackError) -> (store: UInt32, console: UInt32) {
        let id = domain.id
        do {
            try control.seedGrant(domain, ref: 0, pfn: consolePFN, to: DomainID.dom0)
            try control.seedGrant(domain, ref: 1, pfn: storePFN, to: DomainID.dom0)
            let consolePage = try control.mapGrant(domain, ref: 0, readonly: false)
            let storePage = try control.mapGrant(domain, ref: 1, readonly: false)
            let storeChannel = try control.openDom0Channel(domain) { [weak self] in self?.signal(id) }
            let consoleChannel = try control.openDom0Channel(domain) { [weak self] in self?.signal(id) }
            let connection = StoreConnection(domid: id, page: storePage, channel: storeChannel, store: store)
            let console = ConsoleBackend(page: consolePage, console: domain.console, channel: consoleChannel)
            let entry = Devices(domain: domain, store: connection, console: console)
            entry.ringPFNs = (storePFN, consolePFN)
            devices.withLock { $0[id] = entry }
            store.connect(domid: id) { [weak self, weak connection] message in
                connection?.queue(message)
                self?.signal(id)
            }
            store.introduceDomain(id, name: domain.name)
            let base = "/local/domain/\(id)"
            for (path, value) in [("store/port", "\(storeChannel.guestPort)"), ("store/ring-ref", "1"),
                                  ("console/port", "\(consoleChannel.guestPort)"), ("console/ring-ref", "0"),
                                  ("console/state", "4"), ("console/type", "xenconsoled"),
                                  ("memory/static-max", "\(domain.maxPages * 4)"), ("memory/target", "\(domain.populatedPages * 4)")] {
                // Dom0's nodes: the guest reads them but cannot change them (as libxl writes them).
                try? store.write("\(base)/\(path)", Array(value.utf8))
                try? store.setPermissions("\(base)/\(path)", [XenStorePermission(.none, DomainID.dom0), XenStorePermission(.read, id)])
            }
            control.onRelease(domain) { [weak self] in self?.detach(id) }
            let devices = self.devices.withLock { $0[id] }
            for disk in config.disks {
                let backend = try BlockBackend(domain: domain, spec: disk, control: control, store: store) { [weak self] in self?.signal(id) }
                devices?.lock.withLock { _ in devices?.disks.append(backend) }
            }
            for (handle, vif) in config.vifs.enumerated() {      // vif/<domid>/<handle>, as xl numbers them
                let bridge = switches.withLock { s in
                    if let b = s[vif.bridge] { return b }
                    let b = SoftwareSwitch(name: vif.bridge)
                    s[vif.bridge] = b
                    return b
                }
                let backend = try NetworkBackend(domain: domain, spec: vif, handle: handle, control: control, store: store, bridge: bridge) { [weak self] in
                    self?.signal(id)
                }
                devices?.lock.withLock { _ in devices?.vifs.append(backend) }
            }
            return (storeChannel.guestPort, consoleChannel.guestPort)
        } catch let error as ToolstackError {
            detach(id)
            throw error
        } catch let error as XenStoreError {
            detach(id)
            throw .invalid(object: domain.label, problem: "XenStore refused a device's nodes: \(error)")
        } catch let error as HypervisorError {
            detach(id)
            throw .hypervisor(error)
        } catch {
            detach(id)
            throw .invalid(object: domain.label, problem: "\(error)")
        }
    }

    /// A watch of Dom0's fired: a front-end changed state; its domain's service pass looks at it.
    private func dom0WatchFired(_ event: XenStoreMessage) {
        let fields = event.payload.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard fields.count >= 2, fields[1].hasPrefix("vbd:") || fields[1].hasPrefix("vif:") else { return }
        let parts = fields[1].split(separator: ":")
        guard parts.count == 3, let id = UInt16(parts[1]), let d = devices.withLock({ $0[id] }) else { return }
        d.handshakeDue.store(true, ordering: .releasing)
        signal(id)
    }

    /// A guest notified one of its channels to Dom0 (runs on its vCPU thread: only note it and wake up).
    private func signal(_ id: UInt16) {
        let first = pending.withLock { $0.insert(id).inserted }
        if first { wake.signal() }
    }

    /// Waits for a signal (at most a second, so the thread notices when the services are gone) and serves.
    private func serviceOnce() {
        guard wake.wait(timeout: .now() + 1) == .success else { return }
        let ids = pending.withLock { p in defer { p.removeAll() }; return p }
        for id in ids {
            guard let d = devices.withLock({ $0[id] }) else { continue }
            d.lock.withLock { _ in
                d.store.service()
                d.console.service()
                if d.handshakeDue.exchange(false, ordering: .acquiringAndReleasing) {
                    d.disks.forEach { $0.frontendChanged() }
                    d.vifs.forEach { $0.frontendChanged() }
                }
                d.disks.forEach { $0.service() }
                d.vifs.forEach { $0.service() }
                if let log {
                    for failure in d.failures where d.logged.insert(failure).inserted {
                        log.add("\(d.domain.label): back-end connection closed: \(failure)", level: "warning")
                    }
                }
            }
        }
    }

    /// Disconnects a domain that is going away: its pages are let go before its frames are freed.
    func detach(_ id: UInt16) {
        guard let d = devices.withLock({ $0.removeValue(forKey: id) }) else { return }
        d.lock.withLock { _ in
            d.console.service()                 // what the guest wrote last still reaches its log
            d.store.page.unmap()
            d.console.page.unmap()
            d.store.channel.close()
            d.console.channel.close()
            d.disks.forEach { $0.close() }
            d.vifs.forEach { $0.close() }
        }
        store.disconnect(domid: id)
        store.releaseDomain(id)
    }

    /// The PFNs of a domain's store and console rings, and the guest ports of their channels.
    public func rings(_ id: UInt16) -> (storePFN: Int, consolePFN: Int, storePort: UInt32, consolePort: UInt32)? {
        guard let d = devices.withLock({ $0[id] }) else { return nil }
        return d.lock.withLock { _ in (d.ringPFNs.store, d.ringPFNs.console, d.store.channel.guestPort, d.console.channel.guestPort) }
    }

    /// Keys typed at `hv console`: queued for the guest and moved into its console ring now.
    public func consoleInput(_ domain: Domain, _ bytes: [UInt8]) {
        domain.console.input(bytes)
        signal(domain.id)
    }

    /// Why a domain's store, console, disk or vif connections were ended, if they were.
    public func failures(_ id: UInt16) -> (store: String?, console: String?, disks: [String?], vifs: [String?]) {
        guard let d = devices.withLock({ $0[id] }) else { return (nil, nil, [], []) }
        return d.lock.withLock { _ in (d.store.failure, d.console.failure, d.disks.map(\.failure), d.vifs.map(\.failure)) }
    }

    /// Each vif of a domain: connected, frames sent and received, frames dropped.
    public func vifStatus(_ id: UInt16) -> [(vif: VifSpec, connected: Bool, transmitted: UInt64, received: UInt64, dropped: UInt64)] {
        guard let d = devices.withLock({ $0[id] }) else { return [] }
        return d.lock.withLock { _ in
            d.vifs.map { ($0.spec, $0.isConnected, $0.transmitted.load(ordering: .relaxed), $0.received.load(ordering: .relaxed),
                          $0.dropped.load(ordering: .relaxed)) }
        }
    }

    /// Requests answered and whether each disk of a domain is connected, for tools and tests.
    public func diskStatus(_ id: UInt16) -> [(disk: DiskSpec, connected: Bool, requests: UInt64)] {
        guard let d = devices.withLock({ $0[id] }) else { return [] }
        return d.lock.withLock { _ in d.disks.map { ($0.spec, $0.isConnected, $0.requests) } }
    }
}
