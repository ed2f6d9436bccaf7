import HyperABI
import Testing
@testable import Hypervisor

/// The PV MMU: page types, reference counts and validation, as Xen keeps them.
@Suite struct MMUTests {
    let selfDom = UInt64(DomainID.this)

    /// mmu_update with the requests (ptr, val); returns (rc, pdone).
    func update(_ g: TinyGuest, _ reqs: [(UInt64, UInt64)]) throws -> (UInt64, UInt64) {
        try g.pokeWords(page: 6, reqs.flatMap { [$0.0, $0.1] })
        let rc = g.call(1, g.va(page: 6), UInt64(reqs.count), g.va(page: 7, offset: 2048), selfDom).rax
        return (rc, try g.peekWords(page: 7, offset: 2048, count: 1)[0] & 0xffff_ffff)
    }

    /// mmuext_op with (cmd, arg1) operations.
    func ext(_ g: TinyGuest, _ ops: [(UInt64, UInt64)]) throws -> UInt64 {
        try g.pokeWords(page: 6, ops.flatMap { [$0.0, $0.1, 0] })
        return g.call(26, g.va(page: 6), UInt64(ops.count), 0, selfDom).rax
    }

    func counts(_ g: TinyGuest, _ mfn: UInt64) -> (PageType, UInt32, UInt32) {
        let p = g.hypervisor.frames.pages
        return (PageType(rawValue: p.type[Int(mfn)])!, p.typeCount[Int(mfn)], p.mapCount[Int(mfn)])
    }

    @Test func theBuildersTablesAreTypedAndPinned() throws {
        let g = try TinyGuest()
        let d = g.domain
        #expect(counts(g, d.p2m[0]).0 == .l4 && counts(g, d.p2m[0]).1 == 2)   // pin + base pointer
        #expect(counts(g, d.p2m[1]).0 == .l3 && counts(g, d.p2m[2]).0 == .l2 && counts(g, d.p2m[3]).0 == .l1)
        #expect(counts(g, d.p2m[5]) == (.writable, 1, 1))                      // mapped writable once
        #expect(g.hypervisor.frames.pages.pinned[Int(d.p2m[0])])
    }

    @Test func mapAndUnmapKeepCountsExact() throws {
        let g = try TinyGuest(pages: 8)
        let l1 = g.domain.p2m[3], data = g.domain.p2m[4 + 6]
        // Map page 6's frame a second time, read-only, at slot 20 (VA 0x414000); then unmap it.
        var (rc, done) = try update(g, [(l1 << 12 | 20 * 8, data << 12 | 0x25)])
        #expect(rc == 0 && done == 1)
        #expect(counts(g, data) == (.writable, 1, 2))
        #expect(try g.vcpu.addressSpace.translate(0x41_4000, write: false).get().mfn == data)
        #expect(g.vcpu.pv.dirty.contains(.translations))
        (rc, done) = try update(g, [(l1 << 12 | 20 * 8, 0)])
        #expect(rc == 0 && counts(g, data) == (.writable, 1, 1))
    }

    @Test func pageTablesNeverMapWritableAndForeignFramesNever() throws {
        let g = try TinyGuest(pages: 8)
        let l1 = g.domain.p2m[3]
        let other = try g.hypervisor.control.createDomain(name: "other", pages: 4)
        let bads: [UInt64] = [g.domain.p2m[2] << 12 | 0x27,        // its own L2, writable
                              other.p2m[0] << 12 | 0x25,           // another domain's frame
                              0x25,                                // the M2P's first frame (the hypervisor's)
                              g.domain.p2m[5] << 12 | 0x35,        // PCD
                              g.domain.p2m[5] << 12 | 0x27 | (1 << 50),   // reserved address bits
                              0x1000]                              // non-present but not zero
        for bad in bads {
            let (rc, done) = try update(g, [(l1 << 12 | 21 * 8, bad)])
            #expect(rc == neg(22), "entry 0x\(String(bad, radix: 16))")
            #expect(done == 0)
        }
        #expect(try update(g, [(l1 << 12 | 21 * 8, g.domain.p2m[2] << 12 | 0x25)]).0 == 0)   // read-only is fine
        #expect(counts(g, g.domain.p2m[2]).0 == .l2)
        // No direct hypercall write into the hypervisor's L4 slots; no superpages.
        #expect(try update(g, [(g.domain.p2m[0] << 12 | 256 * 8, 0)]).0 == neg(22))
        #expect(try update(g, [(g.domain.p2m[2] << 12 | 9 * 8, g.domain.p2m[9] << 12 | 0xa7)]).0 == neg(22))
        // An update into a frame of another domain.
        #expect(try update(g, [(other.p2m[1] << 12, 0)]).0 == neg(22))
    }

