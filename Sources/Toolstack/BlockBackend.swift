import CHost
import Glibc
import HyperABI
import Hypervisor

/// Dom0's block back-end for one disk of one domain: Xen's blkif over a ring the front-end grants, with
/// the xenbus handshake in XenStore (back-end directory /local/domain/0/backend/vbd/<domid>/<devid>).
/// Disks are raw image files. A write is answered only once it is in the file, a flush only after fsync.
/// A bad request (outside the disk, a bad grant, a write to a read-only disk) fails that request only;
/// a broken ring ends this connection (the back-end goes to Closed) and the front-end may connect again.
final class BlockBackend: @unchecked Sendable {
    typealias B = BlockInterface
    let domain: Domain
    let spec: DiskSpec
    let frontendPath: String
    let backendPath: String
    let sectors: UInt64
    private let fd: Int32
    private let control: DomainControl
    private let store: XenStore
    private let signal: @Sendable () -> Void
    private var ring: BackRing?
    private var channel: Dom0Channel?
    /// Why the last connection was ended, if it was.
    private(set) var failure: String?
    private(set) var requests: UInt64 = 0
    /// The segments of the request in hand (kept: their storage is reused from request to request).
    private var pages: [GrantedPage] = []
    private var vectors: [iovec] = []

    init(domain: Domain, spec: DiskSpec, control: DomainControl, store: XenStore, signal: @escaping @Sendable () -> Void) throws(ToolstackError) {
        let fd = open(spec.path, (spec.writable ? O_RDWR : O_RDONLY) | O_CLOEXEC)
        guard fd >= 0 else { throw .invalid(object: "disk \(spec)", problem: "cannot open \(spec.path): \(String(cString: strerror(errno)))") }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_size >= 512 else {
            Glibc.close(fd)
            throw .invalid(object: "disk \(spec)", problem: "\(spec.path) is not a regular file of at least one 512-byte sector")
        }
        self.fd = fd
        self.domain = domain
        self.spec = spec
        self.control = control
        self.store = store
        self.signal = signal
        sectors = UInt64(st.st_size) / 512
        let dev = spec.deviceNumber
        frontendPath = "/local/domain/\(domain.id)/device/vbd/\(dev)"
        backendPath = "/local/domain/0/backend/vbd/\(domain.id)/\(dev)"
        do throws(XenStoreError) { try publish() } catch {
            Glibc.close(fd)
            throw .invalid(object: "disk \(spec)", problem: "XenStore refused its nodes: \(error)")
        }
    }

    /// Writes both directories as Xen's toolstack does, the back-end's readable by the front-end.
    private func publish() throws(XenStoreError) {
        let d = domain.id
        for (key, value) in [("backend", backendPath), ("backend-id", "0"), ("virtual-device", "\(spec.deviceNumber)"),
                             ("device-type", "disk"), ("state", "\(XenbusState.initialising.rawValue)")] {
            try store.write("\(frontendPath)/\(key)", value)
        }
        try store.mkdir(backendPath)
        try store.setPermissions(backendPath, [XenStorePermission(.none, DomainID.dom0), XenStorePermission(.read, d)])
        for (key, value) in [("frontend", frontendPath), ("frontend-id", "\(d)"), ("params", spec.path), ("type", "file"),
                             ("mode", spec.writable ? "w" : "r"), ("sectors", "\(sectors)"), ("sector-size", "512"),
                             ("info", "\(spec.writable ? 0 : B.vdiskReadOnly)"), ("feature-flush-cache", "1"),
                             ("feature-barrier", "1"), ("feature-discard", spec.writable ? "1" : "0"),
                             ("discard-granularity", "4096"), ("discard-alignment", "0"),
                             ("state", "\(XenbusState.initWait.rawValue)")] {
            try store.write("\(backendPath)/\(key)", value)
        }
        try store.watch(path: "\(frontendPath)/state", token: "vbd:\(d):\(spec.deviceNumber)")
    }

    private func setState(_ s: XenbusState) { try? store.write("\(backendPath)/state", "\(s.rawValue)") }

