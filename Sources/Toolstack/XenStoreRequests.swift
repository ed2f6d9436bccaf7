// XenStore requests: one xs_wire message in, one reply out, as xenstored's process_message answers.
//
// Order of checks (Xen's): unknown or unimplemented type → ENOSYS; a Dom0-only type from a guest →
// EACCES; a tx_id that is not one of the caller's open transactions → ENOENT (WATCH and UNWATCH ignore
// tx_id); then the request's own payload and permission checks. A success reply has the request's type,
// req_id and tx_id; an error is type ERROR with the error's name and a NUL.
//
// | type                                   | guest      | Dom0                                     |
// |----------------------------------------|------------|------------------------------------------|
// | READ WRITE MKDIR RM DIRECTORY(_PART)   | yes        | yes                                      |
// | GET_PERMS SET_PERMS WATCH UNWATCH      | yes        | yes                                      |
// | TRANSACTION_START/END RESET_WATCHES    | yes        | yes                                      |
// | GET_DOMAIN_PATH                        | yes        | yes                                      |
// | INTRODUCE RELEASE RESUME SET_TARGET    | EACCES     | yes                                      |
// | IS_DOMAIN_INTRODUCED                   | EACCES     | yes                                      |
// | CONTROL                                | EACCES     | ENOSYS (no control commands here)        |
// | GET/SET_FEATURE, GET/SET_QUOTA         | ENOSYS     | ENOSYS (as the C xenstored without them) |
// | WATCH_EVENT, ERROR, 20, unknown        | ENOSYS     | ENOSYS                                   |

extension XenStore {
    /// Answers one request from `domid`; never throws and never traps on any input. Watch events the
    /// request causes are delivered (through `connect`'s closures) before this returns.
    public func handle(_ request: XenStoreMessage, from domid: UInt16) -> XenStoreMessage {
        do {
            let payload = try locked { (s) throws(XenStoreError) in try s.perform(request, from: domid) }
            return XenStoreMessage(rawType: request.rawType, requestID: request.requestID,
                                   transactionID: request.transactionID, payload: payload)
        } catch {
            return .error(error, replyingTo: request)
        }
    }
}

extension XenStoreState {
    /// Requests only Dom0 may make (xenstored's XS_FLAG_PRIV).
    static let privilegedOnly: Set<XenStoreMessageType> = [
        .control, .introduce, .release, .isDomainIntroduced, .resume, .setTarget,
    ]
    /// Requests that ignore the header's tx_id (xenstored's XS_FLAG_NOTID).
    static let outsideTransactions: Set<XenStoreMessageType> = [.watch, .unwatch]

    mutating func perform(_ m: XenStoreMessage, from domid: UInt16) throws(XenStoreError) -> [UInt8] {
        guard m.payload.count <= XenStoreLimits.payloadMax else { throw .EINVAL }
        guard let type = m.type else { throw .ENOSYS }
        if Self.privilegedOnly.contains(type) && domid != XenStore.dom0 { throw .EACCES }
        let c = XenStoreCaller(domid: domid, tx: Self.outsideTransactions.contains(type) ? 0 : m.transactionID)
        if let key = c.transactionKey, transactions[key] == nil { throw .ENOENT }
        let reply: [UInt8]
        do {
            reply = try perform(type, m.payload, c)
        } catch {
            try checkTransactionSize(c)   // an overrun transaction answers ENOSPC whatever else went wrong
            throw error
        }
        try checkTransactionSize(c)
        guard reply.count <= XenStoreLimits.payloadMax else { throw .E2BIG }
        return reply
    }

