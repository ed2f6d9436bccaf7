import Synchronization

// The XenStore daemon's core, as Xen's xenstored keeps it (docs/misc/xenstore.txt): a tree of nodes with
// values and permission lists, read and changed by domains through xs_wire requests (XenStoreRequests),
// with transactions (XenStoreTransactions), watches (XenStoreWatches) and the domains' own part of the
// tree (XenStoreDomains). The transport that carries requests from each guest's store ring is not here.
//
// Concurrency: all state sits behind one lock. Watch events produced by an operation are collected
// under it and delivered after it is released, so a transport's delivery closure may call back in.

/// The XenStore: the tree, its permissions, transactions, watches and per-domain quotas.
public final class XenStore: Sendable {
    /// Dom0: privileged (full access to every node), without quotas.
    public static let dom0: UInt16 = 0
    /// DOMID_FIRST_RESERVED (0x7FF0, also DOMID_SELF): the first domid that is not a real domain.
    public static let firstReservedDomid: UInt16 = 0x7FF0

    let state: Mutex<XenStoreState>

    /// A store holding what xenstored starts with: "/", "/local", "/local/domain" and Dom0's
    /// "/local/domain/0" (with `domid` and `name`), all Dom0's and private to it.
    public init(quotas: XenStoreQuotas = XenStoreQuotas()) {
        state = Mutex(XenStoreState(quotas: quotas))
    }

    /// Runs `body` under the lock, then delivers the watch events it produced outside the lock.
    func locked<R: Sendable>(_ body: (inout XenStoreState) throws(XenStoreError) -> R) throws(XenStoreError) -> R {
        let (result, deliveries) = state.withLock { s in
            let r: Result<R, XenStoreError>
            do throws(XenStoreError) { r = .success(try body(&s)) } catch { r = .failure(error) }
            return (r, s.takeDeliveries())
        }
        for d in deliveries { d.deliver(d.message) }
        return try result.get()
    }

    // MARK: Dom0's in-process API (privileged, outside any transaction)

    /// The value at `path` (absolute, or relative to /local/domain/0).
    public func read(_ path: String) throws(XenStoreError) -> [UInt8] {
        try locked { (s) throws(XenStoreError) in try s.read(s.canonical(path.utf8, .dom0), .dom0) }
    }

    /// Sets the value at `path`, creating it and any missing parent.
    public func write(_ path: String, _ value: [UInt8]) throws(XenStoreError) {
        try locked { (s) throws(XenStoreError) in try s.write(s.canonical(path.utf8, .dom0), value, .dom0) }
    }

    /// Sets the value at `path` to the UTF-8 bytes of `value` (no NUL).
    public func write(_ path: String, _ value: String) throws(XenStoreError) {
        try write(path, Array(value.utf8))
    }

    /// Makes sure `path` exists (with any missing parent); an existing node keeps its value.
    public func mkdir(_ path: String) throws(XenStoreError) {
        try locked { (s) throws(XenStoreError) in try s.makeDirectory(s.canonical(path.utf8, .dom0), .dom0) }
    }

    /// Removes `path` and everything below it; a missing node whose parent exists is not an error.
    public func rm(_ path: String) throws(XenStoreError) {
        try locked { (s) throws(XenStoreError) in try s.remove(s.canonical(path.utf8, .dom0), .dom0) }
    }

    /// The names of `path`'s children, in the order they were created.
    public func directory(_ path: String) throws(XenStoreError) -> [String] {
        try locked { (s) throws(XenStoreError) in try s.directory(s.canonical(path.utf8, .dom0), .dom0).children }
    }

    /// The permission list of `path` (or of "@introduceDomain" / "@releaseDomain").
    public func permissions(_ path: String) throws(XenStoreError) -> [XenStorePermission] {
        try locked { (s) throws(XenStoreError) in
            try s.permissions(s.canonical(path.utf8, .dom0, special: true), .dom0)
        }
    }

    /// Replaces the permission list of `path`: the first entry is the owner and everyone's default.
    public func setPermissions(_ path: String, _ perms: [XenStorePermission]) throws(XenStoreError) {
        try locked { (s) throws(XenStoreError) in
            try s.setPermissions(s.canonical(path.utf8, .dom0, special: true), perms, .dom0)
        }
    }