    @Test func pinningValidatesRecursivelyAndLeaksNothingWhenItFails() throws {
        let g = try TinyGuest(pages: 12)
        let d = g.domain
        let good = d.p2m[4 + 8], bad = d.p2m[4 + 9]      // two data pages used as new tables
        // Unmap them first (a table may not be mapped writable), then fill: `good` an L1 with one
        // valid entry, `bad` an L2 whose entry 0 points at `good`, entry 1 at a foreign frame.
        #expect(try update(g, [(d.p2m[3] << 12 | 8 * 8, 0), (d.p2m[3] << 12 | 9 * 8, 0)]).0 == 0)
        d.memory.writeWord(mfn: good, offset: 0, d.p2m[4 + 7] << 12 | 0x27)
        d.memory.writeWord(mfn: bad, offset: 0, good << 12 | 0x27)
        d.memory.writeWord(mfn: bad, offset: 8, 0x7777 << 12 | 0x27)
        let before7 = counts(g, d.p2m[4 + 7])
        #expect(try ext(g, [(1, bad)]) == neg(22))        // PIN_L2 fails on the second entry …
        #expect(counts(g, good) == (.none, 0, 0))         // … and the L1 it had typed is untyped again
        #expect(counts(g, bad) == (.none, 0, 0))
        #expect(counts(g, d.p2m[4 + 7]) == before7)        // no reference leaked
        d.memory.writeWord(mfn: bad, offset: 8, 0)
        #expect(try ext(g, [(1, bad)]) == 0)              // now it validates
        #expect(counts(g, good) == (.l1, 1, 0))
        #expect(try ext(g, [(1, bad)]) == neg(22))        // pinned twice
        #expect(try ext(g, [(4, bad)]) == 0)              // unpin drops everything
        #expect(counts(g, good) == (.none, 0, 0) && counts(g, bad) == (.none, 0, 0))
        #expect(try ext(g, [(4, bad)]) == neg(22))
    }

    @Test func oneFrameCannotBeTwoLevelsNorMapItself() throws {
        let g = try TinyGuest(pages: 12)
        let d = g.domain
        let x = d.p2m[4 + 8]
        #expect(try update(g, [(d.p2m[3] << 12 | 8 * 8, 0)]).0 == 0)
        #expect(try ext(g, [(0, x)]) == 0)                                        // pinned as an L1
        #expect(try update(g, [(d.p2m[1] << 12 | 5 * 8, x << 12 | 0x27)]).0 == neg(22))   // as an L2 under the L3: no
        // An L2 whose entry points at itself would need it as an L1 too: refused (no linear tables).
        let y = d.p2m[4 + 9]
        #expect(try update(g, [(d.p2m[3] << 12 | 9 * 8, 0)]).0 == 0)
        d.memory.writeWord(mfn: y, offset: 0, y << 12 | 0x25)
        #expect(try ext(g, [(1, y)]) == neg(22))
        #expect(counts(g, y) == (.none, 0, 0))
    }

    @Test func newBasePointerOnlyToAPinnedL4() throws {
        let g = try TinyGuest(pages: 12)
        let d = g.domain
        let n = d.p2m[4 + 10]
        #expect(try update(g, [(d.p2m[3] << 12 | 10 * 8, 0)]).0 == 0)
        #expect(try ext(g, [(5, n)]) == neg(22))                                  // not pinned
        // A new L4 sharing the kernel's L3: copy slot 0, pin, switch, switch back.
        d.memory.writeWord(mfn: n, offset: 0, d.p2m[1] << 12 | 0x27)
        #expect(try ext(g, [(3, n)]) == 0)
        #expect(counts(g, d.p2m[1]).1 == 2)                                       // the L3 is now referenced twice
        #expect(d.memory.readWord(mfn: n, offset: 257 * 8) != 0)                 // the hypervisor's slots went in
        let old = d.p2m[0]
        #expect(try ext(g, [(5, n)]) == 0)
        #expect(g.vcpu.context.kernelL4 == n && g.vcpu.pv.dirty.contains(.baseTable))
        #expect(counts(g, old).1 == 1 && counts(g, n).1 == 2)
        #expect(try ext(g, [(5, old)]) == 0)
        #expect(try ext(g, [(4, n)]) == 0)                                        // unpin: the L3 goes back to one reference
        #expect(counts(g, d.p2m[1]).1 == 1)
    }

