import Dispatch
import Synchronization
import Testing
@testable import Toolstack

/// Every domain's watch events, as "path|token" strings, in arrival order.
final class XenStoreEventLog: Sendable {
    private let events = Mutex<[UInt16: [String]]>([:])

    func record(_ domid: UInt16, _ m: XenStoreMessage) {
        let text: String
        if m.type == .watchEvent, m.requestID == 0, m.transactionID == 0, m.payload.last == 0 {
            let fields = m.payload.dropLast().split(separator: 0, omittingEmptySubsequences: false)
            text = fields.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "|")
        } else {
            text = "not a watch event: \(m)"
        }
        events.withLock { $0[domid, default: []].append(text) }
    }

    /// The events `domid` received since the last call.
    func take(_ domid: UInt16) -> [String] {
        events.withLock { $0.removeValue(forKey: domid) ?? [] }
    }
}

/// A value shared with delivery closures (a Mutex itself cannot be captured by one).
final class XenStoreBox<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
}

/// Checks the tree is whole: every node's parent lists it, every listed child exists, and the
/// per-domain node counts match the owners.
func checkXenStoreInvariants(_ store: XenStore) {
    store.state.withLock { s in
        var owners: [UInt16: Int] = [:]
        for (path, node) in s.nodes {
            owners[node.owner, default: 0] += 1
            #expect(!node.perms.isEmpty)
            for name in node.children { #expect(s.nodes[XenStorePath.child(path, name)] != nil, "\(path)/\(name)") }
            #expect(Set(node.children).count == node.children.count, "\(path)")
            guard path != "/" else { continue }
            let parent = s.nodes[XenStorePath.parent(of: path)]
            #expect(parent?.children.contains(XenStorePath.name(of: path)) == true, "\(path)")
        }
        #expect(owners == s.owned.filter { $0.value != 0 })
    }
}

/// NUL-terminated strings: the payload of most requests.
func xsFields(_ strings: String...) -> [UInt8] { strings.flatMap { Array($0.utf8) + [0] } }

/// XenStore's core against Xen's semantics: wire format, paths, permissions, the tree operations,
/// transactions, watches, domains, quotas, and malformed requests.
@Suite struct XenStoreTests {
    let store: XenStore
    let log = XenStoreEventLog()

    /// A store with guests 5 and 7 introduced, every domain (Dom0 included) connected to the log.
    init() {
        self.init(quotas: XenStoreQuotas())
    }

    init(quotas: XenStoreQuotas, guests: [UInt16] = [5, 7]) {
        store = XenStore(quotas: quotas)
        for d: UInt16 in [0, 5, 7, 9] {
            store.connect(domid: d) { [log] m in log.record(d, m) }
        }
        for g in guests { store.introduceDomain(g, name: "guest\(g)") }
        for d: UInt16 in [0, 5, 7, 9] { _ = log.take(d) }
    }

    @discardableResult
    func send(_ type: XenStoreMessageType, _ payload: [UInt8], from domid: UInt16, tx: UInt32 = 0,
              req: UInt32 = 77) -> XenStoreMessage {
        let reply = store.handle(XenStoreMessage(type: type, requestID: req, transactionID: tx, payload: payload), from: domid)
        #expect(reply.requestID == req)
        #expect(reply.transactionID == tx)
        return reply
    }

    func write(_ path: String, _ value: String, from domid: UInt16, tx: UInt32 = 0) -> XenStoreMessage {
        send(.write, Array(path.utf8) + [0] + Array(value.utf8), from: domid, tx: tx)
    }

    func read(_ path: String, from domid: UInt16, tx: UInt32 = 0) -> XenStoreMessage {
        send(.read, xsFields(path), from: domid, tx: tx)
    }

    /// The reply's payload as text without its final NUL.
    func text(_ m: XenStoreMessage) -> String {
        String(decoding: m.payload.last == 0 ? m.payload.dropLast() : m.payload[...], as: UTF8.self)
    }

    func isOK(_ m: XenStoreMessage) -> Bool { m.type != .error && m.payload == Array("OK".utf8) + [0] }

    func startTransaction(from domid: UInt16) throws -> UInt32 {
        let reply = send(.transactionStart, [0], from: domid)
        #expect(reply.type == .transactionStart)
        return try #require(UInt32(text(reply)))
    }

    func endTransaction(_ tx: UInt32, commit: Bool, from domid: UInt16) -> XenStoreMessage {
        send(.transactionEnd, xsFields(commit ? "T" : "F"), from: domid, tx: tx)
    }

    // MARK: Wire

    @Test func messageTypesAndErrorNamesAreXens() {
        let numbers: [XenStoreMessageType: UInt32] = [
            .control: 0, .directory: 1, .read: 2, .getPerms: 3, .watch: 4, .unwatch: 5, .transactionStart: 6,
            .transactionEnd: 7, .introduce: 8, .release: 9, .getDomainPath: 10, .write: 11, .mkdir: 12, .rm: 13,
            .setPerms: 14, .watchEvent: 15, .error: 16, .isDomainIntroduced: 17, .resume: 18, .setTarget: 19,
            .resetWatches: 21, .directoryPart: 22, .getFeature: 23, .setFeature: 24, .getQuota: 25, .setQuota: 26,
        ]
        #expect(numbers.count == XenStoreMessageType.allCases.count)
        for (type, number) in numbers { #expect(type.rawValue == number) }
        #expect(XenStoreMessageType(rawValue: 20) == nil)
        #expect(XenStoreError.allCases.map(\.rawValue) == [
            "EINVAL", "EACCES", "EEXIST", "EISDIR", "ENOENT", "ENOMEM", "ENOSPC", "EIO", "ENOTEMPTY", "ENOSYS",
            "EROFS", "EBUSY", "EAGAIN", "EISCONN", "E2BIG", "EPERM",
        ])
        #expect(XenStoreLimits.payloadMax == 4096)
        #expect(XenStoreLimits.absolutePathMax == 3072)
        #expect(XenStoreLimits.relativePathMax == 2048)
    }

    @Test func encodeAndParseRoundTrip() throws {
        let m = XenStoreMessage(type: .write, requestID: 0x1234_5678, transactionID: 9, payload: xsFields("a/b") + [1, 2, 0])
        let bytes = m.encoded()
        #expect(bytes.count == 16 + m.payload.count)
        #expect(Array(bytes[0..<16]) == [11, 0, 0, 0, 0x78, 0x56, 0x34, 0x12, 9, 0, 0, 0, 7, 0, 0, 0])
        let h = try XenStoreMessage.header(bytes[0..<16])
        #expect(h.type == 11 && h.requestID == 0x1234_5678 && h.transactionID == 9 && h.length == 7)
        #expect(try XenStoreMessage.decode(bytes) == m)
        #expect(XenStoreMessage.request(bytes) == m)
        // An unknown type survives the trip (so that it can be answered).
        let odd = XenStoreMessage(rawType: 99, requestID: 1)
        #expect(try XenStoreMessage.decode(odd.encoded()) == odd)
        #expect(odd.type == nil)
    }

    @Test func headerRefusals() {
        #expect(throws: XenStoreWireError.headerSize(15)) { _ = try XenStoreMessage.header([UInt8](repeating: 0, count: 15)) }
        var h = XenStoreMessage(type: .read).encoded()
        h[12] = 0x01; h[13] = 0x10   // len 4097
        #expect(throws: XenStoreWireError.payloadTooLong(4097)) { _ = try XenStoreMessage.header(h) }
        let short = XenStoreMessage(type: .read, payload: [1, 2, 3]).encoded().dropLast()
        #expect(throws: XenStoreWireError.lengthMismatch(declared: 3, actual: 2)) { _ = try XenStoreMessage.decode(Array(short)) }
        #expect(XenStoreMessage.request(Array(short)) == nil)
        let e = XenStoreMessage.error(.EINVAL, replyingTo: XenStoreMessage(type: .read, requestID: 4, transactionID: 2).encoded())
        #expect(e.requestID == 4 && e.transactionID == 2 && e.error == .EINVAL)
    }

    @Test func errorReplyExactBytes() {
        let reply = send(.read, xsFields("/nowhere"), from: 0, req: 0x0102_0304)
        #expect(reply.encoded() == [16, 0, 0, 0, 4, 3, 2, 1, 0, 0, 0, 0, 7, 0, 0, 0] + Array("ENOENT".utf8) + [0])
        #expect(reply.error == .ENOENT)
    }

    // MARK: Paths

    @Test func relativePathsResolveUnderTheDomainsHome() {
        #expect(text(read("domid", from: 5)) == "5")
        #expect(text(read("name", from: 7)) == "guest7")
        #expect(isOK(write("data/x", "hello", from: 5)))
        #expect(text(read("/local/domain/5/data/x", from: 0)) == "hello")
        #expect(text(send(.getDomainPath, xsFields("12"), from: 5)) == "/local/domain/12")
        #expect(send(.getDomainPath, xsFields("12x"), from: 5).error == .EINVAL)
        #expect(text(read("domid", from: 0)) == "0")          // Dom0's own home
    }

    @Test func pathSyntaxAndLengths() {
        for bad in ["data/a.b", "data/a b", "/local//domain", "/local/", "", "data/é", "@special"] {
            #expect(read(bad, from: 5).error == .EINVAL, "\(bad)")
            #expect(write(bad, "v", from: 0).error == .EINVAL, "\(bad)")
        }
        // 3072 bytes is the longest absolute path; one more is refused.
        var longest = ""
        while longest.utf8.count < 3072 { longest += "/" + String(repeating: "a", count: min(99, 3072 - longest.utf8.count - 1)) }
        #expect(longest.utf8.count == 3072)
        #expect(isOK(write(longest, "deep", from: 0)))
        #expect(text(read(longest, from: 0)) == "deep")
        #expect(write(longest + "b", "v", from: 0).error == .EINVAL)
        #expect(read(longest + "b", from: 0).error == .EINVAL)
        // A relative path may have 2048 bytes.
        let relative = "data/" + String(repeating: "r", count: 2043)
        #expect(isOK(write(relative, "v", from: 5)))
        #expect(write(relative + "r", "v", from: 5).error == .EINVAL)
        // The root is the only path that ends in "/".
        #expect(send(.directory, xsFields("/"), from: 0).type == .directory)
        #expect(isOK(rmMessage("/local/domain/0/absent")))
    }

    func rmMessage(_ path: String, from domid: UInt16 = 0, tx: UInt32 = 0) -> XenStoreMessage {
        send(.rm, xsFields(path), from: domid, tx: tx)
    }

    // MARK: Permissions

    @Test func guestsCannotSeeEachOther() {
        #expect(read("/local/domain/7/name", from: 5).error == .EACCES)
        #expect(read("/local/domain/7/data", from: 5).error == .EACCES)
        // A node a domain may not see answers EACCES whether it exists or not.
        #expect(read("/local/domain/7/no/such/node", from: 5).error == .EACCES)
        #expect(read("/local/domain/5/no/such/node", from: 5).error == .ENOENT)
        #expect(send(.directory, xsFields("/local/domain"), from: 5).error == .EACCES)
        #expect(write("/local/domain/7/data/x", "evil", from: 5).error == .EACCES)
        #expect(rmMessage("/local/domain/7/data", from: 5).error == .EACCES)
        #expect(send(.getPerms, xsFields("/local/domain/7"), from: 5).error == .EACCES)
    }

    @Test func guestsCannotWriteDom0sNodes() {
        #expect(write("/local/domain/0/x", "v", from: 5).error == .EACCES)
        #expect(write("/newtop", "v", from: 5).error == .EACCES)
        #expect(send(.mkdir, xsFields("/tool"), from: 5).error == .EACCES)
        #expect(rmMessage("/local", from: 5).error == .EACCES)
        #expect(rmMessage("/", from: 5).error == .EACCES)
        #expect(rmMessage("/", from: 0).error == .EINVAL)
        // Read-only nodes of its own home.
        #expect(write("domid", "6", from: 5).error == .EACCES)
        #expect(write("name", "x", from: 5).error == .EACCES)
        #expect(write("control/platform-feature-xs_reset_watches", "0", from: 5).error == .EACCES)
        #expect(text(read("domid", from: 5)) == "5")
    }

    @Test func theHomeLayout() throws {
        #expect(try store.permissions("/local/domain/5").map(\.description) == ["n5"])
        #expect(text(send(.getPerms, xsFields("domid"), from: 5)) == "n0\u{0}r5")
        #expect(text(read("control/platform-feature-xs_reset_watches", from: 5)) == "1")
        #expect(text(read("control/platform-feature-multiprocessor-suspend", from: 5)) == "1")
        #expect(send(.directory, xsFields(""), from: 5).error == .EINVAL)    // "" is not a path
        let home = Set(try store.directory("/local/domain/5"))
        #expect(home == ["domid", "name", "device", "data", "control", "memory", "attr", "drivers", "error", "feature"])
        #expect(text(send(.directory, xsFields("/local/domain/5"), from: 5)).split(separator: "\u{0}").count == home.count)
        // The guest writes its own features and clears shutdown requests.
        #expect(isOK(write("control/feature-poweroff", "1", from: 5)))
        #expect(isOK(write("control/shutdown", "", from: 5)))
        #expect(isOK(write("device/vbd/51712/state", "1", from: 5)))
        #expect(isOK(write("memory/target", "1024", from: 5)))
        #expect(isOK(write("x", "anywhere in its home", from: 5)))
    }

    @Test func inheritanceAndOwnership() throws {
        // A backend directory Dom0 shares with guest 5 (both ways).
        try store.mkdir("/local/domain/0/backend/vif/5")
        try store.setPermissions("/local/domain/0/backend/vif/5", [.init(.none, 0), .init(.both, 5)])
        #expect(isOK(write("/local/domain/0/backend/vif/5/x", "v", from: 5)))
        // The guest owns what it creates; the rest of the list is its parent's.
        #expect(try store.permissions("/local/domain/0/backend/vif/5/x").map(\.description) == ["n5", "b5"])
        #expect(read("/local/domain/0/backend/vif/5/x", from: 7).error == .EACCES)
        // Dom0's creations keep the parent's owner: under a guest's home, they are the guest's.
        try store.write("/local/domain/5/device/vif/0/mac", "00:16:3e:00:00:05")
        #expect(try store.permissions("/local/domain/5/device/vif/0/mac").map(\.description) == ["n5"])
        #expect(isOK(write("device/vif/0/mac", "changed", from: 5)))
        // The owner shares its node, but may not give it away; others may not touch the list.
        #expect(isOK(send(.setPerms, xsFields("data", "n5", "r7"), from: 5)))
        #expect(read("/local/domain/5/data", from: 7).type == .read)
        #expect(write("/local/domain/5/data", "no", from: 7).error == .EACCES)
        #expect(send(.setPerms, xsFields("/local/domain/5/data", "b7"), from: 7).error == .EACCES)
        #expect(send(.setPerms, xsFields("data", "n7"), from: 5).error == .EPERM)
        #expect(send(.setPerms, xsFields("domid", "b5"), from: 5).error == .EACCES)   // read-only, Dom0's
        #expect(send(.setPerms, xsFields("data/missing", "n5"), from: 5).error == .ENOENT)
        // Dom0 may give anything to anyone.
        #expect(isOK(send(.setPerms, xsFields("/local/domain/5/data", "n7"), from: 0)))
        #expect(read("/local/domain/5/data", from: 5).error == .EACCES)
        #expect(read("/local/domain/5/data", from: 7).type == .read)
    }

    @Test func aSpecificEntryOverridesTheDefault() throws {
        try store.write("/shared", "v")
        try store.setPermissions("/shared", [.init(.read, 0), .init(.none, 7)])
        #expect(text(read("/shared", from: 5)) == "v")     // the default: read
        #expect(read("/shared", from: 7).error == .EACCES)   // its own entry: none
        #expect(write("/shared", "w", from: 5).error == .EACCES)
        #expect(XenStorePermission(Array("b65535".utf8)) == .init(.both, 65535))
        #expect(XenStorePermission(Array("x5".utf8)) == nil)
        #expect(XenStorePermission(Array("r65536".utf8)) == nil)
        #expect(XenStorePermission(Array("r".utf8)) == nil)
    }

    @Test func setTargetGivesADeviceModelItsGuest() {
        #expect(read("/local/domain/5/name", from: 7).error == .EACCES)
        #expect(send(.setTarget, xsFields("7", "5"), from: 7).error == .EACCES)
        #expect(isOK(send(.setTarget, xsFields("7", "5"), from: 0)))
        #expect(text(read("/local/domain/5/name", from: 7)) == "guest5")       // 5's grant, inherited
        #expect(isOK(write("/local/domain/5/data/dm", "v", from: 7)))        // 5's node, fully
        #expect(send(.setTarget, xsFields("7", "9"), from: 0).error == .ENOENT)
    }

    // MARK: Tree operations

    @Test func writeCreatesParentsAndMkdirKeepsValues() throws {
        #expect(isOK(write("data/a/b/c", "leaf", from: 5)))
        #expect(text(read("data/a", from: 5)) == "")
        #expect(text(read("data/a/b/c", from: 5)) == "leaf")
        #expect(isOK(write("data/a", "value", from: 5)))
        #expect(isOK(send(.mkdir, xsFields("data/a"), from: 5)))
        #expect(text(read("data/a", from: 5)) == "value")
        #expect(isOK(send(.mkdir, xsFields("data/m/n"), from: 5)))
        #expect(text(send(.directory, xsFields("data/m"), from: 5)) == "n")
        // Values are bytes: NULs and all.
        #expect(isOK(send(.write, xsFields("data/bin") + [0, 1, 0, 255], from: 5)))
        #expect(read("data/bin", from: 5).payload == [0, 1, 0, 255])
        #expect(isOK(send(.write, xsFields("data/empty"), from: 5)))
        #expect(read("data/empty", from: 5).payload == [])
    }

    @Test func directoryListsChildrenInCreationOrder() {
        for name in ["zeta", "alpha", "mid"] { #expect(isOK(write("data/d/\(name)", "", from: 5))) }
        #expect(send(.directory, xsFields("data/d"), from: 5).payload == xsFields("zeta", "alpha", "mid"))
        #expect(send(.directory, xsFields("data/d/zeta"), from: 5).payload == [])
        #expect(send(.directory, xsFields("data/none"), from: 5).error == .ENOENT)
    }

    @Test func directoryPartPagesALongList() throws {
        let names = (0..<300).map { "child-" + String(repeating: "x", count: 20) + String($0) }
        for n in names { try store.write("/big/" + n, "") }
        #expect(send(.directory, xsFields("/big"), from: 0).error == .E2BIG)
        var got: [String] = []
        var offset = 0
        var generation: String?
        var rounds = 0
        while rounds < 20 {
            rounds += 1
            let reply = send(.directoryPart, xsFields("/big", String(offset)), from: 0)
            #expect(reply.type == .directoryPart)
            #expect(reply.payload.count <= 4096)
            let nul = try #require(reply.payload.firstIndex(of: 0))
            let gen = String(decoding: reply.payload[..<nul], as: UTF8.self)
            if let generation { #expect(gen == generation) } else { generation = gen }
            let fields = reply.payload[(nul + 1)...].dropLast().split(separator: 0, omittingEmptySubsequences: false)
                .map { String(decoding: $0, as: UTF8.self) }
            if fields.last == "" {                   // the empty name: end of the list
                got += fields.dropLast()
                break
            }
            got += fields
            offset += fields.reduce(0) { $0 + $1.utf8.count + 1 }
        }
        #expect(got == names)
        #expect(rounds > 1)
        // Past the end: the generation and the end marker only.
        let past = send(.directoryPart, xsFields("/big", "999999"), from: 0)
        #expect(past.payload == Array(try #require(generation).utf8) + [0, 0])
        // The generation moves when the list changes.
        try store.write("/big/one-more", "")
        let after = send(.directoryPart, xsFields("/big", "0"), from: 0)
        #expect(!after.payload.starts(with: Array(try #require(generation).utf8) + [0]))
        #expect(send(.directoryPart, xsFields("/big"), from: 0).error == .EINVAL)
        #expect(send(.directoryPart, xsFields("/big", "-1"), from: 0).error == .EINVAL)
    }

    @Test func rmIsRecursive() throws {
        for p in ["data/t/a/1", "data/t/a/2", "data/t/b", "data/keep"] { #expect(isOK(write(p, "v", from: 5))) }
        #expect(isOK(rmMessage("data/t", from: 5)))
        for p in ["data/t", "data/t/a", "data/t/a/1", "data/t/b"] { #expect(read(p, from: 5).error == .ENOENT) }
        #expect(text(read("data/keep", from: 5)) == "v")
        #expect(!(try store.directory("/local/domain/5/data")).contains("t"))
        // A missing node is fine when its parent exists; not when the parent is missing too.
        #expect(isOK(rmMessage("data/t", from: 5)))
        #expect(rmMessage("data/t/a", from: 5).error == .ENOENT)
        // Removing frees the quota: the guest owns what it had before.
        let before = store.statistics().nodesOwned[5]
        #expect(isOK(write("data/q/1/2/3", "v", from: 5)))
        #expect(isOK(rmMessage("data/q", from: 5)))
        #expect(store.statistics().nodesOwned[5] == before)
    }

    // MARK: Transactions

    @Test func commitMakesChangesVisibleTogether() throws {
        let tx = try startTransaction(from: 5)
        #expect(tx != 0)
        #expect(isOK(write("data/a", "1", from: 5, tx: tx)))
        #expect(isOK(write("data/b/c", "2", from: 5, tx: tx)))
        #expect(text(read("data/a", from: 5, tx: tx)) == "1")         // reads see the transaction's writes
        #expect(text(send(.directory, xsFields("data"), from: 5, tx: tx)) == "a\u{0}b")
        #expect(read("data/a", from: 5).error == .ENOENT)             // nobody else does, yet
        #expect(isOK(endTransaction(tx, commit: true, from: 5)))
        #expect(text(read("data/a", from: 5)) == "1")
        #expect(text(read("data/b/c", from: 5)) == "2")
        #expect(read("data/a", from: 5, tx: tx).error == .ENOENT)      // the id is gone
    }

    @Test func abortChangesNothing() throws {
        #expect(isOK(write("data/a", "old", from: 5)))
        let tx = try startTransaction(from: 5)
        #expect(isOK(write("data/a", "new", from: 5, tx: tx)))
        #expect(isOK(rmMessage("data", from: 5, tx: tx)))
        #expect(read("data/a", from: 5, tx: tx).error == .ENOENT)
        #expect(isOK(endTransaction(tx, commit: false, from: 5)))
        #expect(text(read("data/a", from: 5)) == "old")
    }

    @Test func aConflictIsEAGAINAndChangesNothing() throws {
        #expect(isOK(write("data/a", "1", from: 5)))
        let tx = try startTransaction(from: 5)
        #expect(text(read("data/a", from: 5, tx: tx)) == "1")
        #expect(isOK(write("data/a", "changed outside", from: 5)))
        #expect(isOK(write("data/b", "from the transaction", from: 5, tx: tx)))
        #expect(endTransaction(tx, commit: true, from: 5).error == .EAGAIN)
        #expect(read("data/b", from: 5).error == .ENOENT)
        #expect(text(read("data/a", from: 5)) == "changed outside")
        #expect(read("data/a", from: 5, tx: tx).error == .ENOENT)      // ended anyway

        // A node the transaction found missing, created meanwhile, conflicts too.
        let tx2 = try startTransaction(from: 5)
        #expect(read("data/new", from: 5, tx: tx2).error == .ENOENT)
        #expect(isOK(write("/local/domain/5/data/new", "x", from: 0)))
        #expect(isOK(write("data/c", "y", from: 5, tx: tx2)))
        #expect(endTransaction(tx2, commit: true, from: 5).error == .EAGAIN)
        #expect(read("data/c", from: 5).error == .ENOENT)

        // Changes elsewhere do not.
        let tx3 = try startTransaction(from: 5)
        #expect(isOK(write("data/a", "tx3", from: 5, tx: tx3)))
        #expect(isOK(write("/local/domain/7/data/z", "unrelated", from: 7)))
        #expect(isOK(endTransaction(tx3, commit: true, from: 5)))
        #expect(text(read("data/a", from: 5)) == "tx3")
    }

    @Test func twoTransactionsOnTheSameNode() throws {
        #expect(isOK(write("data/state", "1", from: 5)))
        let t1 = try startTransaction(from: 5)
        let t2 = try startTransaction(from: 5)
        #expect(t1 != t2)
        #expect(text(read("data/state", from: 5, tx: t1)) == "1")
        #expect(text(read("data/state", from: 5, tx: t2)) == "1")
        #expect(isOK(write("data/state", "2", from: 5, tx: t1)))
        #expect(isOK(write("data/state", "3", from: 5, tx: t2)))
        #expect(isOK(endTransaction(t1, commit: true, from: 5)))
        #expect(endTransaction(t2, commit: true, from: 5).error == .EAGAIN)
        #expect(text(read("data/state", from: 5)) == "2")
    }

    @Test func transactionIdsAndLimits() throws {
        var open: [UInt32] = []
        for _ in 0..<10 { open.append(try startTransaction(from: 5)) }
        #expect(Set(open).count == 10)
        #expect(send(.transactionStart, [0], from: 5).error == .ENOSPC)
        #expect(store.statistics().transactions[5] == 10)
        #expect(isOK(endTransaction(open[0], commit: false, from: 5)))
        #expect(send(.transactionStart, [0], from: 5).type == .transactionStart)
        // Dom0 has no limit.
        for _ in 0..<20 { _ = try startTransaction(from: 0) }
        // Ids belong to their domain: 7 cannot use 5's.
        #expect(read("domid", from: 7, tx: open[1]).error == .ENOENT)
        // A transaction cannot be started inside one, or ended outside one.
        #expect(send(.transactionStart, [0], from: 5, tx: open[1]).error == .EBUSY)
        #expect(send(.transactionStart, [0], from: 5, tx: 0xdead).error == .ENOENT)
        #expect(send(.transactionEnd, xsFields("T"), from: 5).error == .ENOENT)
        #expect(send(.transactionEnd, xsFields("X"), from: 5, tx: open[1]).error == .EINVAL)
        #expect(send(.transactionEnd, Array("T".utf8), from: 5, tx: open[1]).error == .EINVAL)
    }

    @Test func transactionNodesQuota() throws {
        var q = XenStoreQuotas()
        q.transactionNodes = 8
        let t = XenStoreTests(quotas: q)
        let tx = try t.startTransaction(from: 5)
        var failed: XenStoreMessage?
        for i in 0..<20 where failed == nil {
            let r = t.read("data/n\(i)", from: 5, tx: tx)
            if r.error == .ENOSPC { failed = r }
        }
        #expect(failed != nil)
        #expect(t.endTransaction(tx, commit: true, from: 5).error == .ENOMEM)
    }

    @Test func watchesFireAtCommitOnly() throws {
        #expect(isOK(send(.watch, xsFields("data", "w"), from: 5)))
        #expect(log.take(5) == ["data|w"])
        let tx = try startTransaction(from: 5)
        #expect(isOK(write("data/a", "1", from: 5, tx: tx)))
        #expect(isOK(write("data/a", "2", from: 5, tx: tx)))
        #expect(log.take(5) == [])
        #expect(isOK(endTransaction(tx, commit: true, from: 5)))
        #expect(log.take(5) == ["data/a|w"])       // two writes to one node: one event
        let aborted = try startTransaction(from: 5)
        #expect(isOK(write("data/b", "1", from: 5, tx: aborted)))
        #expect(isOK(endTransaction(aborted, commit: false, from: 5)))
        #expect(log.take(5) == [])
    }

    // MARK: Watches

    @Test func aWatchFiresOnceAtRegistrationAndOncePerChange() {
        #expect(isOK(send(.watch, xsFields("data", "tok"), from: 5)))
        #expect(log.take(5) == ["data|tok"])
        #expect(isOK(write("data/a", "1", from: 5)))
        #expect(log.take(5) == ["data/a|tok"])
        #expect(isOK(write("data/a", "2", from: 5)))
        #expect(isOK(write("data/x/y/z", "3", from: 5)))    // three nodes created: one change
        #expect(log.take(5) == ["data/a|tok", "data/x/y/z|tok"])
        #expect(isOK(send(.mkdir, xsFields("data/a"), from: 5)))   // nothing changed
        #expect(log.take(5) == [])
        #expect(isOK(send(.setPerms, xsFields("data/a", "n5", "r7"), from: 5)))
        #expect(log.take(5) == ["data/a|tok"])
        #expect(isOK(rmMessage("data", from: 5)))
        #expect(log.take(5) == ["data|tok"])
        #expect(isOK(rmMessage("data", from: 5)))              // already gone: no change
        #expect(log.take(5) == [])
    }

    @Test func watchesOnAncestorsButNotOnUnrelatedPaths() throws {
        try store.watch(path: "/local/domain", token: "all")
        #expect(isOK(send(.watch, xsFields("/local/domain/5/device", "dev"), from: 5)))
        #expect(log.take(0) == ["/local/domain|all"])
        _ = log.take(5)
        #expect(isOK(write("device/vbd/1/state", "4", from: 5)))
        #expect(log.take(0) == ["/local/domain/5/device/vbd/1/state|all"])
        #expect(log.take(5) == ["/local/domain/5/device/vbd/1/state|dev"])
        #expect(isOK(write("data/other", "x", from: 5)))
        #expect(isOK(write("/local/domain/7/device/x", "x", from: 7)))
        #expect(log.take(5) == [])
        #expect(log.take(0) == ["/local/domain/5/data/other|all", "/local/domain/7/device/x|all"])
        // A prefix that is not an ancestor is unrelated.
        #expect(isOK(send(.watch, xsFields("data/ab", "ab"), from: 5)))
        _ = log.take(5)
        #expect(isOK(write("data/abc", "x", from: 5)))
        #expect(log.take(5) == [])
    }

    @Test func removingAnAncestorFiresWatchesOnExistingDescendants() {
        #expect(isOK(write("data/x/y", "v", from: 5)))
        #expect(isOK(send(.watch, xsFields("data/x/y", "deep"), from: 5)))
        #expect(isOK(send(.watch, xsFields("data/x/y/z", "absent"), from: 5)))
        #expect(isOK(send(.watch, xsFields("data", "top"), from: 5)))
        _ = log.take(5)
        #expect(isOK(rmMessage("data/x", from: 5)))
        #expect(log.take(5).sorted() == ["data/x/y|deep", "data/x|top"])
    }

    @Test func relativeAndAbsoluteWatches() {
        #expect(isOK(send(.watch, xsFields("control/shutdown", "rel"), from: 5)))
        #expect(isOK(send(.watch, xsFields("/local/domain/5/control/shutdown", "abs"), from: 5)))
        #expect(log.take(5) == ["control/shutdown|rel", "/local/domain/5/control/shutdown|abs"])
        #expect(isOK(write("/local/domain/5/control/shutdown", "poweroff", from: 0)))
        #expect(log.take(5) == ["control/shutdown|rel", "/local/domain/5/control/shutdown|abs"])
        // Same path and token twice: EEXIST; UNWATCH matches either spelling.
        #expect(send(.watch, xsFields("/local/domain/5/control/shutdown", "rel"), from: 5).error == .EEXIST)
        #expect(isOK(send(.unwatch, xsFields("/local/domain/5/control/shutdown", "rel"), from: 5)))
        #expect(send(.unwatch, xsFields("control/shutdown", "rel"), from: 5).error == .ENOENT)
        #expect(isOK(write("/local/domain/5/control/shutdown", "reboot", from: 0)))
        #expect(log.take(5) == ["/local/domain/5/control/shutdown|abs"])
        // WATCH ignores tx_id.
        #expect(isOK(send(.watch, xsFields("data", "t"), from: 5, tx: 12345)))
    }

    @Test func watchersHearOnlyOfWhatTheyMayRead() {
        #expect(isOK(send(.watch, xsFields("/", "root"), from: 7)))
        #expect(isOK(send(.watch, xsFields("/local/domain/5/data", "peek"), from: 7)))
        #expect(log.take(7) == ["/|root", "/local/domain/5/data|peek"])   // the first event always comes
        #expect(isOK(write("data/secret", "s", from: 5)))
        #expect(isOK(write("/local/domain/7/data/mine", "m", from: 7)))
        #expect(log.take(7) == ["/local/domain/7/data/mine|root"])
        // Shared with 7, the node's changes reach it.
        #expect(isOK(send(.setPerms, xsFields("data/secret", "n5", "r7"), from: 5)))
        #expect(log.take(7) == ["/local/domain/5/data/secret|root", "/local/domain/5/data/secret|peek"])
        // Taking the grant back is still told (7 could read it before the change).
        #expect(isOK(send(.setPerms, xsFields("data/secret", "n5"), from: 5)))
        #expect(log.take(7).count == 2)
        #expect(isOK(write("data/secret", "t", from: 5)))
        #expect(log.take(7) == [])
    }

    @Test func specialWatchesForDomainsComingAndGoing() throws {
        try store.watch(path: "@introduceDomain", token: "in")
        try store.watch(path: "@releaseDomain", token: "out")
        #expect(isOK(send(.watch, xsFields("@releaseDomain", "g"), from: 5)))
        #expect(log.take(0) == ["@introduceDomain|in", "@releaseDomain|out"])
        #expect(log.take(5) == ["@releaseDomain|g"])
        #expect(store.introduceDomain(9, name: "nine"))
        #expect(log.take(0) == ["@introduceDomain|in"])
        #expect(store.introduceDomain(9, name: "nine again"))          // already introduced: no event
        #expect(log.take(0) == [])
        #expect(store.releaseDomain(9))
        #expect(log.take(0).contains("@releaseDomain|out"))
        #expect(log.take(5) == [])                                   // "@releaseDomain" is Dom0's ("n0")
        // Dom0 may let a guest hear of it (the change of permissions is an event itself, as in Xen).
        try store.setPermissions("@releaseDomain", [.init(.none, 0), .init(.read, 5)])
        #expect(log.take(5) == ["@releaseDomain|g"])
        #expect(text(send(.getPerms, xsFields("@releaseDomain"), from: 5)) == "n0\u{0}r5")
        #expect(store.introduceDomain(9, name: "nine"))
        #expect(store.releaseDomain(9))
        #expect(log.take(5) == ["@releaseDomain|g"])
        #expect(!store.releaseDomain(9))
        #expect(!store.introduceDomain(0, name: "dom0"))
        #expect(!store.introduceDomain(0x7ff0, name: "self"))
    }

    @Test func watchQuotaAndResetWatches() throws {
        for i in 0..<128 { #expect(isOK(send(.watch, xsFields("data", "t\(i)"), from: 5))) }
        #expect(send(.watch, xsFields("data", "one too many"), from: 5).error == .E2BIG)
        #expect(store.statistics().watches[5] == 128)
        for i in 0..<200 { try store.watch(path: "/", token: "d\(i)") }     // Dom0: no limit
        let tx = try startTransaction(from: 5)
        #expect(isOK(send(.resetWatches, [0], from: 5)))
        #expect(store.statistics().watches[5] == nil)
        #expect(store.statistics().transactions[5] == nil)
        #expect(read("domid", from: 5, tx: tx).error == .ENOENT)
        _ = log.take(5)
        #expect(isOK(write("data/x", "v", from: 5)))
        #expect(log.take(5) == [])
    }

    @Test func eventsAreDeliveredOutsideTheLock() throws {
        // A delivery that calls back into the store would deadlock if it ran under the store's lock.
        let seen = XenStoreBox<[String]>([])
        let store = XenStore()
        store.connect(domid: 0) { [weak store] _ in
            let value = (try? store?.read("/flag")).map { String(decoding: $0, as: UTF8.self) } ?? "-"
            seen.value.withLock { $0.append(value) }
        }
        try store.watch(path: "/flag", token: "t")
        try store.write("/flag", "up")
        #expect(seen.value.withLock { $0 } == ["-", "up"])
    }

    // MARK: Domains

    @Test func introduceAndReleaseOverTheWire() {
        #expect(send(.introduce, xsFields("9", "1234", "3"), from: 5).error == .EACCES)
        #expect(send(.isDomainIntroduced, xsFields("9"), from: 5).error == .EACCES)
        #expect(text(send(.isDomainIntroduced, xsFields("9"), from: 0)) == "F")
        #expect(send(.introduce, xsFields("9", "1234", "0"), from: 0).error == .EINVAL)
        #expect(send(.introduce, xsFields("0", "1234", "3"), from: 0).error == .EINVAL)
        #expect(send(.introduce, xsFields("9", "1234"), from: 0).error == .EINVAL)
        #expect(isOK(send(.introduce, xsFields("9", "1234", "3"), from: 0)))
        #expect(text(send(.isDomainIntroduced, xsFields("9"), from: 0)) == "T")
        #expect(text(send(.isDomainIntroduced, xsFields("0"), from: 0)) == "T")
        #expect(isOK(send(.resume, xsFields("9"), from: 0)))
        #expect(send(.resume, xsFields("9"), from: 5).error == .EACCES)
        #expect(send(.release, xsFields("9"), from: 7).error == .EACCES)
        #expect(isOK(send(.release, xsFields("9"), from: 0)))
        #expect(send(.release, xsFields("9"), from: 0).error == .ENOENT)
        #expect(send(.resume, xsFields("9"), from: 0).error == .ENOENT)
        #expect(send(.release, xsFields("0"), from: 0).error == .EINVAL)
        #expect(text(send(.isDomainIntroduced, xsFields("9"), from: 0)) == "F")
    }

    @Test func releaseCleansUp() throws {
        // Guest 5 holds watches, a transaction, nodes in its home and a node elsewhere; Dom0 grants it
        // read access to a backend node.
        #expect(isOK(send(.watch, xsFields("data", "w"), from: 5)))
        let tx = try startTransaction(from: 5)
        #expect(isOK(write("data/pending", "v", from: 5, tx: tx)))
        try store.write("/vm/5/uuid", "u")
        try store.setPermissions("/vm/5", [.init(.none, 5)])
        try store.write("/local/domain/0/backend/vbd/5/51712/state", "4")
        try store.setPermissions("/local/domain/0/backend/vbd/5/51712/state", [.init(.none, 0), .init(.read, 5), .init(.read, 7)])
        try store.watch(path: "/local/domain", token: "dom0")
        try store.watch(path: "@releaseDomain", token: "rel")
        _ = log.take(0)
        _ = log.take(5)
        #expect(store.statistics().nodesOwned[5] != nil)

        #expect(store.releaseDomain(5))
        #expect(throws: XenStoreError.ENOENT) { _ = try store.read("/local/domain/5") }
        #expect(throws: XenStoreError.ENOENT) { _ = try store.read("/vm/5") }
        #expect(try store.read("/vm").isEmpty)
        #expect(try store.permissions("/local/domain/0/backend/vbd/5/51712/state").map(\.description) == ["n0", "r7"])
        let stats = store.statistics()
        #expect(stats.nodesOwned[5] == nil)
        #expect(stats.watches[5] == nil)
        #expect(stats.transactions[5] == nil)
        #expect(stats.introduced == [7])
        #expect(log.take(5) == [])                                     // it heard nothing of its own end
        #expect(log.take(0) == ["/local/domain/5|dom0", "@releaseDomain|rel"])
        #expect(!store.isIntroduced(5))
        // A new domain 5 starts clean.
        #expect(store.introduceDomain(5, name: "again"))
        #expect(read("/local/domain/0/backend/vbd/5/51712/state", from: 5).error == .EACCES)
        #expect(read("data/pending", from: 5).error == .ENOENT)
        #expect(text(read("name", from: 5)) == "again")
    }

    @Test func disconnectDropsWatchesAndTransactions() throws {
        #expect(isOK(send(.watch, xsFields("data", "w"), from: 5)))
        _ = try startTransaction(from: 5)
        store.disconnect(domid: 5)
        #expect(store.statistics().watches[5] == nil)
        #expect(store.statistics().transactions[5] == nil)
        #expect(store.isIntroduced(5))
    }

    // MARK: Quotas

    @Test func nodeQuota() throws {
        let start = try #require(store.statistics().nodesOwned[5])
        var created = 0
        var refusal: XenStoreMessage?
        while refusal == nil && created < 2000 {
            let r = write("data/n\(created)", "", from: 5)
            if r.type == .error { refusal = r } else { created += 1 }
        }
        #expect(refusal?.error == .ENOSPC)
        #expect(start + created == 1000)
        #expect(store.statistics().nodesOwned[5] == 1000)
        // Overwriting still works; a write that needs two more nodes creates neither.
        #expect(isOK(write("data/n0", "value", from: 5)))
        #expect(isOK(rmMessage("data/n1", from: 5)))
        #expect(isOK(rmMessage("data/n2", from: 5)))
        #expect(write("data/p/q/r", "", from: 5).error == .ENOSPC)
        #expect(read("data/p", from: 5).error == .ENOENT)
        // In a transaction its own creations count, and the quota is checked again at commit.
        let tx = try startTransaction(from: 5)
        #expect(isOK(write("data/t1", "", from: 5, tx: tx)))
        #expect(isOK(write("data/t2", "", from: 5, tx: tx)))
        #expect(write("data/t3", "", from: 5, tx: tx).error == .ENOSPC)
        #expect(isOK(write("data/n1", "", from: 5)))                     // 999 outside
        #expect(endTransaction(tx, commit: true, from: 5).error == .ENOSPC)
        #expect(read("data/t1", from: 5).error == .ENOENT)
        // Dom0 is not limited, even when what it creates belongs to the guest.
        try store.write("/local/domain/5/data/by-dom0-1", "")
        try store.write("/local/domain/5/data/by-dom0-2", "")
        #expect(store.statistics().nodesOwned[5] == 1001)
        checkXenStoreInvariants(store)
    }

    @Test func valueSizeAndPermissionQuotas() throws {
        let limit = String(repeating: "v", count: 2048)
        #expect(isOK(write("data/big", limit, from: 5)))
        #expect(write("data/big", limit + "v", from: 5).error == .ENOSPC)
        #expect(write("data/bigger", limit + "v", from: 5).error == .ENOSPC)
        #expect(text(read("data/big", from: 5)) == limit)
        try store.write("/local/domain/5/data/dom0", String(repeating: "d", count: 4000))
        #expect(read("data/dom0", from: 5).payload.count == 4000)
        #expect(isOK(send(.setPerms, xsFields("data", "n5", "r1", "r2", "r3", "r4"), from: 5)))
        #expect(send(.setPerms, xsFields("data", "n5", "r1", "r2", "r3", "r4", "r6"), from: 5).error == .ENOSPC)
        #expect(isOK(send(.setPerms, xsFields("/local/domain/5/data", "n5", "r1", "r2", "r3", "r4", "r6", "r8"), from: 0)))
    }

    @Test func customQuotas() throws {
        var q = XenStoreQuotas()
        q.nodes = 15
        q.watches = 2
        q.transactions = 1
        q.valueSize = 4
        let t = XenStoreTests(quotas: q, guests: [5])
        #expect(t.write("data/v", "1234", from: 5).type == .write)
        #expect(t.write("data/v", "12345", from: 5).error == .ENOSPC)
        #expect(t.isOK(t.send(.watch, xsFields("a", "1"), from: 5)))
        #expect(t.isOK(t.send(.watch, xsFields("a", "2"), from: 5)))
        #expect(t.send(.watch, xsFields("a", "3"), from: 5).error == .E2BIG)
        _ = try t.startTransaction(from: 5)
        #expect(t.send(.transactionStart, [0], from: 5).error == .ENOSPC)
    }

    // MARK: Malformed requests

    @Test func malformedRequests() {
        #expect(send(.read, Array("data".utf8), from: 5).error == .EINVAL)                  // no NUL
        #expect(send(.read, xsFields("data", "extra"), from: 5).error == .EINVAL)            // two arguments
        #expect(send(.read, [], from: 5).error == .EINVAL)
        #expect(send(.write, Array("data/x".utf8), from: 5).error == .EINVAL)
        #expect(send(.mkdir, xsFields("data/a") + [0x41], from: 5).error == .EINVAL)
        #expect(send(.write, xsFields("data/x") + [UInt8](repeating: 0x41, count: 5000), from: 0).error == .EINVAL)
        #expect(send(.watch, xsFields("data"), from: 5).error == .EINVAL)
        #expect(send(.watch, xsFields("data", "t", "depth"), from: 5).error == .EINVAL)
        #expect(send(.watch, xsFields("data") + Array("t".utf8), from: 5).error == .EINVAL)
        #expect(send(.setPerms, xsFields("data"), from: 5).error == .EINVAL)
        #expect(send(.setPerms, xsFields("data", "x5"), from: 5).error == .EINVAL)
        #expect(send(.setPerms, xsFields("data", "n5", "r"), from: 5).error == .EINVAL)
        #expect(send(.getDomainPath, [], from: 5).error == .EINVAL)
        // A tx_id that is not one of the caller's transactions.
        #expect(read("domid", from: 5, tx: 42).error == .ENOENT)
        #expect(write("data/x", "v", from: 5, tx: 42).error == .ENOENT)
        // Types nobody may send, and Dom0's alone.
        for raw: UInt32 in [15, 16, 20, 23, 24, 25, 26, 27, 99, 0xffff_ffff] {
            let m = store.handle(XenStoreMessage(rawType: raw, requestID: 3, payload: [0]), from: 5)
            #expect(m.error == .ENOSYS, "type \(raw)")
            #expect(m.requestID == 3)
        }
        for type: XenStoreMessageType in [.control, .introduce, .release, .isDomainIntroduced, .resume, .setTarget] {
            #expect(send(type, xsFields("5"), from: 5).error == .EACCES, "\(type)")
        }
        #expect(send(.control, xsFields("print", "x"), from: 0).error == .ENOSYS)
        // The store still works.
        #expect(text(read("domid", from: 5)) == "5")
    }

    @Test func randomRequestsNeverBreakTheStore() {
        var rng = SplitMix(seed: 0x5eed)
        let pieces = ["data", "/local/domain/5", "domid", "@introduceDomain", "a/b", "", "T", "F", "n5", "r7", "0", "12",
                      "/", "//", "x.y", "control/shutdown", "4294967295", "99999999999999999999999"]
        for i in 0..<3000 {
            let type = UInt32(rng.next() % 30)
            var payload: [UInt8] = []
            for _ in 0..<(rng.next() % 4) {
                if rng.next() % 5 == 0 {
                    payload += (0..<(rng.next() % 8)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                } else {
                    payload += Array(pieces[Int(rng.next() % UInt64(pieces.count))].utf8)
                }
                if rng.next() % 4 != 0 { payload.append(0) }
            }
            let from: UInt16 = [0, 5, 7, 9][Int(rng.next() % 4)]
            let tx = UInt32(rng.next() % 3)
            let m = store.handle(XenStoreMessage(rawType: type, requestID: UInt32(i), transactionID: tx, payload: payload), from: from)
            #expect(m.requestID == UInt32(i))
            #expect(m.payload.count <= 4096)
            if m.type == .error { #expect(m.error != nil) } else { #expect(m.rawType == type) }
        }
        checkXenStoreInvariants(store)
        #expect(isOK(write("/fuzz-check", "ok", from: 0)))
        #expect(text(read("/fuzz-check", from: 0)) == "ok")
    }

    // MARK: Concurrency

    @Test func manyThreadsAtOnce() throws {
        let store = self.store
        let counts = XenStoreBox<[UInt16: Int]>([:])
        let failures = XenStoreBox<[String]>([])
        for d: UInt16 in [5, 7] { store.connect(domid: d) { _ in counts.value.withLock { $0[d, default: 0] += 1 } } }
        _ = store.handle(XenStoreMessage(type: .watch, payload: xsFields("data", "w")), from: 5)
        _ = store.handle(XenStoreMessage(type: .watch, payload: xsFields("data", "w")), from: 7)
        // Expectations are gathered and checked on the test's own thread.
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            func fail(_ what: String) { failures.value.withLock { $0.append("worker \(worker): \(what)") } }
            let domid: UInt16 = worker % 2 == 0 ? 5 : 7
            for i in 0..<100 {
                let path = "data/w\(worker)/n\(i)"
                let w = store.handle(XenStoreMessage(type: .write, payload: Array(path.utf8) + [0] + Array("v\(i)".utf8)), from: domid)
                if w.type != .write { fail("write \(w)") }
                let r = store.handle(XenStoreMessage(type: .read, payload: xsFields(path)), from: domid)
                if r.payload != Array("v\(i)".utf8) { fail("read \(r)") }
                // A transaction on a node every worker of the domain touches: it commits or gets EAGAIN.
                let start = store.handle(XenStoreMessage(type: .transactionStart, payload: [0]), from: domid)
                guard let tx = UInt32(String(decoding: start.payload.dropLast(), as: UTF8.self)) else {
                    fail("start \(start)")
                    continue
                }
                _ = store.handle(XenStoreMessage(type: .read, transactionID: tx, payload: xsFields("data/shared")), from: domid)
                _ = store.handle(XenStoreMessage(type: .write, transactionID: tx,
                                                 payload: xsFields("data/shared") + Array("\(worker)".utf8)), from: domid)
                let end = store.handle(XenStoreMessage(type: .transactionEnd, transactionID: tx, payload: xsFields("T")), from: domid)
                if end.type != .transactionEnd && end.error != .EAGAIN { fail("end \(end)") }
            }
        }
        #expect(failures.value.withLock { $0 } == [])
        #expect(Set(try store.directory("/local/domain/5/data")) == ["w0", "w2", "w4", "w6", "shared"])
        #expect(try store.directory("/local/domain/7/data/w3").count == 100)
        let c = counts.value.withLock { $0 }
        #expect((c[5] ?? 0) >= 1 + 400)       // the first event and one per write, at least
        #expect(store.statistics().transactions.isEmpty)
        checkXenStoreInvariants(store)
    }
}

/// A small deterministic generator for the random-request test.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
