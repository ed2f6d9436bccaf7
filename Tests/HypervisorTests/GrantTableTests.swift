import HyperABI
import Testing
@testable import Hypervisor

/// Grant table v1 on the fake platform: the granter's rules, map/unmap/copy statuses as Xen's, and what
/// happens to mappings when either side dies.
@Suite struct GrantTableTests {
    let gnttab: UInt64 = 20
    typealias L = GrantLayout

    func pair() throws -> (granter: TinyGuest, mapper: TinyGuest) {
        let hv = try makeHypervisor()
        return (try TinyGuest(hypervisor: hv), try TinyGuest(hypervisor: hv))
    }

    /// Sets up the granter's table (setup_table for one frame) and returns that frame.
    func table(_ g: TinyGuest) throws -> UInt64 {
        try g.pokeWords(page: 7, [UInt64(DomainID.this) | 1 << 32, 0, g.va(page: 7, offset: 64)])
        #expect(g.call(gnttab, GrantTableCommand.setupTable.rawValue, g.va(page: 7), 1).rax == 0)
        #expect(try g.peekWords(page: 7, offset: 8, count: 1)[0] & 0xffff == 0)
        return try g.peekWords(page: 7, offset: 64, count: 1)[0]
    }

    /// Writes entry `ref` as a guest does: domid and frame, then flags.
    func grant(_ g: TinyGuest, table: UInt64, ref: Int, to domid: UInt16, page: Int, flags: UInt16 = L.permitAccess) {
        let mfn = g.domain.p2m[4 + page]
        let word = UInt64(flags) | UInt64(domid) << 16 | mfn << 32
        _ = g.domain.memory.writeWord(mfn: table, offset: ref * 8, word)
    }

    func entryFlags(_ g: TinyGuest, table: UInt64, ref: Int) -> UInt16 {
        UInt16(truncatingIfNeeded: g.domain.memory.readWord(mfn: table, offset: ref * 8) ?? 0)
    }

    /// map_grant_ref of (dom, ref) at the mapper's VA page `page`; returns (status, handle).
    func map(_ m: TinyGuest, dom: UInt16, ref: UInt32, page: Int = 6, flags: UInt32 = L.mapHost, hostAddress: UInt64? = nil) throws -> (Int16, UInt32) {
        let host = hostAddress ?? m.va(page: page)
        try m.pokeWords(page: 7, [host, UInt64(flags) | UInt64(ref) << 32, UInt64(dom), 0])
        #expect(m.call(gnttab, GrantTableCommand.mapGrantRef.rawValue, m.va(page: 7), 1).rax == 0)
        let w = try m.peekWords(page: 7, offset: 16, count: 1)[0]
        return (Int16(truncatingIfNeeded: w >> 16), UInt32(truncatingIfNeeded: w >> 32))
    }

    func unmap(_ m: TinyGuest, handle: UInt32, page: Int = 6) throws -> Int16 {
        try m.pokeWords(page: 7, [m.va(page: page), 0, UInt64(handle)])
        #expect(m.call(gnttab, GrantTableCommand.unmapGrantRef.rawValue, m.va(page: 7), 1).rax == 0)
        return Int16(truncatingIfNeeded: try m.peekWords(page: 7, offset: 16, count: 1)[0] >> 32)
    }

    /// The mapper's L1 entry for VA page `page`.
    func pte(_ m: TinyGuest, page: Int) -> UInt64 { m.domain.memory.readWord(mfn: m.domain.p2m[3], offset: page * 8) ?? 0 }