    private func frontend(_ key: String) -> String? {
        (try? store.read("\(frontendPath)/\(key)")).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Follows the front-end's state (called when its `state` node changed).
    func frontendChanged() {
        guard let raw = frontend("state").flatMap(UInt32.init), let state = XenbusState(rawValue: raw) else { return }
        switch state {
        case .initialised, .connected:
            if ring == nil { connect() }
        case .closing, .closed:
            disconnect(nil)
            setState(.closed)
        case .initialising:
            // The front-end starts again (after a Closed): offer the disk again.
            if ring == nil { setState(.initWait) }
        default:
            break
        }
    }

    private func connect() {
        guard let refText = frontend("ring-ref"), let ref = UInt32(refText),
              let portText = frontend("event-channel"), let port = UInt32(portText) else {
            return fail("the front-end is Initialised without ring-ref and event-channel")
        }
        if let protocol_ = frontend("protocol"), protocol_ != "x86_64-abi" {
            return fail("protocol \"\(protocol_)\" (only x86_64-abi)")
        }
        do {
            let page = try control.mapGrant(domain, ref: ref, readonly: false)
            channel = try control.bindDom0Channel(domain, guestPort: port, handler: signal)
            ring = BackRing(page: page, entrySize: B.slotSize)
            failure = nil
            setState(.connected)
        } catch {
            ring = nil
            fail("connecting ring-ref \(ref), event-channel \(port): \(error)")
        }
    }

    /// Ends the connection; with a reason, the front-end sees the back-end go to Closed.
    private func fail(_ why: String) {
        disconnect(why)
        setState(.closed)
    }

    private func disconnect(_ why: String?) {
        if let why { failure = why }
        ring?.page.unmap()
        ring = nil
        channel?.close()
        channel = nil
    }

    /// Answers every request on the ring.
    func service() {
        guard let ring else { return }
        var notify = false
        var request = [UInt8](repeating: 0, count: B.slotSize)
        var response = [UInt8](repeating: 0, count: B.responseSize)
        func next() -> Result<Bool, RingError> {
            request.withUnsafeMutableBytes { b in
                do throws(RingError) { return .success(try ring.nextRequest(into: b)) } catch { return .failure(error) }
            }
        }
        repeat {
            while true {
                let got: Bool
                switch next() {
                case .success(let more): got = more
                case .failure(let error): return fail("ring protocol: \(error)")
                }
                guard got else { break }
                let status = handle(request)
                for i in 0..<8 { response[i] = request[B.requestID + i] }
                response[B.responseOperation] = request[B.requestOperation]
                response[B.responseStatus] = UInt8(truncatingIfNeeded: status)
                response[B.responseStatus + 1] = UInt8(truncatingIfNeeded: status >> 8)
                let put = response.withUnsafeBytes { b -> RingError? in
                    do throws(RingError) { try ring.putResponse(b); return nil } catch { return error }
                }
                if let put { return fail("ring protocol: \(put)") }
                requests += 1
                if ring.pushResponses() { notify = true }
            }
        } while ring.finalCheckForRequests()
        if notify { channel?.notify() }
    }

    private func u64(_ r: [UInt8], _ at: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(r[at + $1]) << (8 * UInt64($1)) } }
    private func u32(_ r: [UInt8], _ at: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(r[at + $1]) << (8 * UInt32($1)) } }

    /// One request, from the private copy: its status.
    private func handle(_ r: [UInt8]) -> Int16 {
        guard let op = B.Operation(rawValue: r[B.requestOperation]) else { return B.notSupported }
        switch op {
        case .read, .write, .writeBarrier:
            let writing = op != .read
            guard !writing || spec.writable else { return B.error }
            if op == .writeBarrier, fsync(fd) != 0 { return B.error }          // everything before it is on disk first
            let status = transfer(r, writing: writing)
            if op == .writeBarrier, status == B.okay, fsync(fd) != 0 { return B.error }
            return status
        case .flushDiskCache:
            return fsync(fd) == 0 ? B.okay : B.error
        case .discard:
            guard spec.writable else { return B.error }
            let first = u64(r, B.requestSector), count = u64(r, B.discardSectors)
            guard count > 0, first < sectors, count <= sectors - first else { return B.error }
            return chost_punch_hole(fd, Int64(first * 512), Int64(count * 512)) == 0 ? B.okay : B.error
        case .indirect:
            return B.notSupported                         // not offered (no feature-max-indirect-segments)
        }
    }

    /// READ/WRITE: every segment checked (sector range inside its page, the total inside the disk) before
    /// any byte moves; each grant mapped under the granter's rules (a read needs a writable grant).
    private func transfer(_ r: [UInt8], writing: Bool) -> Int16 {
        let count = Int(r[B.requestSegments])
        guard count >= 1, count <= B.maxSegments else { return B.error }
        var total: UInt64 = 0
        for i in 0..<count {
            let s = B.segmentArray + i * B.segmentSize
            let first = r[s + B.segmentFirst], last = r[s + B.segmentLast]
            guard first <= last, last < 8 else { return B.error }
            total += UInt64(last - first) + 1
        }
        let start = u64(r, B.requestSector)
        guard start < sectors, total <= sectors - start else { return B.error }
        // Map every segment (reads need writable grants), then one vectored system call straight between
        // the file and the guest's pages: no bounce copy, one call per request.
        pages.removeAll(keepingCapacity: true)
        vectors.removeAll(keepingCapacity: true)
        defer {
            pages.forEach { $0.unmap() }
            pages.removeAll(keepingCapacity: true)
        }
        for i in 0..<count {
            let s = B.segmentArray + i * B.segmentSize
            let ref = u32(r, s), first = Int(r[s + B.segmentFirst]), last = Int(r[s + B.segmentLast])
            let bytes = (last - first + 1) * 512
            guard let page = try? control.mapGrant(domain, ref: ref, readonly: writing) else { return B.error }
            pages.append(page)
            guard let address = page.address(at: first * 512, count: bytes, forWriting: !writing) else { return B.error }
            vectors.append(iovec(iov_base: address, iov_len: bytes))
        }
        let expected = Int(total) * 512
        let moved = vectors.withUnsafeBufferPointer { v in
            writing ? pwritev(fd, v.baseAddress, Int32(v.count), off_t(start * 512)) : preadv(fd, v.baseAddress, Int32(v.count), off_t(start * 512))
        }
        return moved == expected ? B.okay : B.error
    }

    /// Ends everything (the domain is going away).
    func close() {
        disconnect(nil)
        try? store.unwatch(path: "\(frontendPath)/state", token: "vbd:\(domain.id):\(spec.deviceNumber)")
        try? store.rm("/local/domain/0/backend/vbd/\(domain.id)")
        Glibc.close(fd)
    }

    /// The connection's state, for tools and tests.
    var isConnected: Bool { ring != nil }
}
