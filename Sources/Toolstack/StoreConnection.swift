import HyperABI
import Hypervisor
import Synchronization

/// One guest's connection to the XenStore daemon over its store ring (`xenstore_domain_interface`:
/// req[1024] @0, rsp[1024] @1024, req_cons @2048, req_prod @2052, rsp_cons @2056, rsp_prod @2060,
/// server_features @2064, connection @2068, error @2072), in the page the guest granted at ref 1.
/// Request bytes are copied out of the ring once into a private buffer and parsed there; a broken
/// protocol (an index beyond the ring, a message over 4096 bytes) ends this connection only, with the
/// reason in the ring's `error` field and in `failure`.
final class StoreConnection: @unchecked Sendable {
    typealias L = StoreRingLayout
    static let headerSize = XenStoreLimits.headerSize, payloadMax = XenStoreLimits.payloadMax
    /// Replies and watch events waiting for room in the ring before the guest is cut off.
    static let maximumQueued = 1024

    let domid: UInt16
    let page: GrantedPage
    let channel: Dom0Channel
    let store: XenStore
    private var requestConsumer: UInt32
    private var responseProducer: UInt32
    /// The request being assembled: header then payload, copied out of the ring.
    private var incoming: [UInt8] = []
    /// Bytes of replies and watch events not yet in the ring (watch events arrive from other threads).
    private let outgoing = Mutex<[UInt8]>([])
    private(set) var failure: String?

    init(domid: UInt16, page: GrantedPage, channel: Dom0Channel, store: XenStore) {
        self.domid = domid
        self.page = page
        self.channel = channel
        self.store = store
        requestConsumer = page.load32(at: L.requestConsumer)
        responseProducer = page.load32(at: L.responseProducer)
        incoming.reserveCapacity(StoreConnection.headerSize + StoreConnection.payloadMax)
    }

    /// Queues a message for the guest (a reply, or a watch event from any thread).
    func queue(_ message: XenStoreMessage) {
        let bytes = message.encoded()
        outgoing.withLock { $0.append(contentsOf: bytes) }
    }

    /// Takes every complete request the guest produced, answers it, and writes what fits of the answers.
    func service() {
        guard failure == nil, page.isMapped else { return }
        var notify = false
        do throws(StoreProtocolError) {
            notify = try takeRequests()
            notify = try flush() || notify
        } catch {
            fail(error)
        }
        if notify { channel.notify() }
    }

    private enum StoreProtocolError: Error {
        case ringIndex(String), message(String), overflow
    }

    private func takeRequests() throws(StoreProtocolError) -> Bool {
        var consumedAny = false
        while true {
            let produced = page.load32(at: L.requestProducer)
            let available = produced &- requestConsumer
            guard available <= UInt32(L.size) else {
                throw .ringIndex("req_prod \(produced) is \(available) bytes ahead of req_cons \(requestConsumer)")
            }
            guard available > 0 else { return consumedAny }
            // Take only what the message being assembled still needs: header first, then its payload.
            let wanted: Int
            if incoming.count < StoreConnection.headerSize {
                wanted = StoreConnection.headerSize - incoming.count
            } else {
                wanted = StoreConnection.headerSize + payloadLength() - incoming.count
            }
            let n = min(Int(available), wanted)
            copyFromRing(count: n)
            consumedAny = true
            page.store32(requestConsumer, at: L.requestConsumer)
            if incoming.count == StoreConnection.headerSize, payloadLength() > StoreConnection.payloadMax {
                throw .message("a request of \(payloadLength()) bytes (at most \(StoreConnection.payloadMax))")
            }
            if incoming.count >= StoreConnection.headerSize, incoming.count == StoreConnection.headerSize + payloadLength() {
                let reply = XenStoreMessage.request(incoming).map { store.handle($0, from: domid) }
                    ?? XenStoreMessage.error(.EINVAL, replyingTo: incoming)
                queue(reply)
                incoming.removeAll(keepingCapacity: true)
                guard outgoing.withLock({ $0.count }) <= StoreConnection.maximumQueued * 64 else { throw .overflow }
            }
        }
    }

    private func payloadLength() -> Int {
        Int(UInt32(incoming[12]) | UInt32(incoming[13]) << 8 | UInt32(incoming[14]) << 16 | UInt32(incoming[15]) << 24)
    }

    private func copyFromRing(count: Int) {
        var chunk = [UInt8](repeating: 0, count: count)
        chunk.withUnsafeMutableBytes { page.readRing(base: L.request, size: L.size, index: requestConsumer, into: $0) }
        incoming += chunk
        requestConsumer &+= UInt32(count)
    }

    /// Writes queued bytes into the response ring as far as the guest has made room.
    private func flush() throws(StoreProtocolError) -> Bool {
        let consumed = page.load32(at: L.responseConsumer)
        let used = responseProducer &- consumed
        guard used <= UInt32(L.size) else {
            throw .ringIndex("rsp_cons \(consumed) is ahead of rsp_prod \(responseProducer)")
        }
        let room = L.size - Int(used)
        let bytes: [UInt8] = outgoing.withLock { q in
            let n = min(room, q.count)
            defer { q.removeFirst(n) }
            return Array(q[..<n])
        }
        guard !bytes.isEmpty else { return false }
        bytes.withUnsafeBytes { page.writeRing(base: L.response, size: L.size, index: responseProducer, bytes: $0) }
        responseProducer &+= UInt32(bytes.count)
        page.store32(responseProducer, at: L.responseProducer)
        return true
    }

    private func fail(_ error: StoreProtocolError) {
        let (code, why): (UInt32, String)
        switch error {
        case .ringIndex(let s): (code, why) = (L.errorRingIndex, s)
        case .message(let s): (code, why) = (L.errorProtocol, s)
        case .overflow: (code, why) = (L.errorProtocol, "more than \(StoreConnection.maximumQueued * 64) bytes of replies left unread")
        }
        failure = why
        page.store32(code, at: L.error)
        channel.notify()
    }
}
