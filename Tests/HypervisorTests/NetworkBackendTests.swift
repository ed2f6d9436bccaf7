import Foundation
import HyperABI
import Testing
@testable import Hypervisor
@testable import Toolstack

/// Dom0's network back-end driven by hand-made, hostile front-ends (fake platform): two domains' vifs on
/// one software switch, bad tx requests failing alone, broken rings closing only their own connection,
/// a failed handshake leaving no page held, reconnection.
@Suite struct NetworkBackendTests {
    typealias N = NetworkInterface

    /// One guest's vif. Its pages: 4 the tx ring (grant ref 8), 3 the rx ring (ref 9), 2 frames to send
    /// (ref 10), 1 and 0 rx buffers (refs 11 and 12); 5 and 6 are its store and console rings, 7 scratch.
    struct Vif {
        let g: TinyGuest
        let mac: [UInt8]
        var port: UInt32 = 0
        var id: UInt16 { g.domain.id }
        var front: String { "/local/domain/\(id)/device/vif/0" }
        var back: String { "/local/domain/0/backend/vif/\(id)/0" }
    }

    static let txPage = 4, rxPage = 3, framePage = 2
    static let txRef: UInt32 = 8, rxRef: UInt32 = 9, frameRef: UInt32 = 10, bufferRefs: [UInt32] = [11, 12]

    func state(_ s: Dom0Services, _ path: String) -> String? { (try? s.store.read(path)).map { String(decoding: $0, as: UTF8.self) } }

    /// A guest with a vif on `bridge`, its five pages granted to Dom0; the back-end waits in InitWait.
    func guest(_ hv: Hypervisor, _ services: Dom0Services, mac last: UInt8, bridge: String = "sw0") throws -> Vif {
        let g = try TinyGuest(hypervisor: hv)
        let mac: [UInt8] = [0x00, 0x16, 0x3e, 0x00, 0x00, last]
        _ = try services.attach(g.domain, config: DomainConfig(name: "tiny", kernel: "-", vifs: [VifSpec(mac: mac, bridge: bridge)]),
                                storePFN: 9, consolePFN: 10)
        let table = g.domain.grants.withLock { $0.frames[0] }
        for (ref, page) in [(8, 4), (9, 3), (10, 2), (11, 1), (12, 0)] {
            _ = g.domain.memory.writeWord(mfn: table, offset: ref * 8, UInt64(GrantLayout.permitAccess) | g.domain.p2m[4 + page] << 32)
        }
        let v = Vif(g: g, mac: mac)
        #expect(state(services, "\(v.back)/state") == "2")
        #expect(state(services, "\(v.front)/mac") == "00:16:3e:00:00:\(String(format: "%02x", last))")
        return v
    }

    /// What netfront does: both rings initialised (FRONT_RING_INIT), a port for Dom0, the ring refs, the
    /// port and request-rx-copy written, then Connected; the back-end must answer Connected.
    func connect(_ v: inout Vif, _ services: Dom0Services) throws {
        try v.g.pokeWords(page: Self.txPage, [1 << 32, 1 << 32])           // req_prod 0, req_event 1, rsp_prod 0, rsp_event 1
        try v.g.pokeWords(page: Self.rxPage, [1 << 32, 1 << 32])
        try v.g.pokeWords(page: 7, [UInt64(DomainID.this) | UInt64(DomainID.dom0) << 16])
        #expect(v.g.call(32, 6, v.g.va(page: 7)).rax == 0)                  // EVTCHNOP_alloc_unbound for Dom0
        v.port = UInt32(truncatingIfNeeded: try v.g.peekWords(page: 7, count: 1)[0] >> 32)
        for (k, value) in [("tx-ring-ref", "\(Self.txRef)"), ("rx-ring-ref", "\(Self.rxRef)"), ("event-channel", "\(v.port)"),
                           ("request-rx-copy", "1"), ("state", "4")] {
            try services.store.write("\(v.front)/\(k)", value)
        }
        let back = v.back
        #expect(eventually { state(services, "\(back)/state") == "4" })
    }

    /// EVTCHNOP_send on the vif's port.
    func kick(_ v: Vif) throws {
        try v.g.pokeWords(page: 7, [UInt64(v.port)])
        #expect(v.g.call(32, 4, v.g.va(page: 7)).rax == 0)
    }

