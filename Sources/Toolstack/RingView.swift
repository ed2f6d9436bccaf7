import Hypervisor

/// Why a shared ring was given up: a protocol error is the front-end's fault and ends that connection only.
public enum RingError: Error, Equatable, CustomStringConvertible {
    /// The front-end's producer index ran more than the ring's size ahead of what was consumed.
    case requestOverflow(produced: UInt32, consumed: UInt32, size: Int)
    /// More requests taken than responses room for (the back-end would overwrite unanswered slots).
    case responseOverflow(consumed: UInt32, responded: UInt32)
    /// A response of the wrong size.
    case badResponse(bytes: Int)

    public var description: String {
        switch self {
        case .requestOverflow(let p, let c, let n): "req_prod \(p) is \(p &- c) ahead of req_cons \(c), beyond the ring's \(n) slots"
        case .responseOverflow(let c, let r): "req_cons \(c) ran past rsp_prod \(r) by a whole ring"
        case .badResponse(let n): "a response of \(n) bytes does not fit the slot"
        }
    }
}

/// The back-end's view of one Xen shared ring (io/ring.h) in a page Dom0 holds by grant: req_prod u32 @0,
/// req_event @4, rsp_prod @8, rsp_event @12, entries from @64, the largest power of two that fits.
/// Every back-end uses this one type: each request is copied out of shared memory exactly once (the
/// caller validates the copy, never the shared slot), indices are free-running u32 compared modulo 2^32,
/// and a producer index beyond the ring is a protocol error for this connection only.
public final class BackRing {
    public static let headerSize = 64
    public let entrySize: Int
    /// Slots in the ring.
    public let size: Int
    public let page: GrantedPage
    /// Requests taken so far, and responses written but not yet published.
    public private(set) var requestConsumer: UInt32
    public private(set) var responseProducer: UInt32

    /// Slots of `entrySize` bytes in a one-page ring.
    public static func slots(entrySize: Int) -> Int {
        let fit = (4096 - headerSize) / entrySize
        var n = 1
        while n * 2 <= fit { n *= 2 }
        return n
    }

    /// Attaches to a ring the front-end initialised; starts where its indices are (a reconnect resumes there).
    public init(page: GrantedPage, entrySize: Int) {
        precondition(entrySize > 0 && entrySize <= 4096 - BackRing.headerSize)
        self.page = page
        self.entrySize = entrySize
        self.size = BackRing.slots(entrySize: entrySize)
        requestConsumer = page.load32(at: 8)
        responseProducer = requestConsumer
    }

    private func slotOffset(_ index: UInt32) -> Int { BackRing.headerSize + Int(index & UInt32(size - 1)) * entrySize }

    /// Copies the next request into `buffer` (entrySize bytes) and returns true, or returns false when the
    /// front-end has produced nothing new. Throws if its producer index is not a possible one.
    public func nextRequest(into buffer: UnsafeMutableRawBufferPointer) throws(RingError) -> Bool {
        precondition(buffer.count >= entrySize)
        let produced = page.load32(at: 0)
        let pending = produced &- requestConsumer
        guard pending <= UInt32(size) else { throw .requestOverflow(produced: produced, consumed: requestConsumer, size: size) }
        guard requestConsumer &- responseProducer < UInt32(size) else {
            throw .responseOverflow(consumed: requestConsumer, responded: responseProducer)
        }
        guard pending > 0 else { return false }
        page.read(at: slotOffset(requestConsumer), into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<entrySize]))
        requestConsumer &+= 1
        return true
    }

    /// `nextRequest(into:)` for a reusable array of at least `entrySize` bytes (nothing allocated).
    public func nextRequest(into buffer: inout [UInt8]) throws(RingError) -> Bool {
        let result = buffer.withUnsafeMutableBytes { b -> Result<Bool, RingError> in
            do throws(RingError) { return .success(try nextRequest(into: b)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// `putResponse(_:)` from an array.
    public func putResponse(_ bytes: [UInt8]) throws(RingError) {
        let failure = bytes.withUnsafeBytes { b -> RingError? in
            do throws(RingError) { try putResponse(b); return nil } catch { return error }
        }
        if let failure { throw failure }
    }

    /// Writes a response into the next response slot (not yet visible to the front-end).
    public func putResponse(_ bytes: UnsafeRawBufferPointer) throws(RingError) {
        guard bytes.count <= entrySize else { throw .badResponse(bytes: bytes.count) }
        guard requestConsumer &- responseProducer > 0 else { throw .responseOverflow(consumed: requestConsumer, responded: responseProducer) }
        page.write(at: slotOffset(responseProducer), bytes: bytes)
        responseProducer &+= 1
    }

    /// Publishes the responses written (RING_PUSH_RESPONSES_AND_CHECK_NOTIFY): true if the front-end asked
    /// to be notified of one of them (rsp_event inside the newly published range).
    public func pushResponses() -> Bool {
        let old = page.load32(at: 8)
        let new = responseProducer
        page.store32(new, at: 8)                         // release: the slots are visible before the index
        page.fullBarrier()
        let event = page.load32(at: 12)
        return new &- event < new &- old
    }

    /// Before going idle (RING_FINAL_CHECK_FOR_REQUESTS): asks to be notified of the next request, then
    /// looks once more so one that raced in is not missed. True if there is work.
    public func finalCheckForRequests() -> Bool {
        if page.load32(at: 0) &- requestConsumer != 0 { return true }
        page.store32(requestConsumer &+ 1, at: 4)
        page.fullBarrier()
        return page.load32(at: 0) &- requestConsumer != 0
    }
}
