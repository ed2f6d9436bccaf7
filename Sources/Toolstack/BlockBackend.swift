import CHost
import Glibc
import HyperABI
import Hypervisor

/// Dom0's block back-end for one disk of one domain: Xen's blkif over a ring the front-end grants, with
/// the xenbus handshake in XenStore (back-end directory /local/domain/0/backend/vbd/<domid>/<devid>).
/// Disks are raw image files. A write is answered only once it is in the file, a flush only after fsync.
/// Indirect requests (BLKIF_OP_INDIRECT, up to `maxIndirectSegments` pages) carry READ or WRITE only, as
/// Linux's blkback; their response names that inner operation, as Linux's blkback does and blkfront checks.
/// A bad request (outside the disk, a bad grant, a write to a read-only disk) fails that request only;
/// a broken ring ends this connection (the back-end goes to Closed) and the front-end may connect again.
final class BlockBackend: XenbusBackend, @unchecked Sendable {
    typealias B = BlockInterface
    /// `feature-max-indirect-segments`: Linux blkback's default (256 pages, 1 MiB per request; one indirect page).
    static let maxIndirectSegments = 256
    let domain: Domain
    let spec: DiskSpec
    let xenbus: XenbusPaths
    let sectors: UInt64
    private let fd: Int32
    private let control: DomainControl
    private let signal: @Sendable () -> Void
    private var ring: BackRing?
    private var channel: Dom0Channel?
    /// Why the last connection was ended, if it was.
    private(set) var failure: String?
    private(set) var requests: UInt64 = 0
    /// The segments of the request in hand (kept: their storage is reused from request to request).
    private var pages: [GrantedPage] = []
    private var vectors: [iovec] = []
    /// The request being handled (its private copy) and its response: reused, nothing allocated per request.
    private var request = [UInt8](repeating: 0, count: BlockInterface.slotSize)
    private var response = [UInt8](repeating: 0, count: BlockInterface.responseSize)
    /// An indirect request's segment descriptors, copied out of its granted pages once (then validated).
    private var descriptors = [UInt8](repeating: 0, count: BlockBackend.maxIndirectSegments * BlockInterface.segmentSize)

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
        self.signal = signal
        sectors = UInt64(st.st_size) / 512
        xenbus = XenbusPaths(store: store, domid: domain.id, kind: "vbd", id: spec.deviceNumber)
        do throws(XenStoreError) {
            try xenbus.publish(domid: domain.id,
                               frontendNodes: [("virtual-device", "\(spec.deviceNumber)"), ("device-type", "disk")],
                               backendNodes: [("params", spec.path), ("type", "file"), ("mode", spec.writable ? "w" : "r"),
                                              ("sectors", "\(sectors)"), ("sector-size", "512"),
                                              ("info", "\(spec.writable ? 0 : B.vdiskReadOnly)"), ("feature-flush-cache", "1"),
                                              ("feature-barrier", "1"), ("feature-discard", spec.writable ? "1" : "0"),
                                              ("discard-granularity", "4096"), ("discard-alignment", "0"),
                                              (B.featureMaxIndirectSegments, "\(Self.maxIndirectSegments)")])
        } catch {
            Glibc.close(fd)
            throw .invalid(object: "disk \(spec)", problem: "XenStore refused its nodes: \(error)")
        }
    }

    func connect() {
        guard let ref = xenbus.frontendNumber("ring-ref"), let port = xenbus.frontendNumber("event-channel") else {
            return fail("the front-end is Initialised without ring-ref and event-channel")
        }
        if let protocol_ = xenbus.frontend("protocol"), protocol_ != "x86_64-abi" {
            return fail("protocol \"\(protocol_)\" (only x86_64-abi)")
        }
        do {
            let page = try control.mapGrant(domain, ref: ref, readonly: false)
            channel = try control.bindDom0Channel(domain, guestPort: port, handler: signal)
            ring = BackRing(page: page, entrySize: B.slotSize)
            failure = nil
            xenbus.setState(.connected)
        } catch {
            ring = nil
            fail("connecting ring-ref \(ref), event-channel \(port): \(error)")
        }
    }

    func disconnect(_ why: String?) {
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
        do throws(RingError) {
            repeat {
                while try ring.nextRequest(into: &request) {
                    let status = handle(request)
                    for i in 0..<8 { response[i] = request[B.requestID + i] }
                    // An indirect request is answered as its inner operation (Linux's blkback, checked by blkfront).
                    let indirect = request[B.requestOperation] == B.Operation.indirect.rawValue
                    response[B.responseOperation] = request[indirect ? B.indirectOperation : B.requestOperation]
                    response[B.responseStatus] = UInt8(truncatingIfNeeded: status)
                    response[B.responseStatus + 1] = UInt8(truncatingIfNeeded: status >> 8)
                    try ring.putResponse(response)
                    requests += 1
                    if ring.pushResponses() { notify = true }
                }
            } while ring.finalCheckForRequests()
        } catch {
            return fail("ring protocol: \(error)")
        }
        if notify { channel?.notify() }
    }

    private func u64(_ r: [UInt8], _ at: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(r[at + $1]) << (8 * UInt64($1)) } }
    private func u32(_ r: [UInt8], _ at: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(r[at + $1]) << (8 * UInt32($1)) } }
    private func u16(_ r: [UInt8], _ at: Int) -> Int { Int(r[at]) | Int(r[at + 1]) << 8 }

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
            return indirect(r)
        }
    }

    /// READ/WRITE with the segments in the slot.
    private func transfer(_ r: [UInt8], writing: Bool) -> Int16 {
        let count = Int(r[B.requestSegments])
        guard count >= 1, count <= B.maxSegments else { return B.error }
        return move(segments: r, at: B.segmentArray, count: count, start: u64(r, B.requestSector), writing: writing)
    }

    /// BLKIF_OP_INDIRECT: READ or WRITE of 1 … maxIndirectSegments segments listed in ceil(n / 512) granted
    /// pages. The descriptors are copied out of those pages (read-only grants suffice) before any is used,
    /// so the front-end cannot change them between the checks and the I/O; each page is let go at once.
    private func indirect(_ r: [UInt8]) -> Int16 {
        guard let op = B.Operation(rawValue: r[B.indirectOperation]), op == .read || op == .write else { return B.error }
        let writing = op == .write
        guard !writing || spec.writable else { return B.error }
        let count = u16(r, B.indirectSegments)
        let pageCount = (count + B.segmentsPerIndirectPage - 1) / B.segmentsPerIndirectPage
        guard count >= 1, count <= Self.maxIndirectSegments, pageCount <= B.maxIndirectPages else { return B.error }
        let copied = descriptors.withUnsafeMutableBytes { d -> Bool in
            for p in 0..<pageCount {
                let first = p * B.segmentsPerIndirectPage, n = min(count - first, B.segmentsPerIndirectPage)
                let into = UnsafeMutableRawBufferPointer(rebasing: d[first * B.segmentSize..<(first + n) * B.segmentSize])
                do { try control.copyFromGrant(domain, ref: u32(r, B.indirectGrefs + 4 * p), offset: 0, into: into) } catch { return false }
            }
            return true
        }
        guard copied else { return B.error }
        return move(segments: descriptors, at: 0, count: count, start: u64(r, B.requestSector), writing: writing)
    }

    /// The data of a READ/WRITE: `count` segment descriptors at `base` of `d`, from sector `start`. Every
    /// segment checked (sector range inside its page, the total inside the disk) before any byte moves; each
    /// grant mapped under the granter's rules (a read needs a writable grant), all given back on every path.
    private func move(segments d: [UInt8], at base: Int, count: Int, start: UInt64, writing: Bool) -> Int16 {
        var total: UInt64 = 0
        for i in 0..<count {
            let s = base + i * B.segmentSize
            let first = d[s + B.segmentFirst], last = d[s + B.segmentLast]
            guard first <= last, last < 8 else { return B.error }
            total += UInt64(last - first) + 1
        }
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
            let s = base + i * B.segmentSize
            let ref = u32(d, s), first = Int(d[s + B.segmentFirst]), last = Int(d[s + B.segmentLast])
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
        xenbus.remove()
        Glibc.close(fd)
    }

    /// The connection's state, for tools and tests.
    var isConnected: Bool { ring != nil }
}
