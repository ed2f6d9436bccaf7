// Ring.swift - Xen's shared request/response ring (the io/ring.h layout)
// over a shared page, for Embedded Swift: the same layout, index rules and
// notification suppression as <xen/io/ring.h>, whose gk_ring_* helpers do
// the ordered loads and stores.
//
//   offset 0 req_prod, 4 req_event, 8 rsp_prod, 12 rsp_event (u32 each),
//   48 bytes of padding, ring[] of union { Request, Response } from 64.
//
// Indices are free-running UInt32 (slot = index & (size - 1)); all index
// arithmetic wraps (&-, &+), so 2^32 wraps are harmless.

import CGuestKit

/// The shared part: a view of the page(s) holding the ring. Both ends
/// make one over their own mapping of the same memory.
public struct SharedRing<Request, Response> {
    public let base: UnsafeMutableRawPointer
    /// Slots: the largest power of two fitting in the bytes after the header.
    public let size: UInt32

    /// Bytes of one slot: a C union of the two types (the larger size,
    /// rounded up to the stricter alignment).
    public static var slotBytes: Int {
        let align = max(MemoryLayout<Request>.alignment, MemoryLayout<Response>.alignment)
        let bytes = max(MemoryLayout<Request>.size, MemoryLayout<Response>.size)
        return (bytes + align - 1) / align * align
    }

    /// Slots in `bytes` of ring (a page by default).
    public static func slots(inBytes bytes: Int = 4096) -> UInt32 {
        var n = UInt32((bytes - Int(GK_RING_HEADER_BYTES)) / slotBytes)
        while n & (n &- 1) != 0 { n &= n &- 1 }    // keep the top bit
        return n
    }

    /// A view of the ring at `base`, which spans `bytes` bytes.
    public init(_ base: UnsafeMutableRawPointer, bytes: Int = 4096) {
        self.base = base
        self.size = SharedRing.slots(inBytes: bytes)
    }

    /// SHARED_RING_INIT (the front end does it): indices 0, both events 1
    /// (the first item notifies), padding zeroed.
    public func initialize() {
        base.initializeMemory(as: UInt8.self, repeating: 0, count: Int(GK_RING_HEADER_BYTES))
        store(4, 1)
        store(12, 1)
    }

    func index(_ offset: Int) -> UnsafeMutablePointer<RING_IDX> {
        (base + offset).assumingMemoryBound(to: RING_IDX.self)
    }

    func load(_ offset: Int) -> UInt32 { gk_ring_load(index(offset)) }
    func store(_ offset: Int, _ value: UInt32) { gk_ring_store(index(offset), value) }

    public var requestProducer: UInt32 { load(0) }
    public var requestEvent: UInt32 { load(4) }
    public var responseProducer: UInt32 { load(8) }
    public var responseEvent: UInt32 { load(12) }

    func slot(_ i: UInt32) -> UnsafeMutableRawPointer {
        base + Int(GK_RING_HEADER_BYTES) + Int(i & (size &- 1)) * SharedRing.slotBytes
    }

    /// The slot of index `i` as a request / a response.
    public func request(at i: UInt32) -> UnsafeMutablePointer<Request> {
        slot(i).assumingMemoryBound(to: Request.self)
    }

    public func response(at i: UInt32) -> UnsafeMutablePointer<Response> {
        slot(i).assumingMemoryBound(to: Response.self)
    }

    /// Publishes producer index (offset 0 or 8) `new`; true if the other end
    /// asked for an event (its event index is in (old, new]).
    func push(producer: Int, event: Int, old: UInt32, new: UInt32) -> Bool {
        store(producer, new)
        gk_ring_mb()
        return gk_ring_passed(old, new, load(event)) != 0
    }
}

/// The front end: writes requests, takes responses.
public struct FrontRing<Request, Response> {
    public let shared: SharedRing<Request, Response>
    /// Requests written (published up to the shared req_prod).
    public private(set) var requestsWritten: UInt32
    /// Responses taken.
    public private(set) var responsesTaken: UInt32

