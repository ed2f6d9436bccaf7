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
        #expect(d.memoryStats.balloonedOut == 2 && d.memoryStats.populated == 14 && d.memoryStats.pageTables == 4)
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

@Suite struct WritablePageTableTests {
    let t = MMUTests()

    /// A guest whose L1 (pfn 3) is also mapped read-only at VA 0x414000, with a #PF handler.
    func guest(assist: Bool) throws -> TinyGuest {
        let g = try TinyGuest(pages: 12)
        #expect(try t.update(g, [(g.domain.p2m[3] << 12 | 20 * 8, g.domain.p2m[3] << 12 | 0x25)]).0 == 0)
        try g.setTraps([(14, 0, 0x40_5000)])
        if assist { #expect(g.call(21, 0, 2).rax == 0) }                        // VMASST_TYPE_writable_pagetables
        return g
    }

    func fault(_ g: TinyGuest, code: [UInt8], slot: Int, regs: CPURegisters) -> TrapResult {
        try! g.poke(page: 0, offset: 0x100, code)
        let address = 0x41_4000 + UInt64(slot * 8)
        let frame = ExceptionFrame(vector: 14, errorCode: 7, rip: 0x40_0100, cs: 0xe033, rflags: 0x246, rsp: 0x40_3ff0, ss: 0xe02b)
        var r = regs
        r.rdi = address
        return g.domain.exception(g.vcpu, frame, cr2: address, registers: r)
    }

    @Test func aDirectPTEStoreIsValidatedAndApplied() throws {
        let g = try guest(assist: true)
        let page6 = g.domain.p2m[4 + 6]
        var regs = CPURegisters()
        regs.rax = page6 << 12 | 0x23                                            // P | RW | A (U is forced)
        guard case .resume(let r) = fault(g, code: [0x48, 0x89, 0x07], slot: 21, regs: regs) else { Issue.record("not emulated"); return }
        #expect(r.rip == 0x40_0103)
        #expect(try g.vcpu.addressSpace.translate(0x41_5000, write: true).get().mfn == page6)
        #expect(t.counts(g, page6) == (.writable, 2, 2))
        #expect(g.vcpu.pv.dirty.contains(.translations))
        // lock cmpxchg %rdx,(%rdi) with the right expected value clears it again, and sets ZF.
        regs.rax = page6 << 12 | 0x27
        regs.rdx = 0
        guard case .resume(let c) = fault(g, code: [0xf0, 0x48, 0x0f, 0xb1, 0x17], slot: 21, regs: regs) else { Issue.record("cmpxchg"); return }
        #expect(c.rip == 0x40_0105 && c.rflags & 0x40 != 0)
        #expect(t.counts(g, page6) == (.writable, 1, 1))
    }

    @Test func aBadEntryOrNoAssistIsAFaultForTheGuest() throws {
        var regs = CPURegisters()
        let g = try guest(assist: true)
        regs.rax = 0x7777 << 12 | 0x27                                           // a frame it does not own
        guard case .resume(let r) = fault(g, code: [0x48, 0x89, 0x07], slot: 21, regs: regs) else { return }
        #expect(r.rip == 0x40_5000)                                              // the #PF went to its handler
        regs.rax = g.domain.p2m[2] << 12 | 0x27                                  // its L2, writable
        guard case .resume(let q) = fault(g, code: [0x48, 0x89, 0x07], slot: 21, regs: regs) else { return }
        #expect(q.rip == 0x40_5000)
        let h = try guest(assist: false)
        regs.rax = h.domain.p2m[4 + 6] << 12 | 0x23
        guard case .resume(let s) = fault(h, code: [0x48, 0x89, 0x07], slot: 21, regs: regs) else { return }
        #expect(s.rip == 0x40_5000)
        #expect(h.domain.memory.readWord(mfn: h.domain.p2m[3], offset: 21 * 8) == 0)
    }

    @Test func storeDecoding() {
        let regs: (Int) -> UInt64 = { UInt64($0) * 0x100 }
        #expect(PageTableStore.decode([0x48, 0x89, 0x07], register: regs) == PageTableStore(kind: .move(0), size: 8, length: 3))
        #expect(PageTableStore.decode([0x4c, 0x89, 0x44, 0x24, 0x08], register: regs) == PageTableStore(kind: .move(0x800), size: 8, length: 5))
        #expect(PageTableStore.decode([0x89, 0x0d, 1, 2, 3, 4], register: regs) == PageTableStore(kind: .move(0x100), size: 4, length: 6))
        #expect(PageTableStore.decode([0x48, 0xc7, 0x00, 0xff, 0xff, 0xff, 0xff], register: regs) == PageTableStore(kind: .move(UInt64.max), size: 8, length: 7))
        #expect(PageTableStore.decode([0x48, 0x87, 0x1e], register: regs) == PageTableStore(kind: .exchange(register: 3), size: 8, length: 3))
        #expect(PageTableStore.decode([0xf0, 0x48, 0x0f, 0xb1, 0x17], register: regs) == PageTableStore(kind: .compareExchange(register: 2), size: 8, length: 5))
        #expect(PageTableStore.decode([0x48, 0x89, 0xc7], register: regs) == nil)          // register form
        #expect(PageTableStore.decode([0x48, 0x8b, 0x07], register: regs) == nil)          // a load
        #expect(PageTableStore.decode([0x48, 0x89], register: regs) == nil)                // truncated
    }
}

@Suite struct TrappedCR3Tests {
    let t = MMUTests()

    func movToCR3(_ g: TinyGuest, _ value: UInt64) -> TrapResult {
        try! g.poke(page: 0, offset: 0x100, [0x0f, 0x22, 0xd8])                  // mov %rax, %cr3
        var regs = CPURegisters()
        regs.rax = value
        let frame = ExceptionFrame(vector: 13, errorCode: 0, rip: 0x40_0100, cs: 0xe033, rflags: 0x246, rsp: 0x40_3ff0, ss: 0xe02b)
        return g.domain.exception(g.vcpu, frame, cr2: 0, registers: regs)
    }

    @Test func aTrappedMovToCR3IsValidatedLikeNewBasePointer() throws {
        let g = try TinyGuest(pages: 12, emulatePrivileged: true)
        try g.setTraps([(13, 0, 0x40_5000)])
        let d = g.domain
        let n = d.p2m[4 + 10]
        #expect(try t.update(g, [(d.p2m[3] << 12 | 10 * 8, 0)]).0 == 0)
        // Not pinned: refused, so the guest gets its #GP.
        guard case .resume(let refused) = movToCR3(g, n << 12) else { Issue.record("stopped"); return }
        #expect(refused.rip == 0x40_5000)
        #expect(g.vcpu.context.kernelL4 == d.p2m[0])
        // Pinned L4: the switch happens and the instruction is skipped.
        d.memory.writeWord(mfn: n, offset: 0, d.p2m[1] << 12 | 0x27)
        #expect(try t.ext(g, [(3, n)]) == 0)
        guard case .resume(let done) = movToCR3(g, n << 12) else { Issue.record("stopped"); return }
        #expect(done.rip == 0x40_0103)
        #expect(g.vcpu.context.kernelL4 == n && g.vcpu.pv.dirty.contains(.baseTable))
        // Without emulate mode `mov %cr3` is never emulated.
        let x = try TinyGuest(pages: 12)
        try x.setTraps([(13, 0, 0x40_5000)])
        guard case .resume(let plain) = movToCR3(x, x.domain.p2m[0] << 12) else { Issue.record("stopped"); return }
        #expect(plain.rip == 0x40_5000)
    }
}
