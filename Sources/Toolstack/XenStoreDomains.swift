// Domains in XenStore: what the toolstack writes when it creates a domain and what xenstored does when it
// is introduced and released (libxl's libxl__domain_make and xenstored's domain.c, with QEMU's node set).
//
// Home layout made by `introduceDomain` (perms in xs_wire's textual form; d = the domain):
//   /local/domain/d                       owned by d, "n<d>": readable by d and Dom0 only
//     domid = "d", name = <name>          "n0","r<d>": Dom0's, read-only for d
//     device data control memory attr drivers error feature        d's (inherited from its home)
//     control/shutdown = ""               d's: the toolstack writes requests, the guest clears them
//     control/platform-feature-xs_reset_watches = "1"           "n0","r<d>"
//     control/platform-feature-multiprocessor-suspend = "1"     "n0","r<d>"
// The guest itself writes control/feature-poweroff and the like. Store ring and console nodes
// (store/port, console/ring-ref …) belong to whoever builds the domain.

/// An introduced domain's record: the domain it may act for, if SET_TARGET gave it one.
struct XenStoreDomain: Sendable {
    var target: UInt16?
}

extension XenStore {
    /// What the toolstack and xenstored do when a domain is created: writes its home (see the layout
    /// above), introduces it (dropping any watches and transactions left from an earlier introduction)
    /// and fires "@introduceDomain" the first time. False (and nothing done) for Dom0 or a reserved domid.
    @discardableResult
    public func introduceDomain(_ domid: UInt16, name: String) -> Bool {
        guard domid != XenStore.dom0, domid < XenStore.firstReservedDomid else { return false }
        // As Dom0 on valid paths, without quotas: nothing here can fail.
        do {
            try locked { (s) throws(XenStoreError) in
                try s.writeHome(domid, name: name)
                s.introduce(domid)
            }
            return true
        } catch {
            return false
        }
    }

    /// What happens when a domain is destroyed: its watches and transactions are dropped (before
    /// anything is removed, so that it hears nothing), its home and every other node it owns are removed,
    /// other nodes' permission entries naming it are removed (a later domain with its domid inherits
    /// nothing), and "@releaseDomain" fires. False (and nothing done) if it is not introduced, or is Dom0.
    @discardableResult
    public func releaseDomain(_ domid: UInt16) -> Bool {
        do {
            try locked { (s) throws(XenStoreError) in try s.release(domid) }
            return true
        } catch {
            return false
        }
    }

    /// True between `introduceDomain` (or INTRODUCE) and `releaseDomain` (or RELEASE); always for Dom0.
    public func isIntroduced(_ domid: UInt16) -> Bool {
        state.withLock { $0.isIntroduced(domid) }
    }
}

extension XenStoreState {
    func isIntroduced(_ domid: UInt16) -> Bool { domid == XenStore.dom0 || domains[domid] != nil }

    /// Writes the domain's home as the toolstack does, as Dom0 and outside any transaction.
    mutating func writeHome(_ domid: UInt16, name: String) throws(XenStoreError) {
        let home = XenStorePath.home(domid)
        let own = [XenStorePermission(.none, domid)]
        let readOnly = [XenStorePermission(.none, XenStore.dom0), XenStorePermission(.read, domid)]
        try makeDirectory(home, .dom0)
        try setPermissions(home, own, .dom0)
        for (leaf, value) in [("domid", String(domid)), ("name", name)] {
            try write(home + "/" + leaf, Array(value.utf8), .dom0)
            try setPermissions(home + "/" + leaf, readOnly, .dom0)
        }
        for dir in ["device", "data", "control", "memory", "attr", "drivers", "error", "feature"] {
            try makeDirectory(home + "/" + dir, .dom0)
        }
        try makeDirectory(home + "/control/shutdown", .dom0)
        for feature in ["xs_reset_watches", "multiprocessor-suspend"] {
            let path = home + "/control/platform-feature-" + feature
            try write(path, Array("1".utf8), .dom0)
            try setPermissions(path, readOnly, .dom0)
        }
    }

    /// INTRODUCE: the domain is now served; a re-introduction resets its watches and transactions.
    mutating func introduce(_ domid: UInt16) {
        dropWatches(of: domid)
        dropTransactions(of: domid)
        guard domains[domid] == nil else { return }
        domains[domid] = XenStoreDomain()
        fireSpecial(.introduceDomain)
    }

    mutating func release(_ domid: UInt16) throws(XenStoreError) {
        guard domid != XenStore.dom0 else { throw .EINVAL }
        guard domains[domid] != nil else { throw .ENOENT }
        dropWatches(of: domid)
        dropTransactions(of: domid)
        let home = XenStorePath.home(domid)
        if let node = nodes[home] { removeTree(home, node, .dom0) }
        // Anything else it owns goes too (xenstored's domain_tree_remove); a removed subtree takes
        // its descendants with it, so those are skipped when their turn comes.
        for path in nodes.keys.sorted() where path != "/" {
            if let node = nodes[path], node.owner == domid { removeTree(path, node, .dom0) }
        }
        func forgetting(_ perms: [XenStorePermission]) -> [XenStorePermission] {
            [perms[0]] + perms.dropFirst().filter { $0.domid != domid }
        }
        for (path, node) in nodes where node.perms.dropFirst().contains(where: { $0.domid == domid }) {
            nodes[path]?.perms = forgetting(node.perms)
        }
        for (name, node) in special { special[name]?.perms = forgetting(node.perms) }
        for (key, t) in transactions {
            for (path, node) in t.written { transactions[key]?.written[path]?.perms = forgetting(node.perms) }
        }
        domains[domid] = nil
        for (other, record) in domains where record.target == domid { domains[other]?.target = nil }
        owned[domid] = nil
        fireSpecial(.releaseDomain)
    }

    /// SET_TARGET: `domid` may act as `target` (full access to what `target` owns, and its grants).
    mutating func setTarget(_ domid: UInt16, _ target: UInt16) throws(XenStoreError) {
        guard isIntroduced(domid), isIntroduced(target) else { throw .ENOENT }
        if domid != XenStore.dom0 { domains[domid]?.target = target }
    }
}
