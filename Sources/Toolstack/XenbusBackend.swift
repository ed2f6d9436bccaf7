import HyperABI

/// A back-end's two XenStore directories (the front-end's under the guest, its own under Dom0) and the
/// watch on the front-end's `state`, as Xen's toolstack lays them out.
struct XenbusPaths {
    let store: XenStore
    let frontend: String
    let backend: String
    let token: String

    /// Device `kind` ("vbd", "vif") number `id` of domain `domid`.
    init(store: XenStore, domid: UInt16, kind: String, id: Int) {
        self.store = store
        frontend = "/local/domain/\(domid)/device/\(kind)/\(id)"
        backend = "/local/domain/0/backend/\(kind)/\(domid)/\(id)"
        token = "\(kind):\(domid):\(id)"
    }

    /// Writes both directories (the front-end's Initialising, the back-end's readable by the guest and
    /// InitWait) and watches the front-end's state.
    func publish(domid: UInt16, frontendNodes: [(String, String)], backendNodes: [(String, String)]) throws(XenStoreError) {
        for (key, value) in [("backend", backend), ("backend-id", "0")] + frontendNodes + [("state", "\(XenbusState.initialising.rawValue)")] {
            try store.write("\(frontend)/\(key)", value)
        }
        try store.mkdir(backend)
        try store.setPermissions(backend, [XenStorePermission(.none, DomainID.dom0), XenStorePermission(.read, domid)])
        for (key, value) in [("frontend", frontend), ("frontend-id", "\(domid)")] + backendNodes + [("state", "\(XenbusState.initWait.rawValue)")] {
            try store.write("\(backend)/\(key)", value)
        }
        try store.watch(path: "\(frontend)/state", token: token)
    }

    func setState(_ s: XenbusState) { try? store.write("\(backend)/state", "\(s.rawValue)") }

    /// A node the front-end wrote, as text.
    func frontend(_ key: String) -> String? { (try? store.read("\(frontend)/\(key)")).map { String(decoding: $0, as: UTF8.self) } }

    /// A decimal node the front-end wrote.
    func frontendNumber(_ key: String) -> UInt32? { frontend(key).flatMap(UInt32.init) }

    /// Stops watching and removes the back-end directory (and the domain's directory above it once empty).
    func remove() {
        try? store.unwatch(path: "\(frontend)/state", token: token)
        try? store.rm(backend)
        let parent = String(backend[..<backend.lastIndex(of: "/")!])
        if (try? store.directory(parent))?.isEmpty == true { try? store.rm(parent) }
    }
}

/// What every PV back-end does when its front-end's state changes (Linux's xenbus rules): Initialised or
/// Connected → connect; Closing or Closed → let go and say Closed; Initialising again → offer the device
/// again (InitWait).
protocol XenbusBackend: AnyObject {
    var xenbus: XenbusPaths { get }
    var isConnected: Bool { get }
    func connect()
    func disconnect(_ why: String?)
}

extension XenbusBackend {
    func frontendChanged() {
        guard let raw = xenbus.frontendNumber("state"), let state = XenbusState(rawValue: raw) else { return }
        switch state {
        case .initialised, .connected:
            if !isConnected { connect() }
        case .closing, .closed:
            disconnect(nil)
            xenbus.setState(.closed)
        case .initialising:
            if !isConnected { xenbus.setState(.initWait) }
        default:
            break
        }
    }

    /// Ends the connection for `why`: the front-end sees the back-end go to Closed, and may start again.
    func fail(_ why: String) {
        disconnect(why)
        xenbus.setState(.closed)
    }
}