    @Test func countsAndPointersAreChecked() throws {
        let g = try TinyGuest()
        #expect(g.call(1, 0, 1, 0, selfDom).rax == neg(14))
        #expect(g.call(1, g.va(page: 6), 0x7fff_ffff, 0, selfDom).rax == neg(22))
        #expect(g.call(26, g.va(page: 6), 0x7fff_ffff, 0, selfDom).rax == neg(22))
        #expect(g.call(1, g.va(page: 6), 1, 0, 0).rax == neg(1))                  // foreign domain 0
        try g.pokeWords(page: 6, [g.domain.p2m[3] << 12 | 7, 0])                  // command 7
        #expect(g.call(1, g.va(page: 6), 1, 0, selfDom).rax == neg(38))
        try g.pokeWords(page: 6, [19, 0, 0])
        #expect(g.call(26, g.va(page: 6), 1, 0, selfDom).rax == neg(95))         // MARK_SUPER
        // A batch stops at the first failure; pdone says how many went through.
        let (rc, done) = try update(g, [(g.domain.p2m[3] << 12 | 30 * 8, 0), (0x7777 << 12, 0), (g.domain.p2m[3] << 12 | 31 * 8, 0)])
        #expect(rc == neg(22) && done == 1)
    }

    @Test func ballooningReturnsFramesAndRespectsMaxmem() throws {
        let hv = try makeHypervisor()
        let g = try TinyGuest(pages: 12, hypervisor: hv)
        let d = g.domain
        let free = hv.frames.freeFrames
        // decrease_reservation of page 10's frame after unmapping it.
        let mfn = d.p2m[4 + 10]
        #expect(try update(g, [(d.p2m[3] << 12 | 10 * 8, 0)]).0 == 0)
        try g.pokeWords(page: 5, [mfn])
        try g.pokeWords(page: 7, [g.va(page: 5), 1, 0, selfDom])                 // extent_start, nr, order 0, domid
        #expect(g.call(12, 1, g.va(page: 7)).rax == 1)
        #expect(hv.frames.freeFrames == free + 1)
        #expect(d.mfn(forPFN: 14) == nil)
        #expect(hv.frames.m2p(mfn) == PVLayout.invalidM2PEntry)
        #expect((d.virtualMachine as? FakeVM)?.unmapped == [mfn])
        // A still-mapped frame leaves the P2M at once and is freed when its last mapping goes.
        let mapped = d.p2m[4 + 9]
        try g.pokeWords(page: 5, [mapped])
        #expect(g.call(12, 1, g.va(page: 7)).rax == 1)
        #expect(hv.frames.freeFrames == free + 1)
        #expect(try update(g, [(d.p2m[3] << 12 | 9 * 8, 0)]).0 == 0)
        #expect(hv.frames.freeFrames == free + 2)
        // current / maximum reservation.
        try g.pokeWords(page: 5, [selfDom])
        #expect(g.call(12, 3, g.va(page: 5)).rax == UInt64(16 - 2))
        #expect(g.call(12, 4, g.va(page: 5)).rax == 16)
        // populate_physmap at PFN 14 (empty again): an MFN comes back; up to maxmem only.
        try g.pokeWords(page: 5, [14, 15])
        try g.pokeWords(page: 7, [g.va(page: 5), 2, 0, selfDom])
        #expect(g.call(12, 6, g.va(page: 7)).rax == 1)                           // PFN 15 is still populated
        let fresh = try g.peekWords(page: 5, count: 1)[0]
        #expect(d.mfn(forPFN: 14) == fresh && hv.frames.m2p(fresh) == 14)
        try g.pokeWords(page: 5, [0, 0, 0])
        try g.pokeWords(page: 7, [g.va(page: 5), 3, 0, selfDom])
        #expect(g.call(12, 0, g.va(page: 7)).rax == 1)                           // increase: one more fits (maxmem 16)
        // Pinned tables, shared_info and foreign frames cannot be given back.
        for bad: UInt64 in [d.p2m[0], d.sharedInfoMFN, 0x7777] {
            try g.pokeWords(page: 5, [bad])
            try g.pokeWords(page: 7, [g.va(page: 5), 1, 0, selfDom])
            #expect(g.call(12, 1, g.va(page: 7)).rax == 0, "gave back 0x\(String(bad, radix: 16))")
        }
    }
}