    /// What each domain holds in the store, for tools.
    public func statistics() -> XenStoreStatistics {
        state.withLock { s in
            var watches: [UInt16: Int] = [:]
            for w in s.watches { watches[w.domid, default: 0] += 1 }
            var transactions: [UInt16: Int] = [:]
            for key in s.transactions.keys { transactions[key.domid, default: 0] += 1 }
            return XenStoreStatistics(nodes: s.nodes.count, nodesOwned: s.owned.filter { $0.value > 0 },
                                      watches: watches, transactions: transactions,
                                      introduced: s.domains.keys.sorted())
        }
    }
}

/// Per-domain limits on unprivileged domains (Dom0 has none): the C xenstored's default hard quotas.
public struct XenStoreQuotas: Sendable, Equatable {
    /// Nodes a domain may own ("nodes", -E): creating one more is ENOSPC.
    public var nodes = 1000
    /// Bytes in one value (Xen's "node-size" quota, 2048, counted here on the value alone): ENOSPC.
    public var valueSize = 2048
    /// Watches a domain may hold ("watches", -W): one more is E2BIG, as in Xen.
    public var watches = 128
    /// Transactions open at once ("transactions", -t): one more is ENOSPC.
    public var transactions = 10
    /// Nodes one transaction may touch ("transaction-nodes"): beyond, the request is ENOSPC and the
    /// transaction fails.
    public var transactionNodes = 1024
    /// Entries in one permission list ("node-permissions", -A): ENOSPC.
    public var permissions = 5
    /// Bytes of a path beyond "/local/domain/<domid>/" ("path-max", -M): EINVAL.
    public var pathLength = XenStoreLimits.relativePathMax

    public init() {}
}

/// A snapshot of what each domain holds: nodes it owns, watches, open transactions.
public struct XenStoreStatistics: Sendable, Equatable {
    /// Nodes in the tree, "/" included.
    public var nodes: Int
    /// Nodes by owner (the first entry of each node's permission list).
    public var nodesOwned: [UInt16: Int]
    public var watches: [UInt16: Int]
    public var transactions: [UInt16: Int]
    /// Domains introduced and not yet released (Dom0 is always there and not listed).
    public var introduced: [UInt16]
}

/// One node: its value, its children's names in creation order, its permissions, and the generation
/// of its last change (transactions compare it to find conflicts; DIRECTORY_PART reports it).
struct XenStoreNode: Sendable {
    var value: [UInt8] = []
    var children: [String] = []
    var perms: [XenStorePermission]
    var generation: UInt64 = 0

    var owner: UInt16 { perms[0].domid }
}

/// Who makes a request, and in which of its transactions (0: none).
struct XenStoreCaller: Sendable {
    var domid: UInt16
    var tx: UInt32 = 0

    static let dom0 = XenStoreCaller(domid: XenStore.dom0)

    var privileged: Bool { domid == XenStore.dom0 }
    var transactionKey: XenStoreTransactionKey? { tx == 0 ? nil : XenStoreTransactionKey(domid: domid, id: tx) }
}

/// Path rules of xenstore.txt: "/"-separated, absolute or relative to the domain's home, names of
/// letters, digits and "-/_@" only, no "//", no trailing "/" except the root; "@…" names special watches.
enum XenStorePath {
    /// xenstored's valid_chars: A-Z a-z 0-9 and "-/_@" ("." is not among them).
    static func isValid(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x41...0x5a, 0x61...0x7a, 0x30...0x39, 0x2d, 0x2f, 0x5f, 0x40: true
        default: false
        }
    }

    static func home(_ domid: UInt16) -> String { "/local/domain/\(domid)" }

    static func parent(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: 0x2f), slash != path.utf8.startIndex else { return "/" }
        return String(path[..<slash])
    }

    /// The last component (the name its parent lists).
    static func name(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: 0x2f) else { return path }
        return String(path[path.utf8.index(after: slash)...])
    }

    static func child(_ parent: String, _ name: String) -> String { parent == "/" ? "/" + name : parent + "/" + name }

    /// True when `path` is `ancestor` or below it (every path is below "/").
    static func isWithin(_ path: String, _ ancestor: String) -> Bool {
        if ancestor == "/" || path == ancestor { return true }
        return path.hasPrefix(ancestor) && path.utf8.dropFirst(ancestor.utf8.count).first == 0x2f
    }

    /// Bytes after "/local/domain/<up to 5 digits>/", the part Xen's path-max quota limits.
    static func lengthBeyondHome(_ path: String) -> Int {
        let prefix = "/local/domain/"
        guard path.hasPrefix(prefix) else { return path.utf8.count }
        let rest = path.utf8.dropFirst(prefix.utf8.count)
        let digits = rest.prefix { (0x30...0x39).contains($0) }
        guard (1...5).contains(digits.count), rest.dropFirst(digits.count).first == 0x2f else {
            return path.utf8.count
        }
        return rest.count - digits.count - 1
    }
}

