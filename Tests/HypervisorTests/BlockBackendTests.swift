import Foundation
import HyperABI
import Testing
@testable import Hypervisor
import Toolstack

/// Dom0's block back-end driven by a hand-made front-end (fake platform): the xenbus handshake, writes
/// reaching the file, indirect requests, bad requests failing alone, a broken ring closing the connection,
/// reconnection.
@Suite struct BlockBackendTests {
    typealias B = BlockInterface

    struct Rig {
        let g: TinyGuest
        let services: Dom0Services
        let image: String
        let port: UInt32
        var front: String { "/local/domain/\(g.domain.id)/device/vbd/51712" }
        var back: String { "/local/domain/0/backend/vbd/\(g.domain.id)/51712" }
    }




    func state(_ s: Dom0Services, _ path: String) -> String? { (try? s.store.read(path)).map { String(decoding: $0, as: UTF8.self) } }

    /// A 1 MiB disk, the ring in the guest's page 4 (granted at ref 8), a data page 3 (ref 9), connected;
    /// the guest has `pages` pages (pages 8 and up are free for the indirect tests).
    func connected(writable: Bool = true, pages: Int = 8) throws -> Rig {
        let image = NSTemporaryDirectory() + "blk-\(UUID().uuidString).img"
        _ = FileManager.default.createFile(atPath: image, contents: Data(count: 1 << 20))
        let hv = try makeHypervisor()
        let services = Dom0Services(control: hv.control)
        let g = try TinyGuest(pages: pages, hypervisor: hv)
        let spec = DiskSpec(path: image, virtualDevice: "xvda", writable: writable)
        _ = try services.attach(g.domain, config: DomainConfig(name: "tiny", kernel: "-", disks: [spec]), storePFN: 9, consolePFN: 10)
        // The ring: indices zero, events at 1 (FRONT_RING_INIT).
        try g.pokeWords(page: 4, [1 << 32, 1 << 32])
        let table = g.domain.grants.withLock { $0.frames[0] }
        for (ref, page) in [(8, 4), (9, 3)] {
            _ = g.domain.memory.writeWord(mfn: table, offset: ref * 8, UInt64(GrantLayout.permitAccess) | g.domain.p2m[4 + page] << 32)
        }
        try g.pokeWords(page: 7, [UInt64(DomainID.this) | UInt64(DomainID.dom0) << 16])
        #expect(g.call(32, 6, g.va(page: 7)).rax == 0)                     // alloc_unbound for Dom0
        let port = UInt32(truncatingIfNeeded: try g.peekWords(page: 7, count: 1)[0] >> 32)
        let rig = Rig(g: g, services: services, image: image, port: port)
        #expect(state(services, "\(rig.back)/state") == "2")
        #expect(state(services, "\(rig.back)/sectors") == "2048")
        #expect(state(services, "\(rig.back)/feature-max-indirect-segments") == "256")
        for (k, v) in [("ring-ref", "8"), ("event-channel", "\(port)"), ("protocol", "x86_64-abi"), ("state", "3")] {
            try services.store.write("\(rig.front)/\(k)", v)
        }
        #expect(eventually { state(services, "\(rig.back)/state") == "4" })
        return rig
    }

    /// Puts request number `index` (slot index % 32) and rings the bell.
    func submit(_ rig: Rig, index: UInt32, op: B.Operation, sector: UInt64, segments: [(UInt32, UInt8, UInt8)],
                discardSectors: UInt64 = 0) throws {
        var r = [UInt8](repeating: 0, count: 112)
        r[0] = op.rawValue; r[1] = UInt8(segments.count)
        for i in 0..<8 { r[8 + i] = UInt8(truncatingIfNeeded: UInt64(index + 100) >> (8 * UInt64(i))) }
        for i in 0..<8 { r[16 + i] = UInt8(truncatingIfNeeded: sector >> (8 * UInt64(i))) }
        if op == .discard { for i in 0..<8 { r[24 + i] = UInt8(truncatingIfNeeded: discardSectors >> (8 * UInt64(i))) } }
        for (n, (ref, first, last)) in segments.enumerated() {
            let s = 24 + n * 8
            for i in 0..<4 { r[s + i] = UInt8(truncatingIfNeeded: ref >> (8 * UInt32(i))) }
            r[s + 4] = first; r[s + 5] = last
        }
        try rig.g.poke(page: 4, offset: 64 + Int(index % 32) * 112, r)
        try rig.g.setWord32(page: 4, at: 0, index + 1)
        try rig.g.pokeWords(page: 7, [UInt64(rig.port)])
        #expect(rig.g.call(32, 4, rig.g.va(page: 7)).rax == 0)
    }