    private mutating func perform(_ type: XenStoreMessageType, _ payload: [UInt8], _ c: XenStoreCaller) throws(XenStoreError) -> [UInt8] {
        let ok = XenStorePayload.ok
        switch type {
        case .read:
            return try read(canonical(XenStorePayload.oneArgument(payload), c), c)

        case .write:
            let (path, value) = try XenStorePayload.pathAndValue(payload)
            try write(canonical(path, c), value, c)
            return ok

        case .mkdir:
            try makeDirectory(canonical(XenStorePayload.oneArgument(payload), c), c)
            return ok

        case .rm:
            try remove(canonical(XenStorePayload.oneArgument(payload), c), c)
            return ok

        case .directory:
            return XenStorePayload.joined(try directory(canonical(XenStorePayload.oneArgument(payload), c), c).children)

        case .directoryPart:
            let args = try XenStorePayload.arguments(payload, count: 2)
            let node = try directory(canonical(args[0], c), c)
            let offset = try XenStorePayload.decimal(args[1], limit: UInt64(UInt32.max))
            return Self.directoryPart(node, offset: Int(offset))

        case .getPerms:
            let path = try canonical(XenStorePayload.oneArgument(payload), c, special: true)
            return XenStorePayload.joined(try permissions(path, c).map(\.description))

        case .setPerms:
            let fields = try XenStorePayload.strings(payload)
            guard fields.count >= 2 else { throw .EINVAL }
            var perms: [XenStorePermission] = []
            for field in fields.dropFirst() {
                guard let p = XenStorePermission(field) else { throw .EINVAL }
                perms.append(p)
            }
            try setPermissions(canonical(fields[0], c, special: true), perms, c)
            return ok

        case .watch:
            let args = try XenStorePayload.arguments(payload, count: 2)
            try addWatch(args[0], Array(args[1]), c)
            return ok

        case .unwatch:
            let args = try XenStorePayload.arguments(payload, count: 2)
            try removeWatch(args[0], Array(args[1]), c)
            return ok

        case .transactionStart:
            // A tx_id here names an open transaction (ENOENT was answered otherwise): no nesting.
            guard c.tx == 0 else { throw .EBUSY }
            return Array(String(try startTransaction(c)).utf8) + [0]

        case .transactionEnd:
            let arg = try XenStorePayload.oneArgument(payload)
            guard arg.elementsEqual("T".utf8) || arg.elementsEqual("F".utf8) else { throw .EINVAL }
            try endTransaction(c, commit: arg.first == UInt8(ascii: "T"))
            return ok

        case .getDomainPath:
            let domid = try XenStorePayload.domid(XenStorePayload.oneArgument(payload))
            return Array(XenStorePath.home(domid).utf8) + [0]

        case .resetWatches:
            dropWatches(of: c.domid)
            dropTransactions(of: c.domid)
            return ok

        case .introduce:
            // domid|gfn|evtchn|: the ring is the transport's business; the numbers are checked as Xen does.
            let fields = try XenStorePayload.strings(payload)
            guard fields.count >= 3 else { throw .EINVAL }
            let domid = try XenStorePayload.domid(fields[0])
            _ = try XenStorePayload.decimal(fields[1], limit: UInt64.max)
            let port = try XenStorePayload.decimal(fields[2], limit: UInt64(UInt32.max))
            guard domid != XenStore.dom0, domid < XenStore.firstReservedDomid, port > 0 else { throw .EINVAL }
            introduce(domid)
            return ok

        case .release:
            try release(XenStorePayload.domid(XenStorePayload.oneArgument(payload)))
            return ok

        case .resume:
            // Xen re-arms @releaseDomain for a domain that was shut down; shutdown is not tracked here.
            let domid = try XenStorePayload.domid(XenStorePayload.oneArgument(payload))
            guard domid != XenStore.dom0 else { throw .EINVAL }
            guard isIntroduced(domid) else { throw .ENOENT }
            return ok

        case .setTarget:
            let args = try XenStorePayload.arguments(payload, count: 2)
            try setTarget(XenStorePayload.domid(args[0]), XenStorePayload.domid(args[1]))
            return ok

        case .isDomainIntroduced:
            let domid = try XenStorePayload.domid(XenStorePayload.oneArgument(payload))
            let known = domid == XenStore.firstReservedDomid || isIntroduced(domid)  // DOMID_SELF: yes
            return Array((known ? "T" : "F").utf8) + [0]

        case .control, .watchEvent, .error, .getFeature, .setFeature, .getQuota, .setQuota:
            throw .ENOSYS
        }
    }

    /// DIRECTORY_PART's reply, as xenstored builds it: the node's generation and a NUL, then whole child
    /// names (each with its NUL) from byte `offset` of the NUL-separated list while they fit in a payload;
    /// an extra NUL (an empty name) marks the end of the list.
    static func directoryPart(_ node: XenStoreNode, offset: Int) -> [UInt8] {
        let generation = Array(String(node.generation).utf8) + [0]
        let list = XenStorePayload.joined(node.children)
        guard offset < list.count else { return generation + [0] }
        let room = XenStoreLimits.payloadMax - generation.count - 1
        var end = offset
        while end < list.count {
            guard let nul = list[end...].firstIndex(of: 0), nul + 1 - offset <= room else { break }
            end = nul + 1
        }
        return generation + list[offset..<end] + (end == list.count ? [0] : [])
    }
}