    /// An Ethernet frame of `size` bytes (IPv4 type, a pattern after the header).
    func frame(to: [UInt8], from: [UInt8], size: Int) -> [UInt8] {
        to + from + [0x08, 0x00] + (0..<(size - 14)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
    }

    /// Puts tx request `index` (netif_tx_request: gref, offset, flags, id, size) without publishing it.
    func putTx(_ v: Vif, index: UInt32, ref: UInt32, offset: Int = 0, flags: UInt16 = 0, id: UInt16, size: Int) throws {
        var r = [UInt8](repeating: 0, count: N.txSlot)
        for i in 0..<4 { r[N.txGref + i] = UInt8(truncatingIfNeeded: ref >> (8 * UInt32(i))) }
        for (at, value) in [(N.txOffset, offset), (N.txFlags, Int(flags)), (N.txID, Int(id)), (N.txSize, size)] {
            r[at] = UInt8(truncatingIfNeeded: value); r[at + 1] = UInt8(truncatingIfNeeded: value >> 8)
        }
        try v.g.poke(page: Self.txPage, offset: 64 + Int(index % 256) * N.txSlot, r)
    }

    /// Puts rx request `index` (netif_rx_request: id, gref) without publishing it.
    func putRx(_ v: Vif, index: UInt32, id: UInt16, ref: UInt32) throws {
        var r = [UInt8](repeating: 0, count: N.rxSlot)
        r[0] = UInt8(truncatingIfNeeded: id); r[1] = UInt8(truncatingIfNeeded: id >> 8)
        for i in 0..<4 { r[N.rxGref + i] = UInt8(truncatingIfNeeded: ref >> (8 * UInt32(i))) }
        try v.g.poke(page: Self.rxPage, offset: 64 + Int(index % 256) * N.rxSlot, r)
    }

    /// Waits until ring page `page` has published more than `index` responses; response `index`'s id and
    /// status (tx: id @0, status @2; rx: id @0, status @6).
    func response(_ v: Vif, page: Int, index: UInt32) throws -> (id: UInt16, status: Int16)? {
        guard try eventually(5, { try v.g.word32(page: page, at: 8) &- index &- 1 < 0x8000_0000 }) else { return nil }
        let size = page == Self.txPage ? N.txSlot : N.rxSlot
        let b = try v.g.peek(page: page, offset: 64 + Int(index % 256) * size, count: size)
        let at = page == Self.txPage ? 2 : N.rxResponseStatus
        return (UInt16(b[0]) | UInt16(b[1]) << 8, Int16(bitPattern: UInt16(b[at]) | UInt16(b[at + 1]) << 8))
    }

    /// Posts both rx buffers (ids 70, 71) from rx index `first` and tells the back-end.
    func postBuffers(_ v: Vif, from first: UInt32 = 0) throws {
        for (k, ref) in Self.bufferRefs.enumerated() { try putRx(v, index: first + UInt32(k), id: UInt16(70 + k), ref: ref) }
        try v.g.setWord32(page: Self.rxPage, at: 0, first + UInt32(Self.bufferRefs.count))
        try kick(v)
    }

    /// Whether Dom0 still holds grant `ref` of `v` (GTF_reading or GTF_writing in its entry).
    func held(_ v: Vif, ref: Int) -> Bool {
        let table = v.g.domain.grants.withLock { $0.frames[0] }
        let flags = UInt16(truncatingIfNeeded: v.g.domain.memory.readWord(mfn: table, offset: ref * 8) ?? 0)
        return flags & (GrantLayout.reading | GrantLayout.writing) != 0
    }

    /// Two guests on sw0, both connected. Tests keep the services alive to their end (their thread serves
    /// the vifs, and ARC may release an object right after its last use).
    func connectedPair() throws -> (Dom0Services, Vif, Vif) {
        let hv = try makeHypervisor()
        let services = Dom0Services(control: hv.control)
        var a = try guest(hv, services, mac: 1), b = try guest(hv, services, mac: 2)
        try connect(&a, services)
        try connect(&b, services)
        return (services, a, b)
    }

    @Test func badTxRequestsFailAloneAndAGoodOneReachesThePeer() throws {
        let (services, a, b) = try connectedPair()
        defer { withExtendedLifetime(services) {} }
        try postBuffers(b)
        let good = frame(to: b.mac, from: a.mac, size: 60)
        try a.g.poke(page: Self.framePage, good)
        try putTx(a, index: 0, ref: 77, id: 10, size: 60)                               // a ref never granted
        try putTx(a, index: 1, ref: Self.frameRef, offset: 4000, id: 11, size: 200)     // offset + size beyond the page
        try putTx(a, index: 2, ref: Self.frameRef, id: 12, size: N.maximumFrame + 1)    // larger than a frame
        try putTx(a, index: 3, ref: Self.frameRef, id: 13, size: 10)                    // shorter than an Ethernet header
        try putTx(a, index: 4, ref: Self.frameRef, flags: N.txMoreData, id: 14, size: 60)   // scatter-gather, not offered
        try putTx(a, index: 5, ref: Self.frameRef, id: 15, size: 60)                    // good
        try a.g.setWord32(page: Self.txPage, at: 0, 6)
        try kick(a)
        var answers: [(id: UInt16, status: Int16)] = []
        for i in 0..<6 { if let r = try response(a, page: Self.txPage, index: UInt32(i)) { answers.append(r) } }
        #expect(answers.map(\.id) == [10, 11, 12, 13, 14, 15])
        #expect(answers.map(\.status) == [N.error, N.error, N.error, N.error, N.error, N.okay])
        // Only the good frame crossed the switch, into b's first buffer.
        let rx = try #require(try response(b, page: Self.rxPage, index: 0))
        #expect(rx.id == 70 && rx.status == Int16(good.count))
        #expect(try b.g.peek(page: 1, count: good.count) == good)
        usleep(50_000)
        #expect(try b.g.word32(page: Self.rxPage, at: 8) == 1)
        #expect(services.vifStatus(a.id).first?.transmitted == 1)
        #expect(services.vifStatus(b.id).first?.received == 1)
        #expect(services.vifStatus(a.id).first?.connected == true)
    }

    @Test func garbageTxIndicesCloseOnlyThatVifAndItReconnects() throws {
        let (services, first, b) = try connectedPair()
        defer { withExtendedLifetime(services) {} }
        var a = first
        try a.g.setWord32(page: Self.txPage, at: 0, 0x8000_0000)                          // req_prod far beyond the ring
        try kick(a)
        let aBack = a.back
        #expect(eventually { state(services, "\(aBack)/state") == "6" })
        #expect(services.vifStatus(a.id).first?.connected == false)
        #expect(!held(a, ref: 8) && !held(a, ref: 9))                                   // both rings let go
        #expect(!a.g.domain.state.isFinal)                                                // the guest itself goes on

        // The other domain's vif keeps working: it sends a broadcast and is answered OKAY.
        try b.g.poke(page: Self.framePage, frame(to: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], from: b.mac, size: 60))
        try putTx(b, index: 0, ref: Self.frameRef, id: 1, size: 60)
        try b.g.setWord32(page: Self.txPage, at: 0, 1)
        try kick(b)
        #expect(try response(b, page: Self.txPage, index: 0)?.status == N.okay)
        #expect(services.vifStatus(b.id).first?.connected == true)
        #expect(state(services, "\(b.back)/state") == "4")

        // a starts over (Initialising → InitWait), connects again, and its frame reaches b.
        try services.store.write("\(a.front)/state", "1")
        #expect(eventually { state(services, "\(aBack)/state") == "2" })
        try connect(&a, services)
        try postBuffers(b)
        let hello = frame(to: b.mac, from: a.mac, size: 100)
        try a.g.poke(page: Self.framePage, hello)
        try putTx(a, index: 0, ref: Self.frameRef, id: 5, size: hello.count)
        try a.g.setWord32(page: Self.txPage, at: 0, 1)
        try kick(a)
        #expect(try response(a, page: Self.txPage, index: 0)?.status == N.okay)
        #expect(try response(b, page: Self.rxPage, index: 0)?.status == Int16(hello.count))
        #expect(try b.g.peek(page: 1, count: hello.count) == hello)
    }

