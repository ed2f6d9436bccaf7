import HyperABI
import Hypervisor
import Synchronization

/// Dom0's network back-end for one vif of one domain: Xen's netif (a tx and an rx ring the front-end
/// grants, one event channel, rx by copy), the xenbus handshake through XenStore (back-end directory
/// /local/domain/0/backend/vif/<domid>/<handle>), and a port on its bridge's software switch. A bad tx request
/// is answered ERROR alone; a broken ring ends this connection (the back-end goes to Closed).
final class NetworkBackend: XenbusBackend, @unchecked Sendable {
    typealias N = NetworkInterface
    let domain: Domain
    let spec: VifSpec
    let xenbus: XenbusPaths
    private let control: DomainControl
    private let bridge: SoftwareSwitch
    private let signal: @Sendable () -> Void
    private var port: Int?
    private var tx: BackRing?
    private var rx: BackRing?
    private var channel: Dom0Channel?
    /// Frames from the switch waiting for a posted rx buffer (bounded: the oldest beyond go).
    private let incoming = Mutex<[[UInt8]]>([])
    static let maximumQueued = 512
    private(set) var failure: String?
    /// Slots copied out of the rings and the responses written back: reused, nothing allocated per slot.
    private var slot = [UInt8](repeating: 0, count: NetworkInterface.txSlot)
    private var txResponse = [UInt8](repeating: 0, count: NetworkInterface.txResponseSize)
    private var rxRequest = [UInt8](repeating: 0, count: NetworkInterface.rxSlot)
    private var rxResponse = [UInt8](repeating: 0, count: NetworkInterface.rxSlot)
    let transmitted = Atomic<UInt64>(0)
    let received = Atomic<UInt64>(0)
    let dropped = Atomic<UInt64>(0)

    init(domain: Domain, spec: VifSpec, handle: Int = 0, control: DomainControl, store: XenStore, bridge: SoftwareSwitch,
         signal: @escaping @Sendable () -> Void) throws(XenStoreError) {
        self.domain = domain
        self.spec = spec
        self.control = control
        self.bridge = bridge
        self.signal = signal
        xenbus = XenbusPaths(store: store, domid: domain.id, kind: "vif", id: handle)
        try xenbus.publish(domid: domain.id, frontendNodes: [("handle", "\(handle)"), ("mac", spec.macText)],
                           backendNodes: [("handle", "\(handle)"), ("mac", spec.macText), ("bridge", spec.bridge), ("feature-rx-copy", "1"),
                                          ("feature-rx-flip", "0"), ("feature-sg", "0"), ("feature-gso-tcpv4", "0")])
    }

    var isConnected: Bool { tx != nil }

    func connect() {
        guard let txRef = xenbus.frontendNumber("tx-ring-ref"), let rxRef = xenbus.frontendNumber("rx-ring-ref"),
              let evtchn = xenbus.frontendNumber("event-channel") else {
            return fail("the front-end connected without tx-ring-ref, rx-ring-ref and event-channel")
        }
        guard xenbus.frontend("request-rx-copy") == "1" else { return fail("the front-end did not ask for request-rx-copy (the only rx mode offered)") }
        do {
            let txPage = try control.mapGrant(domain, ref: txRef, readonly: false)
            let rxPage = try control.mapGrant(domain, ref: rxRef, readonly: false)
            channel = try control.bindDom0Channel(domain, guestPort: evtchn, handler: signal)
            tx = BackRing(page: txPage, entrySize: N.txSlot)
            rx = BackRing(page: rxPage, entrySize: N.rxSlot)
            let signal = self.signal
            port = bridge.attach { [weak self] frame in
                guard let self else { return }
                self.incoming.withLock { q in
                    if q.count >= NetworkBackend.maximumQueued { q.removeFirst(); self.dropped.add(1, ordering: .relaxed) }
                    q.append(frame)
                }
                signal()
            }
            failure = nil
            xenbus.setState(.connected)
        } catch {
            disconnect(nil)
            fail("connecting tx-ring-ref \(txRef), rx-ring-ref \(rxRef), event-channel \(evtchn): \(error)")
        }
    }