/// Everything the store holds; only ever touched under `XenStore.state`'s lock.
struct XenStoreState {
    var nodes: [String: XenStoreNode] = [:]
    /// "@introduceDomain" and "@releaseDomain": no value, only permissions (who may see their events).
    var special: [String: XenStoreNode] = [:]
    /// The last generation handed out; every change takes the next one.
    var generation: UInt64 = 0
    /// Nodes owned by each domain (quota accounting).
    var owned: [UInt16: Int] = [:]
    let quotas: XenStoreQuotas
    /// Introduced domains (Dom0 is implicit).
    var domains: [UInt16: XenStoreDomain] = [:]
    var watches: [XenStoreWatch] = []
    var transactions: [XenStoreTransactionKey: XenStoreTransaction] = [:]
    var nextTransactionID: [UInt16: UInt32] = [:]
    /// Each connected domain's delivery closure for watch events.
    var connections: [UInt16: @Sendable (XenStoreMessage) -> Void] = [:]
    /// Watch events produced under the lock, delivered after it is released.
    var outbox: [(domid: UInt16, message: XenStoreMessage)] = []

    init(quotas: XenStoreQuotas) {
        self.quotas = quotas
        let dom0Only = [XenStorePermission(.none, XenStore.dom0)]
        nodes["/"] = XenStoreNode(children: ["local"], perms: dom0Only)
        nodes["/local"] = XenStoreNode(children: ["domain"], perms: dom0Only)
        nodes["/local/domain"] = XenStoreNode(children: ["0"], perms: dom0Only)
        nodes["/local/domain/0"] = XenStoreNode(children: ["domid", "name"], perms: dom0Only)
        nodes["/local/domain/0/domid"] = XenStoreNode(value: Array("0".utf8), perms: dom0Only)
        nodes["/local/domain/0/name"] = XenStoreNode(value: Array("Domain-0".utf8), perms: dom0Only)
        owned[XenStore.dom0] = nodes.count
        for name in XenStoreSpecial.allCases { special[name.rawValue] = XenStoreNode(perms: dom0Only) }
    }

    // MARK: Paths

    /// The absolute path a caller means (xenstored's canonicalize); EINVAL for anything xenstore.txt
    /// forbids, or beyond the length limits.
    func canonical(_ raw: some Collection<UInt8>, _ c: XenStoreCaller, special: Bool = false) throws(XenStoreError) -> String {
        guard let first = raw.first, raw.allSatisfy(XenStorePath.isValid) else { throw .EINVAL }
        let path: String
        switch first {
        case 0x40:  // "@": a special watch name, kept as it is
            guard special else { throw .EINVAL }
            path = String(decoding: raw, as: UTF8.self)
        case 0x2f:
            path = String(decoding: raw, as: UTF8.self)
        default:
            guard raw.count <= XenStoreLimits.relativePathMax else { throw .EINVAL }
            path = XenStorePath.home(c.domid) + "/" + String(decoding: raw, as: UTF8.self)
        }
        guard path == "/" || !path.hasSuffix("/"), !path.contains("//"),
              path.utf8.count <= XenStoreLimits.absolutePathMax else { throw .EINVAL }
        if !c.privileged && XenStorePath.lengthBeyondHome(path) > quotas.pathLength { throw .EINVAL }
        return path
    }

    // MARK: Nodes, as a caller (and its transaction) sees them