    @Test func aGarbageRxRingClosesOnlyThatVif() throws {
        let (services, a, b) = try connectedPair()
        defer { withExtendedLifetime(services) {} }
        try b.g.setWord32(page: Self.rxPage, at: 0, 0x4000_0000)                          // looked at when a frame arrives
        try a.g.poke(page: Self.framePage, frame(to: b.mac, from: a.mac, size: 60))
        try putTx(a, index: 0, ref: Self.frameRef, id: 1, size: 60)
        try a.g.setWord32(page: Self.txPage, at: 0, 1)
        try kick(a)
        #expect(try response(a, page: Self.txPage, index: 0)?.status == N.okay)
        let bBack = b.back
        #expect(eventually { state(services, "\(bBack)/state") == "6" })
        #expect(services.vifStatus(b.id).first?.connected == false)
        #expect(!held(b, ref: 8) && !held(b, ref: 9))
        #expect(services.vifStatus(a.id).first?.connected == true)
        #expect(state(services, "\(a.back)/state") == "4")
    }

    @Test func aBadRingRefIsRefusedWithoutHoldingTheOtherRing() throws {
        let hv = try makeHypervisor()
        let services = Dom0Services(control: hv.control)
        defer { withExtendedLifetime(services) {} }
        var v = try guest(hv, services, mac: 3)
        try v.g.pokeWords(page: 7, [UInt64(DomainID.this) | UInt64(DomainID.dom0) << 16])
        #expect(v.g.call(32, 6, v.g.va(page: 7)).rax == 0)
        v.port = UInt32(truncatingIfNeeded: try v.g.peekWords(page: 7, count: 1)[0] >> 32)
        for (k, value) in [("tx-ring-ref", "8"), ("rx-ring-ref", "77"), ("event-channel", "\(v.port)"), ("request-rx-copy", "1"), ("state", "4")] {
            try services.store.write("\(v.front)/\(k)", value)
        }
        let back = v.back
        #expect(eventually { state(services, "\(back)/state") == "6" })
        #expect(!held(v, ref: 8))                                                         // the tx ring it did map is let go
        #expect(services.vifStatus(v.id).first?.connected == false)
        // Without request-rx-copy (the only rx mode offered) it is refused too; with everything right it connects.
        try services.store.write("\(v.front)/state", "1")
        #expect(eventually { state(services, "\(back)/state") == "2" })
        try services.store.write("\(v.front)/rx-ring-ref", "9")
        try services.store.write("\(v.front)/request-rx-copy", "0")
        try services.store.write("\(v.front)/state", "4")
        #expect(eventually { state(services, "\(back)/state") == "6" })
        try services.store.write("\(v.front)/state", "1")
        #expect(eventually { state(services, "\(back)/state") == "2" })
        try connect(&v, services)
        #expect(services.vifStatus(v.id).first?.connected == true)
    }

