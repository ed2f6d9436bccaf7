// XenStore transactions, Xen's optimistic model (tools/xenstored/transaction.c): requests carrying a
// transaction's id in the header's tx_id see the tree as the transaction left it; the first time the
// transaction looks at a node it notes the node's generation (or that it is absent). TRANSACTION_END "T"
// commits only if none of those nodes changed since (else EAGAIN and nothing of it happens); its changes
// then land together and its watch events fire. "F" discards it. Ids are per domain.

/// A transaction's identity: the domain that started it and the id it was given.
struct XenStoreTransactionKey: Hashable, Sendable {
    var domid: UInt16
    var id: UInt32
}

/// A change made inside a transaction, held back until commit.
struct XenStorePendingEvent: Sendable {
    var path: String
    var exact: Bool
    var readers: [[XenStorePermission]]
}

/// An open transaction: what it saw, what it changed, and the events its changes will fire.
struct XenStoreTransaction: Sendable {
    /// Generation of each global node when the transaction first looked at it (0: it did not exist).
    var observed: [String: UInt64] = [:]
    /// Nodes as the transaction wrote them.
    var written: [String: XenStoreNode] = [:]
    /// Nodes the transaction removed.
    var removed: Set<String> = []
    /// Change of each domain's node count the commit will make (for the nodes quota).
    var ownedDelta: [UInt16: Int] = [:]
    var events: [XenStorePendingEvent] = []
    var eventIndex: [String: Int] = [:]
    /// Set when a request overran the transaction's quota: the transaction can no longer commit.
    var failed = false

    mutating func set(_ path: String, _ node: XenStoreNode?, replacing old: XenStoreNode?) {
        if let old { ownedDelta[old.owner, default: 0] -= 1 }
        if let node {
            ownedDelta[node.owner, default: 0] += 1
            written[path] = node
            removed.remove(path)
        } else {
            written[path] = nil
            removed.insert(path)
        }
    }

    /// Queues a watch event; a second change to the same path fires once (non-exact wins, as in Xen).
    mutating func queue(_ path: String, exact: Bool, readers: [[XenStorePermission]]) {
        if let i = eventIndex[path] {
            events[i].exact = events[i].exact && exact
            events[i].readers += readers
        } else {
            eventIndex[path] = events.count
            events.append(XenStorePendingEvent(path: path, exact: exact, readers: readers))
        }
    }
}

extension XenStoreState {
    /// TRANSACTION_START: a fresh id (never 0, never one of the domain's open ones).
    mutating func startTransaction(_ c: XenStoreCaller) throws(XenStoreError) -> UInt32 {
        if !c.privileged && transactions.keys.count(where: { $0.domid == c.domid }) >= quotas.transactions {
            throw .ENOSPC
        }
        var id = nextTransactionID[c.domid] ?? 1
        while id == 0 || transactions[XenStoreTransactionKey(domid: c.domid, id: id)] != nil { id &+= 1 }
        nextTransactionID[c.domid] = id &+ 1
        transactions[XenStoreTransactionKey(domid: c.domid, id: id)] = XenStoreTransaction()
        return id
    }

    /// TRANSACTION_END: the transaction ends whatever happens; with `commit` its changes land unless a
    /// node it looked at changed meanwhile (EAGAIN), a quota would be overrun (ENOSPC), or it failed
    /// earlier (ENOMEM, as xenstored answers).
    mutating func endTransaction(_ c: XenStoreCaller, commit: Bool) throws(XenStoreError) {
        guard let key = c.transactionKey, let t = transactions.removeValue(forKey: key) else { throw .ENOENT }
        guard commit else { return }
        guard !t.failed else { throw .ENOMEM }
        // Quota first, then conflicts (xenstored's order).
        if !c.privileged {
            for (domid, delta) in t.ownedDelta where delta > 0 && owned[domid, default: 0] + delta > quotas.nodes {
                throw .ENOSPC
            }
        }
        for (path, generation) in t.observed where (nodes[path]?.generation ?? 0) != generation {
            throw .EAGAIN
        }
        let global = XenStoreCaller(domid: c.domid)
        for (path, node) in t.written { store(path, node, global) }
        for path in t.removed where nodes[path] != nil { store(path, nil, global) }
        for e in t.events { changed(e.path, exact: e.exact, readers: e.readers, global) }
    }

    /// The transaction-nodes quota: a transaction of an unprivileged domain that has looked at too many
    /// nodes fails (the request that overran it gets ENOSPC).
    mutating func checkTransactionSize(_ c: XenStoreCaller) throws(XenStoreError) {
        guard !c.privileged, let key = c.transactionKey, let t = transactions[key],
              t.observed.count > quotas.transactionNodes else { return }
        transactions[key]?.failed = true
        throw .ENOSPC
    }

    mutating func dropTransactions(of domid: UInt16) {
        transactions = transactions.filter { $0.key.domid != domid }
    }
}
