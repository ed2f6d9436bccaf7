import HyperABI
import Testing
@testable import Hypervisor
import Toolstack

/// Dom0's view of a shared ring in a guest's granted page: hostile indices, wrap-around at 2^32, full and
/// empty rings, the notification rule, and requests copied exactly once.
@Suite struct RingViewTests {
    /// A guest that grants its page 5 to Dom0 at ref 8, and Dom0's ring over it with 112-byte entries (32 slots).
    func ring(start: UInt32 = 0, entrySize: Int = 112) throws -> (TinyGuest, BackRing) {
        let g = try TinyGuest()
        try g.pokeWords(page: 7, [UInt64(DomainID.this) | 1 << 32, 0, g.va(page: 7, offset: 64)])
        #expect(g.call(20, GrantTableCommand.setupTable.rawValue, g.va(page: 7), 1).rax == 0)
        let table = try g.peekWords(page: 7, offset: 64, count: 1)[0]
        _ = g.domain.memory.writeWord(mfn: table, offset: 8 * 8, UInt64(GrantLayout.permitAccess) | g.domain.p2m[9] << 32)
        // Front-end initialisation: producers at `start`, events one past.
        try setIndices(g, reqProd: start, reqEvent: start &+ 1, rspProd: start, rspEvent: start &+ 1)
        let page = try g.hypervisor.control.mapGrant(g.domain, ref: 8, readonly: false)
        return (g, BackRing(page: page, entrySize: entrySize))
    }

    func setIndices(_ g: TinyGuest, reqProd: UInt32, reqEvent: UInt32, rspProd: UInt32, rspEvent: UInt32) throws {
        try g.pokeWords(page: 5, [UInt64(reqProd) | UInt64(reqEvent) << 32, UInt64(rspProd) | UInt64(rspEvent) << 32])
    }

    func request(_ g: TinyGuest, slot: Int, byte: UInt8) throws {
        try g.poke(page: 5, offset: 64 + slot * 112, [UInt8](repeating: byte, count: 112))
    }

    func next(_ r: BackRing) throws -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: r.entrySize)
        let got = try buf.withUnsafeMutableBytes { (b) throws -> Bool in try r.nextRequest(into: b) }
        return got ? buf : nil
    }

    @Test func sizesFollowRingH() {
        #expect(BackRing.slots(entrySize: 112) == 32)     // blkif
        #expect(BackRing.slots(entrySize: 12) == 256)     // netif tx
        #expect(BackRing.slots(entrySize: 8) == 256)      // netif rx
        #expect(BackRing.slots(entrySize: 4032) == 1)
    }

    @Test func emptyThenRequestsCopiedOnce() throws {
        let (g, r) = try ring()
        #expect(try next(r) == nil)
        try request(g, slot: 0, byte: 0xaa)
        try request(g, slot: 1, byte: 0xbb)
        try setIndices(g, reqProd: 2, reqEvent: 1, rspProd: 0, rspEvent: 1)
        let first = try #require(try next(r))
        try request(g, slot: 0, byte: 0x11)          // the front-end rewrites the slot after it was taken
        #expect(first.allSatisfy { $0 == 0xaa })      // the copy is what the back-end validates and uses
        #expect(try next(r)?.first == 0xbb)
        #expect(try next(r) == nil)
        // Two responses; the front-end asked (rsp_event 1) to hear of the first one.
        for byte in [UInt8(1), 2] { try [byte].withUnsafeBytes { try r.putResponse($0) } }
        #expect(r.pushResponses())
        #expect(try g.peekWords(page: 5, offset: 8, count: 1)[0] & 0xffff_ffff == 2)
        #expect(try g.peek(page: 5, offset: 64 + 112, count: 1) == [2])
        #expect(!r.pushResponses())                  // nothing new: no notification
    }

    @Test func aFullRingAndAnIndexJumpBeyondIt() throws {
        let (g, r) = try ring()
        try setIndices(g, reqProd: 32, reqEvent: 1, rspProd: 0, rspEvent: 1)     // exactly full
        for _ in 0..<32 { #expect(try next(r) != nil) }
        // No slot may be taken again before it is answered, whatever req_prod says.
        try setIndices(g, reqProd: 33, reqEvent: 1, rspProd: 0, rspEvent: 1)
        #expect(throws: RingError.self) { _ = try next(r) }

        let (h, s) = try ring()
        try setIndices(h, reqProd: 33, reqEvent: 1, rspProd: 0, rspEvent: 1)     // 33 ahead of 0: impossible
        #expect(throws: RingError.requestOverflow(produced: 33, consumed: 0, size: 32)) { _ = try next(s) }
        try setIndices(h, reqProd: 0xffff_fff0, reqEvent: 1, rspProd: 0, rspEvent: 1)   // "behind": also impossible
        #expect(throws: RingError.self) { _ = try next(s) }
    }

    @Test func indicesWrapAt2To32() throws {
        let start: UInt32 = 0xffff_fffe
        let (g, r) = try ring(start: start)
        for (i, byte) in [UInt8(1), 2, 3, 4].enumerated() { try request(g, slot: Int((start &+ UInt32(i)) & 31), byte: byte) }
        try setIndices(g, reqProd: start &+ 4, reqEvent: start &+ 1, rspProd: start, rspEvent: start &+ 1)
        var seen: [UInt8] = []
        while let req = try next(r) { seen.append(req[0]) }
        #expect(seen == [1, 2, 3, 4])
        #expect(r.requestConsumer == 2)
        for _ in 0..<4 { try [UInt8(9)].withUnsafeBytes { try r.putResponse($0) } }
        #expect(r.pushResponses())
        #expect(try g.peekWords(page: 5, offset: 8, count: 1)[0] & 0xffff_ffff == 2)
        #expect(!r.finalCheckForRequests())
        #expect(try g.peekWords(page: 5, count: 1)[0] >> 32 == 3)       // req_event re-armed at cons + 1
    }

    @Test func dom0MappingFollowsTheGrantersRules() throws {
        let (g, r) = try ring()
        let table = try g.peekWords(page: 7, offset: 64, count: 1)[0]
        let flags = UInt16(truncatingIfNeeded: g.domain.memory.readWord(mfn: table, offset: 64) ?? 0)
        #expect(flags == GrantLayout.permitAccess | GrantLayout.reading | GrantLayout.writing)     // in use while held
        _ = r
        #expect(throws: HypervisorError.self) { _ = try g.hypervisor.control.mapGrant(g.domain, ref: 9, readonly: true) }
        #expect(throws: HypervisorError.self) { _ = try g.hypervisor.control.mapGrant(g.domain, ref: 5000, readonly: true) }
    }

    @Test func releasingTheViewEndsTheMapping() throws {
        let (g, _) = try ring()       // the ring (and its page) is dropped at once
        let table = try g.peekWords(page: 7, offset: 64, count: 1)[0]
        let flags = UInt16(truncatingIfNeeded: g.domain.memory.readWord(mfn: table, offset: 64) ?? 0)
        #expect(flags == GrantLayout.permitAccess)
    }
}