    /// The node at `path` in the caller's view. Inside a transaction the first look at a global node
    /// records its generation (0: absent), which commit checks for conflicts.
    mutating func lookup(_ path: String, _ c: XenStoreCaller) -> XenStoreNode? {
        if path.hasPrefix("@") { return special[path] }
        guard let key = c.transactionKey, let t = transactions[key] else { return nodes[path] }
        if t.removed.contains(path) { return nil }
        if let n = t.written[path] { return n }
        let n = nodes[path]
        if t.observed[path] == nil { transactions[key]?.observed[path] = n?.generation ?? 0 }
        return n
    }

    /// The node at `path` in the caller's view, without recording anything (for watch permissions).
    func peek(_ path: String, _ c: XenStoreCaller) -> XenStoreNode? {
        if path.hasPrefix("@") { return special[path] }
        guard let key = c.transactionKey, let t = transactions[key] else { return nodes[path] }
        if t.removed.contains(path) { return nil }
        return t.written[path] ?? nodes[path]
    }

    /// Sets (or with nil removes) the node at `path` in the caller's view, with a fresh generation.
    mutating func store(_ path: String, _ node: XenStoreNode?, _ c: XenStoreCaller) {
        generation += 1
        var node = node
        node?.generation = generation
        if path.hasPrefix("@") {
            if let node { special[path] = node }
            return
        }
        if let key = c.transactionKey, transactions[key] != nil {
            let old = lookup(path, c)
            transactions[key]?.set(path, node, replacing: old)
            return
        }
        let old: XenStoreNode?
        if let node { old = nodes.updateValue(node, forKey: path) } else { old = nodes.removeValue(forKey: path) }
        if let old { owned[old.owner, default: 0] -= 1 }
        if let node { owned[node.owner, default: 0] += 1 }
    }

    func rights(_ c: XenStoreCaller, _ perms: [XenStorePermission]) -> XenStoreRights {
        XenStoreRights.of(c.domid, target: domains[c.domid]?.target, in: perms)
    }

    /// Nodes `domid` owns in the caller's view (its transaction's creations and removals included).
    func ownedCount(_ domid: UInt16, _ c: XenStoreCaller) -> Int {
        let pending = c.transactionKey.flatMap { transactions[$0]?.ownedDelta[domid] } ?? 0
        return owned[domid, default: 0] + pending
    }

    /// The node at `path` if the caller has `need` on it; nil if it does not exist and the caller may
    /// know that (its nearest existing ancestor grants some of `need`); EACCES otherwise, so that a
    /// caller never learns whether a node it may not see exists (xenstored's errno_from_parents).
    mutating func accessible(_ path: String, _ need: XenStoreRights, _ c: XenStoreCaller) throws(XenStoreError) -> XenStoreNode? {
        if let node = lookup(path, c) {
            guard rights(c, node.perms).isSuperset(of: need) else { throw .EACCES }
            return node
        }
        var ancestor = path
        while ancestor != "/" {
            ancestor = XenStorePath.parent(of: ancestor)
            if let node = lookup(ancestor, c) {
                guard !rights(c, node.perms).isDisjoint(with: need) else { throw .EACCES }
                return nil
            }
        }
        return nil
    }

    // MARK: Operations (READ, WRITE, MKDIR, RM, DIRECTORY, GET_PERMS, SET_PERMS)

    mutating func read(_ path: String, _ c: XenStoreCaller) throws(XenStoreError) -> [UInt8] {
        guard let node = try accessible(path, .read, c) else { throw .ENOENT }
        return node.value
    }

    mutating func write(_ path: String, _ value: [UInt8], _ c: XenStoreCaller) throws(XenStoreError) {
        let existing = try accessible(path, .write, c)
        if !c.privileged && value.count > quotas.valueSize { throw .ENOSPC }
        if var node = existing {
            node.value = value
            store(path, node, c)
            changed(path, node, c)
        } else {
            changed(path, try create(path, value, c), c)
        }
    }

    mutating func makeDirectory(_ path: String, _ c: XenStoreCaller) throws(XenStoreError) {
        guard try accessible(path, .write, c) == nil else { return }
        changed(path, try create(path, [], c), c)
    }

    mutating func remove(_ path: String, _ c: XenStoreCaller) throws(XenStoreError) {
        guard let node = try accessible(path, .write, c) else {
            // xenstore.txt: removing a missing node is fine, unless its parent is missing too.
            guard lookup(XenStorePath.parent(of: path), c) != nil else { throw .ENOENT }
            return
        }
        guard path != "/" else { throw .EINVAL }
        removeTree(path, node, c)
    }

