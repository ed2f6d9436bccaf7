import HyperABI
import Hypervisor
import Synchronization

/// Dom0's network back-end for one vif of one domain: Xen's netif (a tx and an rx ring the front-end
/// grants, one event channel, rx by copy), the xenbus handshake through XenStore (back-end directory
/// /local/domain/0/backend/vif/<domid>/0), and a port on its bridge's software switch. A bad tx request
/// is answered ERROR alone; a broken ring ends this connection (the back-end goes to Closed).
final class NetworkBackend: @unchecked Sendable {
    typealias N = NetworkInterface
    let domain: Domain
    let spec: VifSpec
    let frontendPath: String
    let backendPath: String
    private let control: DomainControl
    private let store: XenStore
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
    let transmitted = Atomic<UInt64>(0)
    let received = Atomic<UInt64>(0)
    let dropped = Atomic<UInt64>(0)

    init(domain: Domain, spec: VifSpec, control: DomainControl, store: XenStore, bridge: SoftwareSwitch,
         signal: @escaping @Sendable () -> Void) throws(XenStoreError) {
        self.domain = domain
        self.spec = spec
        self.control = control
        self.store = store
        self.bridge = bridge
        self.signal = signal
        frontendPath = "/local/domain/\(domain.id)/device/vif/0"
        backendPath = "/local/domain/0/backend/vif/\(domain.id)/0"
        let d = domain.id
        for (key, value) in [("backend", backendPath), ("backend-id", "0"), ("handle", "0"), ("mac", spec.macText),
                             ("state", "\(XenbusState.initialising.rawValue)")] {
            try store.write("\(frontendPath)/\(key)", value)
        }
        try store.mkdir(backendPath)
        try store.setPermissions(backendPath, [XenStorePermission(.none, DomainID.dom0), XenStorePermission(.read, d)])
        for (key, value) in [("frontend", frontendPath), ("frontend-id", "\(d)"), ("handle", "0"), ("mac", spec.macText),
                             ("bridge", spec.bridge), ("feature-rx-copy", "1"), ("feature-rx-flip", "0"), ("feature-sg", "0"),
                             ("feature-gso-tcpv4", "0"), ("state", "\(XenbusState.initWait.rawValue)")] {
            try store.write("\(backendPath)/\(key)", value)
        }
        try store.watch(path: "\(frontendPath)/state", token: "vif:\(d):0")
    }

    private func setState(_ s: XenbusState) { try? store.write("\(backendPath)/state", "\(s.rawValue)") }
    private func frontend(_ key: String) -> String? { (try? store.read("\(frontendPath)/\(key)")).map { String(decoding: $0, as: UTF8.self) } }

    var isConnected: Bool { tx != nil }

    func frontendChanged() {
        guard let raw = frontend("state").flatMap(UInt32.init), let state = XenbusState(rawValue: raw) else { return }
        switch state {
        case .connected, .initialised:
            if tx == nil { connect() }
        case .closing, .closed:
            disconnect(nil)
            setState(.closed)
        case .initialising:
            if tx == nil { setState(.initWait) }
        default:
            break
        }
    }

    private func connect() {
        guard let txRef = frontend("tx-ring-ref").flatMap(UInt32.init), let rxRef = frontend("rx-ring-ref").flatMap(UInt32.init),
              let evtchn = frontend("event-channel").flatMap(UInt32.init) else {
            return fail("the front-end connected without tx-ring-ref, rx-ring-ref and event-channel")
        }
        guard frontend("request-rx-copy") == "1" else { return fail("the front-end did not ask for request-rx-copy (the only rx mode offered)") }
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
            setState(.connected)
        } catch {
            disconnect(nil)
            fail("connecting tx-ring-ref \(txRef), rx-ring-ref \(rxRef), event-channel \(evtchn): \(error)")
        }
    }

    private func fail(_ why: String) {
        disconnect(why)
        setState(.closed)
    }

    private func disconnect(_ why: String?) {
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
        var slot = [UInt8](repeating: 0, count: N.txSlot)
        var frames: [[UInt8]] = []
        repeat {
            while true {
                let got = slot.withUnsafeMutableBytes { b -> Result<Bool, RingError> in
                    do throws(RingError) { return .success(try tx.nextRequest(into: b)) } catch { return .failure(error) }
                }
                guard case .success(let more) = got else {
                    if case .failure(let e) = got { fail("tx ring: \(e)") }
                    return
                }
                guard more else { break }
                let (status, frame) = transmit(slot)
                if let frame { frames.append(frame) }
                var response = [UInt8](repeating: 0, count: N.txResponseSize)
                response[0] = slot[N.txID]; response[1] = slot[N.txID + 1]
                response[2] = UInt8(truncatingIfNeeded: status); response[3] = UInt8(truncatingIfNeeded: status >> 8)
                let put = response.withUnsafeBytes { b -> RingError? in
                    do throws(RingError) { try tx.putResponse(b); return nil } catch { return error }
                }
                if let put { return fail("tx ring: \(put)") }
                if tx.pushResponses() { notify = true }
            }
        } while tx.finalCheckForRequests()
        for frame in frames { bridge.forward(frame, from: port) }
        transmitted.add(UInt64(frames.count), ordering: .relaxed)

        // Receive: one posted buffer per frame, in order; what finds no buffer waits (or is dropped later).
        while let frame = incoming.withLock({ $0.first }) {
            var request = [UInt8](repeating: 0, count: N.rxSlot)
            let got = request.withUnsafeMutableBytes { b -> Result<Bool, RingError> in
                do throws(RingError) { return .success(try rx.nextRequest(into: b)) } catch { return .failure(error) }
            }
            guard case .success(let posted) = got else {
                if case .failure(let e) = got { fail("rx ring: \(e)") }
                return
            }
            guard posted else { break }
            incoming.withLock { _ = $0.removeFirst() }
            let ref = UInt32(request[N.rxGref]) | UInt32(request[N.rxGref + 1]) << 8 | UInt32(request[N.rxGref + 2]) << 16 | UInt32(request[N.rxGref + 3]) << 24
            var status = Int16(frame.count)
            if let page = try? control.mapGrant(domain, ref: ref, readonly: false) {
                frame.withUnsafeBytes { page.write(at: 0, bytes: $0) }
                page.unmap()
                received.add(1, ordering: .relaxed)
            } else {
                status = N.error
                dropped.add(1, ordering: .relaxed)
            }
            var response = [UInt8](repeating: 0, count: N.rxSlot)
            response[0] = request[0]; response[1] = request[1]
            response[N.rxResponseStatus] = UInt8(truncatingIfNeeded: status)
            response[N.rxResponseStatus + 1] = UInt8(truncatingIfNeeded: status >> 8)
            let put = response.withUnsafeBytes { b -> RingError? in
                do throws(RingError) { try rx.putResponse(b); return nil } catch { return error }
            }
            if let put { return fail("rx ring: \(put)") }
            if rx.pushResponses() { notify = true }
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
        try? store.unwatch(path: "\(frontendPath)/state", token: "vif:\(domain.id):0")
        try? store.rm("/local/domain/0/backend/vif/\(domain.id)")
    }
}
