import Foundation
import HyperABI
import Testing
@testable import Hypervisor
import Toolstack

/// Dom0's block back-end driven by a hand-made front-end (fake platform): the xenbus handshake, writes
/// reaching the file, bad requests failing alone, a broken ring closing the connection, reconnection.
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

    /// A 1 MiB disk, the ring in the guest's page 4 (granted at ref 8), a data page 3 (ref 9), connected.
    func connected(writable: Bool = true) throws -> Rig {
        let image = NSTemporaryDirectory() + "blk-\(UUID().uuidString).img"
        _ = FileManager.default.createFile(atPath: image, contents: Data(count: 1 << 20))
        let hv = try makeHypervisor()
        let services = Dom0Services(control: hv.control)
        let g = try TinyGuest(hypervisor: hv)
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
        try submit(rig, index: 5, op: .indirect, sector: 0, segments: [])
        #expect(try status(rig, index: 5) == B.notSupported)
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