    @Test func versionsAndSizes() throws {
        let g = try TinyGuest()
        try g.pokeWords(page: 7, [2])
        #expect(g.call(gnttab, GrantTableCommand.setVersion.rawValue, g.va(page: 7), 1).rax == neg(38))   // v2: -ENOSYS
        #expect(try g.peekWords(page: 7, count: 1)[0] & 0xffff_ffff == 1)
        try g.pokeWords(page: 7, [1])
        #expect(g.call(gnttab, GrantTableCommand.setVersion.rawValue, g.va(page: 7), 1).rax == 0)
        try g.pokeWords(page: 7, [UInt64(DomainID.this), 0])
        #expect(g.call(gnttab, GrantTableCommand.querySize.rawValue, g.va(page: 7), 1).rax == 0)
        let q = try g.peekWords(page: 7, count: 2)
        #expect(q[0] >> 32 == 1 && q[1] & 0xffff_ffff == 64 && (q[1] >> 32) & 0xffff == 0)
        #expect(g.call(gnttab, 99, g.va(page: 7), 1).rax == neg(38))
        #expect(g.call(gnttab, GrantTableCommand.querySize.rawValue, g.va(page: 7), 513).rax == neg(22))
        // Growing past 64 frames is refused in the status.
        try g.pokeWords(page: 7, [UInt64(DomainID.this) | 65 << 32, 0, g.va(page: 7, offset: 64)])
        #expect(g.call(gnttab, GrantTableCommand.setupTable.rawValue, g.va(page: 7), 1).rax == 0)
        #expect(Int16(truncatingIfNeeded: try g.peekWords(page: 7, offset: 8, count: 1)[0]) == GrantStatus.generalError.rawValue)
    }

    @Test func addToPhysmapPlacesATableFrame() throws {
        let g = try TinyGuest()
        // xen_add_to_physmap {domid, size, space = grant_table, idx = 1, gpfn = 10}: the table grows to 2 frames.
        try g.pokeWords(page: 7, [UInt64(DomainID.this) | UInt64(MemoryOpLayout.spaceGrantTable) << 32, 1, 10])
        #expect(g.call(12, 7, g.va(page: 7)).rax == 0)
        let frames = g.domain.grants.withLock { $0.frames }
        #expect(frames.count == 2)
        #expect(g.domain.p2m[10] == frames[1])
        #expect(g.hypervisor.frames.m2p(frames[1]) == 10)
        try g.pokeWords(page: 7, [UInt64(DomainID.this) | UInt64(MemoryOpLayout.spaceGrantTable) << 32, 64, 10])
        #expect(g.call(12, 7, g.va(page: 7)).rax == neg(22))                 // beyond 64 frames
    }

    @Test func mapSharesTheFrameAndUnmapGivesItBack() throws {
        let (b, a) = try pair()
        let t = try table(b)
        grant(b, table: t, ref: 8, to: a.domain.id, page: 5)
        try b.poke(page: 5, Array("granted".utf8))
        let (status, handle) = try map(a, dom: b.domain.id, ref: 8)
        #expect(status == 0)
        let e = pte(a, page: 6)
        #expect(e & PTE.addressMask == b.domain.p2m[9] << 12)
        #expect(e & (PTE.writable | PTE.grantMapping | PTE.present | PTE.user) == PTE.writable | PTE.grantMapping | PTE.present | PTE.user)
        #expect(entryFlags(b, table: t, ref: 8) == L.permitAccess | L.reading | L.writing)
        // Both ways through the same frame.
        var read = [UInt8](repeating: 0, count: 7)
        try read.withUnsafeMutableBytes { try a.vcpu.addressSpace.copyFromGuest(a.va(page: 6), into: $0) }
        #expect(String(decoding: read, as: UTF8.self) == "granted")
        try a.vcpu.addressSpace.copyToGuest(a.va(page: 6), bytes: Array("mapper!".utf8))
        #expect(try b.peek(page: 5, count: 7) == Array("mapper!".utf8))
        // The mapper cannot overwrite the grant PTE with mmu_update, nor forge one.
        try a.pokeWords(page: 7, [a.domain.p2m[3] << 12 | 6 * 8, a.domain.p2m[10] << 12 | 0x27])
        #expect(a.call(1, a.va(page: 7), 1, 0, UInt64(DomainID.this)).rax == neg(22))
        try a.pokeWords(page: 7, [a.domain.p2m[3] << 12 | 5 * 8, a.domain.p2m[9] << 12 | 0x25 | PTE.grantMapping])
        #expect(a.call(1, a.va(page: 7), 1, 0, UInt64(DomainID.this)).rax == neg(22))

        #expect(try unmap(a, handle: handle) == 0)
        #expect(pte(a, page: 6) == 0)
        #expect(entryFlags(b, table: t, ref: 8) == L.permitAccess)
        #expect(try unmap(a, handle: handle) == GrantStatus.badHandle.rawValue)        // double unmap
    }