    /// Waits for response `index` and returns its status.
    func status(_ rig: Rig, index: UInt32) throws -> Int16? {
        guard try eventually(5, { try rig.g.word32(page: 4, at: 8) > index }) else { return nil }
        let b = try rig.g.peek(page: 4, offset: 64 + Int(index % 32) * 112, count: 12)
        #expect(b[0] == UInt8(index + 100))
        return Int16(bitPattern: UInt16(b[10]) | UInt16(b[11]) << 8)
    }

    /// Grant `ref` of the rig's guest for its page `page` to Dom0.
    func grant(_ rig: Rig, ref: Int, page: Int, readonly: Bool = false) {
        let table = rig.g.domain.grants.withLock { $0.frames[0] }
        let flags = GrantLayout.permitAccess | (readonly ? GrantLayout.readonly : 0)
        _ = rig.g.domain.memory.writeWord(mfn: table, offset: ref * 8, UInt64(flags) | rig.g.domain.p2m[4 + page] << 32)
    }

    /// Whether the back-end still holds grant `ref` (GTF_reading or GTF_writing set).
    func inUse(_ rig: Rig, ref: Int) -> Bool {
        let table = rig.g.domain.grants.withLock { $0.frames[0] }
        let flags = UInt16(truncatingIfNeeded: rig.g.domain.memory.loadWord32(mfn: table, offset: ref * 8))
        return flags & (GrantLayout.reading | GrantLayout.writing) != 0
    }

    /// Segment descriptors (gref, first_sect, last_sect) written at the start of the guest's page `page`.
    func describe(_ rig: Rig, page: Int, _ segments: [(UInt32, UInt8, UInt8)]) throws {
        var b = [UInt8](repeating: 0, count: segments.count * 8)
        for (n, (ref, first, last)) in segments.enumerated() {
            for i in 0..<4 { b[n * 8 + i] = UInt8(truncatingIfNeeded: ref >> (8 * UInt32(i))) }
            b[n * 8 + 4] = first; b[n * 8 + 5] = last
        }
        try rig.g.poke(page: page, b)
    }

    /// Puts indirect request number `index` (raw fields: `inner` as indirect_op, `count` as nr_segments, the
    /// indirect pages' refs) and rings the bell.
    func submitIndirect(_ rig: Rig, index: UInt32, inner: UInt8, count: Int, sector: UInt64, indirectRefs: [UInt32]) throws {
        var r = [UInt8](repeating: 0, count: 112)
        r[0] = B.Operation.indirect.rawValue; r[1] = inner
        r[2] = UInt8(truncatingIfNeeded: count); r[3] = UInt8(truncatingIfNeeded: count >> 8)
        for i in 0..<8 { r[8 + i] = UInt8(truncatingIfNeeded: UInt64(index + 100) >> (8 * UInt64(i))) }
        for i in 0..<8 { r[16 + i] = UInt8(truncatingIfNeeded: sector >> (8 * UInt64(i))) }
        r[24] = 0x00; r[25] = 0xca                                           // handle 51712
        for (p, ref) in indirectRefs.enumerated() {
            for i in 0..<4 { r[28 + p * 4 + i] = UInt8(truncatingIfNeeded: ref >> (8 * UInt32(i))) }
        }
        try rig.g.poke(page: 4, offset: 64 + Int(index % 32) * 112, r)
        try rig.g.setWord32(page: 4, at: 0, index + 1)
        try rig.g.pokeWords(page: 7, [UInt64(rig.port)])
        #expect(rig.g.call(32, 4, rig.g.va(page: 7)).rax == 0)
    }