    @Test func framesWaitingForBuffersAskToBeToldOfTheNextOnes() throws {
        let (services, a, b) = try connectedPair()
        defer { withExtendedLifetime(services) {} }
        try postBuffers(b)                                                                // two buffers for three frames
        try a.g.poke(page: Self.framePage, frame(to: b.mac, from: a.mac, size: 60))
        for i in 0..<3 { try putTx(a, index: UInt32(i), ref: Self.frameRef, id: UInt16(i), size: 60) }
        try a.g.setWord32(page: Self.txPage, at: 0, 3)
        try kick(a)
        #expect(try response(b, page: Self.rxPage, index: 1)?.status == 60)
        // The third waits in the back-end, which asks (rx req_event = req_cons + 1) to hear of the next buffer.
        #expect(eventually { (try? b.g.word32(page: Self.rxPage, at: 4)) == 3 })
        // b posts two more the way netfront does (RING_PUSH_REQUESTS_AND_CHECK_NOTIFY): it notifies only
        // because the back-end asked, and the waiting frame arrives.
        for (k, ref) in Self.bufferRefs.enumerated() { try putRx(b, index: 2 + UInt32(k), id: UInt16(72 + k), ref: ref) }
        let old: UInt32 = 2, new: UInt32 = 4
        try b.g.setWord32(page: Self.rxPage, at: 0, new)
        let event = try b.g.word32(page: Self.rxPage, at: 4)
        #expect(new &- event < new &- old)
        if new &- event < new &- old { try kick(b) }
        #expect(try response(b, page: Self.rxPage, index: 2)?.status == 60)
    }

    @Test func aVifThatPostsNoBuffersLosesOnlyItsOwnFrames() throws {
        let (services, a, b) = try connectedPair()
        defer { withExtendedLifetime(services) {} }
        // a sends 600 frames to b, which never posts a buffer: b's queue keeps the newest 512.
        try a.g.poke(page: Self.framePage, frame(to: b.mac, from: a.mac, size: 60))
        var produced: UInt32 = 0
        for _ in 0..<3 {
            for _ in 0..<200 {
                try putTx(a, index: produced, ref: Self.frameRef, id: UInt16(produced), size: 60)
                produced += 1
            }
            try a.g.setWord32(page: Self.txPage, at: 0, produced)
            try kick(a)
            #expect(try response(a, page: Self.txPage, index: produced - 1)?.status == N.okay)
        }
        #expect(services.vifStatus(a.id).first?.transmitted == 600)
        #expect(eventually { services.vifStatus(b.id).first?.dropped == 600 - UInt64(NetworkBackend.maximumQueued) })
        #expect(services.vifStatus(b.id).first?.connected == true)
        // Buffers posted now are filled from the queue.
        try postBuffers(b)
        #expect(try response(b, page: Self.rxPage, index: 1)?.status == 60)
    }
}