    /// FRONT_RING_INIT; `initialize` also does SHARED_RING_INIT.
    public init(_ shared: SharedRing<Request, Response>, initialize: Bool = true) {
        if initialize { shared.initialize() }
        self.shared = shared
        requestsWritten = shared.requestProducer
        responsesTaken = requestsWritten
    }

    /// Slots free for new requests (outstanding ones hold the rest).
    public var freeRequests: UInt32 { shared.size &- (requestsWritten &- responsesTaken) }
    public var isFull: Bool { freeRequests == 0 }

    /// Writes a request (not yet visible); false if the ring is full.
    public mutating func put(_ request: Request) -> Bool {
        if isFull { return false }
        shared.request(at: requestsWritten).pointee = request
        requestsWritten &+= 1
        return true
    }

    /// RING_PUSH_REQUESTS_AND_CHECK_NOTIFY: true = send an event.
    public mutating func push() -> Bool {
        let old = shared.load(0)
        return shared.push(producer: 0, event: 4, old: old, new: requestsWritten)
    }

    /// Responses published and not yet taken.
    public var unconsumedResponses: UInt32 { shared.responseProducer &- responsesTaken }

    /// The next response, if one is published.
    public mutating func take() -> Response? {
        if unconsumedResponses == 0 { return nil }
        let r = shared.response(at: responsesTaken).pointee
        responsesTaken &+= 1
        return r
    }

    /// RING_FINAL_CHECK_FOR_RESPONSES: with nothing left, asks for an event
    /// at the next response and looks once more. True = there is work.
    public mutating func finalCheck() -> Bool {
        if unconsumedResponses != 0 { return true }
        shared.store(12, responsesTaken &+ 1)
        gk_ring_mb()
        return unconsumedResponses != 0
    }
}

/// The back end: takes requests, writes responses.
public struct BackRing<Request, Response> {
    public let shared: SharedRing<Request, Response>
    /// Responses written (published up to the shared rsp_prod).
    public private(set) var responsesWritten: UInt32
    /// Requests taken.
    public private(set) var requestsTaken: UInt32

    /// BACK_RING_INIT over a ring the front end initialised.
    public init(_ shared: SharedRing<Request, Response>) {
        self.shared = shared
        responsesWritten = shared.responseProducer
        requestsTaken = responsesWritten
    }

    /// Requests published and not taken, never more than the slots not
    /// holding unpublished responses (a lying front end cannot make the
    /// back end read past them).
    public var unconsumedRequests: UInt32 {
        let published = shared.requestProducer &- requestsTaken
        let room = shared.size &- (requestsTaken &- responsesWritten)
        return min(published, room)
    }

    /// The next request, copied once out of the shared slot.
    public mutating func take() -> Request? {
        if unconsumedRequests == 0 { return nil }
        let r = shared.request(at: requestsTaken).pointee
        requestsTaken &+= 1
        return r
    }

    /// Writes a response (not yet visible) into the slot of a taken request.
    public mutating func put(_ response: Response) -> Bool {
        if responsesWritten == requestsTaken { return false }   // nothing answered yet
        shared.response(at: responsesWritten).pointee = response
        responsesWritten &+= 1
        return true
    }

    /// RING_PUSH_RESPONSES_AND_CHECK_NOTIFY: true = send an event.
    public mutating func push() -> Bool {
        let old = shared.load(8)
        return shared.push(producer: 8, event: 12, old: old, new: responsesWritten)
    }

    /// RING_FINAL_CHECK_FOR_REQUESTS. True = there is work.
    public mutating func finalCheck() -> Bool {
        if unconsumedRequests != 0 { return true }
        shared.store(4, requestsTaken &+ 1)
        gk_ring_mb()
        return unconsumedRequests != 0
    }
}