    func disconnect(_ why: String?) {
        if let why { failure = why }
        if let port { bridge.detach(port) }
        port = nil
        tx?.page.unmap(); rx?.page.unmap()
        tx = nil; rx = nil
        channel?.close()
        channel = nil
        incoming.withLock { $0.removeAll() }
    }

    /// Takes the guest's transmitted frames to the switch and copies queued frames into its rx buffers.
    func service() {
        guard let tx, let rx, let port else { return }
        var notify = false
        var frames: [[UInt8]] = []
        do throws(RingError) {
            repeat {
                while try tx.nextRequest(into: &slot) {
                    let (status, frame) = transmit(slot)
                    if let frame { frames.append(frame) }
                    txResponse[0] = slot[N.txID]; txResponse[1] = slot[N.txID + 1]
                    txResponse[2] = UInt8(truncatingIfNeeded: status); txResponse[3] = UInt8(truncatingIfNeeded: status >> 8)
                    try tx.putResponse(txResponse)
                    if tx.pushResponses() { notify = true }
                }
            } while tx.finalCheckForRequests()
        } catch {
            return fail("tx ring: \(error)")
        }
        for frame in frames { bridge.forward(frame, from: port) }
        transmitted.add(UInt64(frames.count), ordering: .relaxed)

        // Receive: one posted buffer per frame, in order; what finds no buffer waits (or is dropped later).
        // While frames wait, ask to be notified of the next buffer posted (rx req_event), or a front-end
        // refilling with RING_PUSH_REQUESTS_AND_CHECK_NOTIFY never says so and the frames stall.
        do throws(RingError) {
            repeat {
                while let frame = incoming.withLock({ $0.first }), try rx.nextRequest(into: &rxRequest) {
                    incoming.withLock { _ = $0.removeFirst() }
                    let ref = UInt32(rxRequest[N.rxGref]) | UInt32(rxRequest[N.rxGref + 1]) << 8
                        | UInt32(rxRequest[N.rxGref + 2]) << 16 | UInt32(rxRequest[N.rxGref + 3]) << 24
                    var status = Int16(frame.count)
                    if let page = try? control.mapGrant(domain, ref: ref, readonly: false) {
                        frame.withUnsafeBytes { page.write(at: 0, bytes: $0) }
                        page.unmap()
                        received.add(1, ordering: .relaxed)
                    } else {
                        status = N.error
                        dropped.add(1, ordering: .relaxed)
                    }
                    rxResponse[0] = rxRequest[0]; rxResponse[1] = rxRequest[1]
                    rxResponse[N.rxResponseStatus] = UInt8(truncatingIfNeeded: status)
                    rxResponse[N.rxResponseStatus + 1] = UInt8(truncatingIfNeeded: status >> 8)
                    try rx.putResponse(rxResponse)
                    if rx.pushResponses() { notify = true }
                }
            } while incoming.withLock({ !$0.isEmpty }) && rx.finalCheckForRequests()
        } catch {
            return fail("rx ring: \(error)")
        }
        if notify { channel?.notify() }
    }

    /// One tx slot, from the private copy: its status and the frame copied out of the granted page.
    private func transmit(_ s: [UInt8]) -> (Int16, [UInt8]?) {
        func u16(_ at: Int) -> Int { Int(s[at]) | Int(s[at + 1]) << 8 }
        let ref = UInt32(s[0]) | UInt32(s[1]) << 8 | UInt32(s[2]) << 16 | UInt32(s[3]) << 24
        let offset = u16(N.txOffset), flags = UInt16(u16(N.txFlags)), size = u16(N.txSize)
        guard flags & (N.txMoreData | N.txExtraInfo) == 0 else { return (N.error, nil) }    // no feature-sg / extra info offered
        guard size >= N.minimumFrame, size <= N.maximumFrame, offset + size <= 4096 else { return (N.error, nil) }
        guard let page = try? control.mapGrant(domain, ref: ref, readonly: true) else { return (N.error, nil) }
        defer { page.unmap() }
        var frame = [UInt8](repeating: 0, count: size)
        frame.withUnsafeMutableBytes { page.read(at: offset, into: $0) }
        return (N.okay, frame)
    }

    func close() {
        disconnect(nil)
        xenbus.remove()
    }
}