    mutating func directory(_ path: String, _ c: XenStoreCaller) throws(XenStoreError) -> XenStoreNode {
        guard let node = try accessible(path, .read, c) else { throw .ENOENT }
        return node
    }

    mutating func permissions(_ path: String, _ c: XenStoreCaller) throws(XenStoreError) -> [XenStorePermission] {
        guard let node = try accessible(path, .read, c) else { throw .ENOENT }
        return node.perms
    }

    mutating func setPermissions(_ path: String, _ perms: [XenStorePermission], _ c: XenStoreCaller) throws(XenStoreError) {
        guard !perms.isEmpty else { throw .EINVAL }
        if !c.privileged && perms.count > quotas.permissions { throw .ENOSPC }
        guard var node = try accessible(path, [.write, .owner], c) else { throw .ENOENT }
        // An unprivileged owner may share its node but not give it away.
        if !c.privileged && perms[0].domid != node.owner { throw .EPERM }
        let old = node.perms
        node.perms = perms
        store(path, node, c)
        let parent = peek(XenStorePath.parent(of: path), c)?.perms ?? []
        // Watchers that could read the node before or after the change hear of it.
        changed(path, exact: path.hasPrefix("@"), readers: [old, perms, parent], c)
    }

    // MARK: Tree surgery

    /// Creates `path` and any missing parent. Each new node copies its parent's permissions, and a node
    /// an unprivileged domain creates is owned by that domain (Dom0's creations keep the parent's owner).
    mutating func create(_ path: String, _ value: [UInt8], _ c: XenStoreCaller) throws(XenStoreError) -> XenStoreNode {
        var missing = [path]
        var parentPath = XenStorePath.parent(of: path)
        var found = lookup(parentPath, c)
        while found == nil, parentPath != "/" {
            missing.append(parentPath)
            parentPath = XenStorePath.parent(of: parentPath)
            found = lookup(parentPath, c)
        }
        guard var parent = found else { throw .EIO }  // the root always exists
        if !c.privileged && ownedCount(c.domid, c) + missing.count > quotas.nodes { throw .ENOSPC }
        for childPath in missing.reversed() {
            parent.children.append(XenStorePath.name(of: childPath))
            store(parentPath, parent, c)
            var child = XenStoreNode(perms: parent.perms)
            if !c.privileged { child.perms[0].domid = c.domid }
            (parent, parentPath) = (child, childPath)
        }
        parent.value = value
        store(path, parent, c)
        return parent
    }

    /// Deletes `path` (not "/") and everything below it. Watches on it and its ancestors fire once with
    /// `path`; watches set exactly on a removed descendant fire with that descendant's path.
    mutating func removeTree(_ path: String, _ node: XenStoreNode, _ c: XenStoreCaller) {
        let parentPath = XenStorePath.parent(of: path)
        guard var parent = lookup(parentPath, c) else { return }
        // Breadth first, then backwards: every node goes after all of its descendants. No recursion,
        // so a deep tree cannot exhaust a service thread's stack.
        var doomed: [(path: String, node: XenStoreNode, parentPerms: [XenStorePermission])] = [(path, node, parent.perms)]
        var i = 0
        while i < doomed.count {
            let (p, n, _) = doomed[i]
            for name in n.children {
                let childPath = XenStorePath.child(p, name)
                if let child = lookup(childPath, c) { doomed.append((childPath, child, n.perms)) }
            }
            i += 1
        }
        for d in doomed.reversed() {
            changed(d.path, exact: d.path != path, readers: [d.node.perms, d.parentPerms], c)
            store(d.path, nil, c)
        }
        let name = XenStorePath.name(of: path)
        parent.children.removeAll { $0 == name }
        store(parentPath, parent, c)
    }

    /// Reports a change of `node` at `path` to the watches on it and its ancestors.
    mutating func changed(_ path: String, _ node: XenStoreNode, _ c: XenStoreCaller) {
        let parent = peek(XenStorePath.parent(of: path), c)?.perms ?? []
        changed(path, exact: false, readers: [node.perms, parent], c)
    }
}
