// XenStore watches (xenstore.txt "Watches"): a domain registers a path and a token; every change to that
// path or below it (write, mkdir, rm, set_perms) sends it one WATCH_EVENT "path|token|" (req_id and tx_id
// 0). A watch fires once as soon as it is set. Changes in a transaction fire when it commits. A watcher
// hears only of nodes it may read (the node, its parent, or the node's permissions before the change).
// "@introduceDomain" and "@releaseDomain" are special names that fire when domains come and go.

/// The special watch names xenstored invents events for.
enum XenStoreSpecial: String, CaseIterable {
    case introduceDomain = "@introduceDomain"
    case releaseDomain = "@releaseDomain"
}

/// One watch: who set it, on which canonical path (or special name), its token, and the prefix to strip
/// from event paths when the watch was given as a relative path.
struct XenStoreWatch: Sendable {
    let domid: UInt16
    let path: String
    let token: [UInt8]
    /// "/local/domain/<domid>/" for a relative watch: its events then report relative paths.
    let relativeTo: String?

    /// Does a change at `changed` concern this watch? `exact` changes (a removed descendant, a special
    /// event) match only a watch set on that very path.
    func matches(_ changed: String, exact: Bool) -> Bool {
        exact ? path == changed : XenStorePath.isWithin(changed, path)
    }

    /// The WATCH_EVENT for a change at `path`, or nil if it would not fit in a payload (xenstored drops it).
    func event(_ path: String) -> XenStoreMessage? {
        var shown = Substring(path)
        if let prefix = relativeTo, path.hasPrefix(prefix) { shown = shown.dropFirst(prefix.count) }
        let payload = Array(shown.utf8) + [0] + token + [0]
        guard payload.count <= XenStoreLimits.payloadMax else { return nil }
        return XenStoreMessage(type: .watchEvent, payload: payload)
    }
}

/// A watch event ready to go, with the closure that takes it to its domain.
struct XenStoreDelivery: Sendable {
    let deliver: @Sendable (XenStoreMessage) -> Void
    let message: XenStoreMessage
}

extension XenStore {
    /// Registers the closure that carries watch events to `domid` (the transport's, one per domain;
    /// Dom0's own for watches set through `watch(path:token:)`). Events for a domain without one are dropped.
    /// The closure is called outside the store's lock, possibly from several threads, and events of
    /// concurrent requests may arrive in either order; like Xen's, they say only which path changed.
    public func connect(domid: UInt16, deliver: @escaping @Sendable (XenStoreMessage) -> Void) {
        state.withLock { $0.connections[domid] = deliver }
    }

    /// Forgets `domid`'s delivery closure, and drops its watches and its open transactions.
    public func disconnect(domid: UInt16) {
        state.withLock { s in
            s.connections[domid] = nil
            s.dropWatches(of: domid)
            s.dropTransactions(of: domid)
        }
    }

    /// Sets a watch for Dom0 (events go to the closure given to `connect(domid: 0, …)`).
    public func watch(path: String, token: String) throws(XenStoreError) {
        try locked { (s) throws(XenStoreError) in try s.addWatch(path.utf8, Array(token.utf8), .dom0) }
    }

    /// A domain's watches as it set them: the path as given (relative ones without their home) and the token.
    public func watches(of domid: UInt16) -> [(path: String, token: [UInt8])] {
        state.withLock { s in
            s.watches.filter { $0.domid == domid }.map { w in
                (w.relativeTo.map { String(w.path.dropFirst($0.count)) } ?? w.path, w.token)
            }
        }
    }

    /// Sets a watch for `domid` as if it had sent WATCH (a restored domain's watches); it fires once.
    public func watch(for domid: UInt16, path: String, token: [UInt8]) throws(XenStoreError) {
        try locked { (s) throws(XenStoreError) in try s.addWatch(path.utf8, token, XenStoreCaller(domid: domid)) }
    }

    /// Removes one of Dom0's watches.
    public func unwatch(path: String, token: String) throws(XenStoreError) {
        try locked { (s) throws(XenStoreError) in try s.removeWatch(path.utf8, Array(token.utf8), .dom0) }
    }
}

extension XenStoreState {
    /// WATCH: registers the watch and fires it once (the first event carries the path as given).
    mutating func addWatch(_ rawPath: some Collection<UInt8>, _ token: [UInt8], _ c: XenStoreCaller) throws(XenStoreError) {
        let path = try canonical(rawPath, c, special: true)
        let relative = rawPath.first != 0x2f && rawPath.first != 0x40
        guard !watches.contains(where: { $0.domid == c.domid && $0.path == path && $0.token == token }) else {
            throw .EEXIST
        }
        if !c.privileged && watches.count(where: { $0.domid == c.domid }) >= quotas.watches { throw .E2BIG }
        let watch = XenStoreWatch(domid: c.domid, path: path, token: token,
                                  relativeTo: relative ? XenStorePath.home(c.domid) + "/" : nil)
        watches.append(watch)
        if let event = watch.event(path) { outbox.append((c.domid, event)) }
    }

    /// UNWATCH: the path is matched as canonicalised, so relative and absolute forms are the same watch.
    mutating func removeWatch(_ rawPath: some Collection<UInt8>, _ token: [UInt8], _ c: XenStoreCaller) throws(XenStoreError) {
        let path = try canonical(rawPath, c, special: true)
        guard let i = watches.firstIndex(where: { $0.domid == c.domid && $0.path == path && $0.token == token }) else {
            throw .ENOENT
        }
        watches.remove(at: i)
    }

    mutating func dropWatches(of domid: UInt16) {
        watches.removeAll { $0.domid == domid }
    }

    /// Reports a change: queued in the caller's transaction until it commits, else sent now to every
    /// matching watch whose domain may read one of `readers` (permission lists at the time of the change).
    mutating func changed(_ path: String, exact: Bool, readers: [[XenStorePermission]], _ c: XenStoreCaller) {
        if let key = c.transactionKey, transactions[key] != nil {
            transactions[key]?.queue(path, exact: exact, readers: readers)
            return
        }
        for watch in watches where watch.matches(path, exact: exact) {
            let watcher = XenStoreCaller(domid: watch.domid)
            guard readers.contains(where: { rights(watcher, $0).contains(.read) }) else { continue }
            if let event = watch.event(path) { outbox.append((watch.domid, event)) }
        }
    }

    /// Fires a special watch ("@introduceDomain", "@releaseDomain") for those allowed by its permissions.
    mutating func fireSpecial(_ name: XenStoreSpecial) {
        let perms = special[name.rawValue]?.perms ?? []
        changed(name.rawValue, exact: true, readers: [perms], .dom0)
    }

    /// The events produced so far, each with its domain's closure (events for unconnected domains are dropped).
    mutating func takeDeliveries() -> [XenStoreDelivery] {
        defer { outbox.removeAll() }
        return outbox.compactMap { e in connections[e.domid].map { XenStoreDelivery(deliver: $0, message: e.message) } }
    }
}