    @Test func theGrantersRulesHold() throws {
        let (b, a) = try pair()
        let t = try table(b)
        let other = try TinyGuest(hypervisor: b.hypervisor)
        grant(b, table: t, ref: 8, to: a.domain.id, page: 5, flags: L.permitAccess | L.readonly)
        grant(b, table: t, ref: 9, to: other.domain.id, page: 5)
        grant(b, table: t, ref: 10, to: a.domain.id, page: 5, flags: 0)
        grant(b, table: t, ref: 11, to: a.domain.id, page: -1)                 // its own L1 (pfn 3)
        let bd = b.domain.id
        #expect(try map(a, dom: bd, ref: 8).0 == GrantStatus.generalError.rawValue)          // write map of a r/o grant
        #expect(try map(a, dom: bd, ref: 9).0 == GrantStatus.generalError.rawValue)          // granted to someone else
        #expect(try map(a, dom: bd, ref: 10).0 == GrantStatus.generalError.rawValue)         // not (or no longer) granted
        #expect(try map(a, dom: bd, ref: 512).0 == GrantStatus.badGntref.rawValue)           // beyond the table
        #expect(try map(a, dom: 999, ref: 8).0 == GrantStatus.badDomain.rawValue)
        #expect(try map(a, dom: bd, ref: 8, flags: 0).0 == GrantStatus.badGntref.rawValue)   // neither host nor device map
        #expect(try map(a, dom: bd, ref: 11).0 == GrantStatus.generalError.rawValue)         // a page table, writable
        #expect(try map(a, dom: bd, ref: 8, hostAddress: 0xffff_8000_0000_0000).0 == GrantStatus.generalError.rawValue)
        #expect(try map(a, dom: bd, ref: 8, flags: L.mapHost | L.mapReadonly, hostAddress: 0x7000_0000_0000).0
                == GrantStatus.generalError.rawValue)                                         // no page table there
        #expect(entryFlags(b, table: t, ref: 8) == L.permitAccess | L.readonly)              // failures leave no trace
        let (ro, h) = try map(a, dom: bd, ref: 8, flags: L.mapHost | L.mapReadonly)
        #expect(ro == 0)
        #expect(pte(a, page: 6) & PTE.writable == 0)
        #expect(entryFlags(b, table: t, ref: 8) == L.permitAccess | L.readonly | L.reading)
        #expect(try unmap(a, handle: h, page: 5) == GrantStatus.generalError.rawValue)       // wrong host_addr
        #expect(try unmap(a, handle: h) == 0)
        #expect(try unmap(a, handle: 4000) == GrantStatus.badHandle.rawValue)
    }

    func copyOp(_ g: TinyGuest, source: (UInt64, UInt16, UInt16), dest: (UInt64, UInt16, UInt16), length: UInt16, flags: UInt16) throws -> Int16 {
        try g.pokeWords(page: 7, [source.0, UInt64(source.1) | UInt64(source.2) << 16, dest.0, UInt64(dest.1) | UInt64(dest.2) << 16,
                                  UInt64(length) | UInt64(flags) << 16])
        #expect(g.call(gnttab, GrantTableCommand.copy.rawValue, g.va(page: 7), 1).rax == 0)
        return Int16(truncatingIfNeeded: try g.peekWords(page: 7, offset: 32, count: 1)[0] >> 32)
    }

    @Test func copyChecksBothSides() throws {
        let (b, a) = try pair()
        let t = try table(b)
        let bd = b.domain.id, me = DomainID.this
        grant(b, table: t, ref: 8, to: a.domain.id, page: 5)
        grant(b, table: t, ref: 9, to: a.domain.id, page: 4, flags: L.permitAccess | L.readonly)
        try b.poke(page: 5, offset: 100, Array("copy me".utf8))
        let own = a.domain.p2m[4 + 2]
        #expect(try copyOp(a, source: (8, bd, 100), dest: (own, me, 0), length: 7, flags: L.copySourceGref) == 0)
        #expect(try a.peek(page: 2, count: 7) == Array("copy me".utf8))
        #expect(try copyOp(a, source: (own, me, 0), dest: (8, bd, 200), length: 7, flags: L.copyDestGref) == 0)
        #expect(try b.peek(page: 5, offset: 200, count: 7) == Array("copy me".utf8))
        #expect(try copyOp(a, source: (8, bd, 4000), dest: (own, me, 0), length: 100, flags: L.copySourceGref) == GrantStatus.badCopyArg.rawValue)
        #expect(try copyOp(a, source: (b.domain.p2m[5], bd, 0), dest: (own, me, 0), length: 8, flags: 0) == GrantStatus.permissionDenied.rawValue)
        #expect(try copyOp(a, source: (own, me, 0), dest: (9, bd, 0), length: 8, flags: L.copyDestGref) == GrantStatus.generalError.rawValue)
        #expect(try copyOp(a, source: (own, me, 0), dest: (a.domain.p2m[3], me, 0), length: 8, flags: 0) == GrantStatus.generalError.rawValue)
        #expect(entryFlags(b, table: t, ref: 8) == L.permitAccess)                 // a copy pins only while it runs
    }

    @Test func aGranterThatDiesLeavesItsMappedPageToTheMapperUntilUnmapped() throws {
        let (b, a) = try pair()
        let hv = a.hypervisor
        let t = try table(b)
        grant(b, table: t, ref: 8, to: a.domain.id, page: 5)
        try b.poke(page: 5, Array("still here".utf8))
        let (status, handle) = try map(a, dom: b.domain.id, ref: 8)
        #expect(status == 0)
        let freeBefore = hv.frames.freeFrames
        let pages = b.domain.nrPages + 2                   // its RAM, shared_info and one table frame
        hv.control.destroy(b.domain)
        #expect(b.domain.waitUntilFinished(seconds: 5))
        #expect(hv.frames.freeFrames == freeBefore + pages - 1)     // all but the page the mapper holds
        #expect(hv.orphanedFrames == 1)
        var read = [UInt8](repeating: 0, count: 10)
        try read.withUnsafeMutableBytes { try a.vcpu.addressSpace.copyFromGuest(a.va(page: 6), into: $0) }
        #expect(String(decoding: read, as: UTF8.self) == "still here")
        #expect(try unmap(a, handle: handle) == 0)
        #expect(hv.orphanedFrames == 0)
        #expect(hv.frames.freeFrames == freeBefore + pages)
    }

    @Test func aMapperThatDiesGivesItsPinsBack() throws {
        let (b, a) = try pair()
        let t = try table(b)
        grant(b, table: t, ref: 8, to: a.domain.id, page: 5)
        let frame = Int(b.domain.p2m[9])
        let maps = b.hypervisor.frames.pages.mapCount[frame]
        #expect(try map(a, dom: b.domain.id, ref: 8).0 == 0)
        #expect(b.hypervisor.frames.pages.mapCount[frame] == maps + 1)
        a.hypervisor.control.destroy(a.domain)
        #expect(a.domain.waitUntilFinished(seconds: 5))
        #expect(entryFlags(b, table: t, ref: 8) == L.permitAccess)
        #expect(b.hypervisor.frames.pages.mapCount[frame] == maps)
        #expect(b.hypervisor.frames.pages.typeCount[frame] == 1)       // only b's own writable mapping
    }
}