    /// Waits for response `index`: its operation and status.
    func response(_ rig: Rig, index: UInt32) throws -> (op: UInt8, status: Int16)? {
        guard try eventually(5, { try rig.g.word32(page: 4, at: 8) > index }) else { return nil }
        let b = try rig.g.peek(page: 4, offset: 64 + Int(index % 32) * 112, count: 12)
        #expect(b[0] == UInt8(index + 100))
        return (b[8], Int16(bitPattern: UInt16(b[10]) | UInt16(b[11]) << 8))
    }

    func image(_ rig: Rig) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: rig.image)) }

    @Test func anIndirectWriteThenReadMovesManySegmentsThroughTheFile() throws {
        let rig = try connected(pages: 50)
        defer { try? FileManager.default.removeItem(atPath: rig.image) }
        // 40 data pages (guest pages 8 … 47, refs 20 … 59), each its own bytes; the first segment starts at
        // sector 2 of its page, the last ends at sector 3; the descriptors in page 48, granted read-only.
        let n = 40
        var segments: [(UInt32, UInt8, UInt8)] = []
        var expected = Data()
        for k in 0..<n {
            let page = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ k &* 31 &+ 1) }
            try rig.g.poke(page: 8 + k, page)
            grant(rig, ref: 20 + k, page: 8 + k)
            let first: UInt8 = k == 0 ? 2 : 0, last: UInt8 = k == n - 1 ? 3 : 7
            segments.append((UInt32(20 + k), first, last))
            expected.append(contentsOf: page[Int(first) * 512..<(Int(last) + 1) * 512])
        }
        grant(rig, ref: 60, page: 48, readonly: true)
        try describe(rig, page: 48, segments)
        try submitIndirect(rig, index: 0, inner: B.Operation.write.rawValue, count: n, sector: 100, indirectRefs: [60])
        let written = try response(rig, index: 0)
        #expect(written?.op == B.Operation.write.rawValue && written?.status == B.okay)
        let file = try image(rig)
        #expect(expected.count == (6 + 38 * 8 + 4) * 512)
        #expect(file[100 * 512..<100 * 512 + expected.count] == expected)
        #expect(file[0..<100 * 512].allSatisfy { $0 == 0 } && file[100 * 512 + expected.count..<file.count].allSatisfy { $0 == 0 })
        // Wipe the pages and read the same range back into them: each segment's sectors come from the file.
        for k in 0..<n { try rig.g.poke(page: 8 + k, [UInt8](repeating: 0xee, count: 4096)) }
        try submitIndirect(rig, index: 1, inner: B.Operation.read.rawValue, count: n, sector: 100, indirectRefs: [60])
        let read = try response(rig, index: 1)
        #expect(read?.op == B.Operation.read.rawValue && read?.status == B.okay)
        var back = Data()
        for (k, (_, first, last)) in segments.enumerated() {
            let page = try rig.g.peek(page: 8 + k, count: 4096)
            back.append(contentsOf: page[Int(first) * 512..<(Int(last) + 1) * 512])
            #expect(page[0..<Int(first) * 512].allSatisfy { $0 == 0xee } && page[(Int(last) + 1) * 512..<4096].allSatisfy { $0 == 0xee })
        }
        #expect(back == expected)
        #expect((20...60).allSatisfy { !inUse(rig, ref: $0) })                         // every page given back
    }

    @Test func badIndirectRequestsFailAloneAndTheNextOneWorks() throws {
        let rig = try connected(pages: 12)
        defer { try? FileManager.default.removeItem(atPath: rig.image) }
        let write = B.Operation.write.rawValue, read = B.Operation.read.rawValue
        // Page 8 holds descriptors (ref 20), page 9 is data (ref 21), page 10 data granted read-only (ref 22).
        grant(rig, ref: 20, page: 8)
        grant(rig, ref: 21, page: 9)
        grant(rig, ref: 22, page: 10, readonly: true)
        try rig.g.poke(page: 9, [UInt8](repeating: 0x77, count: 4096))
        var index: UInt32 = 0
        /// Submits a bad request (descriptors first), expects BLKIF_RSP_ERROR naming `inner`, then a good read.
        func refused(_ what: String, inner: UInt8 = write, count: Int, sector: UInt64 = 0, indirectRefs: [UInt32] = [20],
                     _ segments: [(UInt32, UInt8, UInt8)]) throws {
            try describe(rig, page: 8, segments)
            try submitIndirect(rig, index: index, inner: inner, count: count, sector: sector, indirectRefs: indirectRefs)
            let r = try response(rig, index: index)
            #expect(r?.status == B.error && r?.op == inner, "\(what)")
            index += 1
            try describe(rig, page: 8, [(21, 0, 7)])
            try submitIndirect(rig, index: index, inner: read, count: 1, sector: 16, indirectRefs: [20])
            #expect(try response(rig, index: index)?.status == B.okay, "\(what)")
            index += 1
            #expect((20...22).allSatisfy { !inUse(rig, ref: $0) }, "\(what)")          // nothing left mapped
        }
        try refused("no segments", count: 0, [(21, 0, 7)])
        try refused("257 segments, one more than offered", count: 257, Array(repeating: (21, 0, 7), count: 257))
        try refused("4097 segments, 9 indirect pages", count: 4097, indirectRefs: Array(repeating: 20, count: 8), [(21, 0, 7)])
        try refused("65535 segments", count: 65535, [(21, 0, 7)])
        try refused("an indirect page never granted", count: 1, indirectRefs: [77], [(21, 0, 7)])
        try refused("a data page never granted, after a good one", count: 2, [(21, 0, 7), (78, 0, 7)])
        try refused("first_sect > last_sect", count: 2, [(21, 0, 7), (21, 6, 2)])
        try refused("last_sect past the page", count: 1, [(21, 0, 8)])
        try refused("first_sect past the page", count: 1, [(21, 9, 9)])
        try refused("beyond the disk", count: 2, sector: 2040, [(21, 0, 7), (21, 0, 0)])
        try refused("starting at the end of the disk", count: 1, sector: 2048, [(21, 0, 0)])
        try refused("a read into a read-only grant", inner: read, count: 1, [(22, 0, 7)])
        for inner: UInt8 in [2, 3, 4, 5, 6, 200] {
            try refused("indirect_op \(inner)", inner: inner, count: 1, [(21, 0, 7)])
        }
        #expect(try image(rig).allSatisfy { $0 == 0 })                                  // no refused write wrote
        // The limit itself is accepted: 256 segments (one page granted under 256 refs), 1 MiB.
        try rig.g.poke(page: 9, [UInt8](repeating: 0x77, count: 4096))           // the good reads zeroed it
        for k in 0..<256 { grant(rig, ref: 100 + k, page: 9) }
        try describe(rig, page: 8, (0..<256).map { (UInt32(100 + $0), 0, 7) })
        try submitIndirect(rig, index: index, inner: write, count: 256, sector: 0, indirectRefs: [20])
        #expect(try response(rig, index: index)?.status == B.okay)
        #expect(try image(rig).allSatisfy { $0 == 0x77 })
        #expect((100..<356).allSatisfy { !inUse(rig, ref: $0) })
        // And a direct request after all that.
        try submit(rig, index: index + 1, op: .read, sector: 8, segments: [(9, 0, 7)])
        #expect(try status(rig, index: index + 1) == B.okay)
    }

    @Test func aReadOnlyDiskRefusesIndirectWrites() throws {
        let rig = try connected(writable: false, pages: 10)
        defer { try? FileManager.default.removeItem(atPath: rig.image) }
        #expect(state(rig.services, "\(rig.back)/feature-max-indirect-segments") == "256")
        grant(rig, ref: 20, page: 8)
        grant(rig, ref: 21, page: 9)
        try rig.g.poke(page: 9, [UInt8](repeating: 0x33, count: 4096))
        try describe(rig, page: 8, [(21, 0, 7), (21, 0, 7)])
        try submitIndirect(rig, index: 0, inner: B.Operation.write.rawValue, count: 2, sector: 0, indirectRefs: [20])
        #expect(try response(rig, index: 0)?.status == B.error)
        try submitIndirect(rig, index: 1, inner: B.Operation.read.rawValue, count: 2, sector: 0, indirectRefs: [20])
        #expect(try response(rig, index: 1)?.status == B.okay)
        #expect(try rig.g.peek(page: 9, count: 4096).allSatisfy { $0 == 0 })
        #expect(try image(rig).allSatisfy { $0 == 0 })
    }

    @Test func writesReachTheFileAndBadRequestsFailAlone() throws {
        let rig = try connected()
        defer { try? FileManager.default.removeItem(atPath: rig.image) }
        try rig.g.poke(page: 3, [UInt8](repeating: 0x5a, count: 4096))
        try submit(rig, index: 0, op: .write, sector: 8, segments: [(9, 0, 7)])
        #expect(try status(rig, index: 0) == B.okay)
        let data = try Data(contentsOf: URL(fileURLWithPath: rig.image))
        #expect(data[4096..<8192].allSatisfy { $0 == 0x5a } && data[0..<4096].allSatisfy { $0 == 0 })
        try submit(rig, index: 1, op: .flushDiskCache, sector: 0, segments: [])
        #expect(try status(rig, index: 1) == B.okay)
        try submit(rig, index: 2, op: .read, sector: 2047, segments: [(9, 0, 1)])               // runs past the end
        #expect(try status(rig, index: 2) == B.error)
        try submit(rig, index: 3, op: .read, sector: 0, segments: [(77, 0, 7)])                 // a ref never granted
        #expect(try status(rig, index: 3) == B.error)
        try submit(rig, index: 4, op: .read, sector: 0, segments: [(9, 6, 2)])                  // first > last
        #expect(try status(rig, index: 4) == B.error)
        try submit(rig, index: 5, op: .indirect, sector: 0, segments: [])                       // indirect, 0 segments
        #expect(try status(rig, index: 5) == B.error)
        try submit(rig, index: 6, op: .read, sector: 8, segments: [(9, 0, 0)])                  // still serving
        #expect(try status(rig, index: 6) == B.okay)
        try submit(rig, index: 7, op: .discard, sector: 8, segments: [], discardSectors: 8)     // punches the hole
        #expect(try status(rig, index: 7) == B.okay)
        let after = try Data(contentsOf: URL(fileURLWithPath: rig.image))
        #expect(after.count == 1 << 20 && after[4096..<8192].allSatisfy { $0 == 0 })
        try submit(rig, index: 8, op: .discard, sector: 2040, segments: [], discardSectors: 9)  // past the end
        #expect(try status(rig, index: 8) == B.error)
    }

    @Test func aReadOnlyDiskRefusesWrites() throws {
        let rig = try connected(writable: false)
        defer { try? FileManager.default.removeItem(atPath: rig.image) }
        #expect(state(rig.services, "\(rig.back)/info") == "4")
        try submit(rig, index: 0, op: .write, sector: 0, segments: [(9, 0, 7)])
        #expect(try status(rig, index: 0) == B.error)
        try submit(rig, index: 1, op: .read, sector: 0, segments: [(9, 0, 7)])
        #expect(try status(rig, index: 1) == B.okay)
    }

    @Test func aHostileRingIndexClosesTheConnectionAndItCanReconnect() throws {
        let rig = try connected()
        defer { try? FileManager.default.removeItem(atPath: rig.image) }
        try rig.g.setWord32(page: 4, at: 0, 0x8000_0000)                                      // req_prod far beyond the ring
        try rig.g.pokeWords(page: 7, [UInt64(rig.port)])
        #expect(rig.g.call(32, 4, rig.g.va(page: 7)).rax == 0)
        #expect(eventually { state(rig.services, "\(rig.back)/state") == "6" })
        #expect(rig.services.failures(rig.g.domain.id).disks.first??.contains("req_prod") == true)
        #expect(!rig.g.domain.state.isFinal)                                                    // the guest itself goes on
        // The front-end starts over: Initialising → the back-end offers the disk again; then connects.
        try rig.services.store.write("\(rig.front)/state", "1")
        #expect(eventually { state(rig.services, "\(rig.back)/state") == "2" })
        try rig.g.pokeWords(page: 4, [1 << 32, 1 << 32])
        try rig.g.pokeWords(page: 7, [UInt64(DomainID.this) | UInt64(DomainID.dom0) << 16])
        #expect(rig.g.call(32, 6, rig.g.va(page: 7)).rax == 0)
        let port = UInt32(truncatingIfNeeded: try rig.g.peekWords(page: 7, count: 1)[0] >> 32)
        try rig.services.store.write("\(rig.front)/event-channel", "\(port)")
        try rig.services.store.write("\(rig.front)/state", "3")
        #expect(eventually { state(rig.services, "\(rig.back)/state") == "4" })
    }
}
