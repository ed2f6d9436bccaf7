import Dispatch
import HyperABI
import Testing
@testable import Hypervisor

@Suite struct EventChannelTests {
    /// Two domains in one hypervisor.
    func pair() throws -> (TinyGuest, TinyGuest) {
        let hv = try makeHypervisor()
        return (try TinyGuest(hypervisor: hv), try TinyGuest(hypervisor: hv))
    }

    func allocUnbound(_ g: TinyGuest, remote: UInt16) -> (rc: UInt64, port: UInt32) {
        try! g.pokeWords(page: 6, [UInt64(DomainID.this) | UInt64(remote) << 16])
        let rc = g.call(32, 6, g.va(page: 6)).rax
        return (rc, UInt32(truncatingIfNeeded: try! g.peekWords(page: 6, count: 1)[0] >> 32))
    }

    func bindInterdomain(_ g: TinyGuest, remote: UInt16, port: UInt32) -> (rc: UInt64, port: UInt32) {
        try! g.pokeWords(page: 6, [UInt64(remote) | UInt64(port) << 32, 0])
        let rc = g.call(32, 0, g.va(page: 6)).rax
        return (rc, UInt32(truncatingIfNeeded: try! g.peekWords(page: 6, offset: 8, count: 1)[0]))
    }

    func pending(_ g: TinyGuest, _ port: UInt32) -> Bool {
        g.domain.memory.testBit(mfn: g.domain.sharedInfoMFN, offset: SharedInfoLayout.evtchnPending + Int(port / 64) * 8, bit: Int(port % 64))
    }

    func clearPending(_ g: TinyGuest, _ port: UInt32) {
        g.domain.memory.testAndClearBit(mfn: g.domain.sharedInfoMFN, offset: SharedInfoLayout.evtchnPending + Int(port / 64) * 8, bit: Int(port % 64))
        g.domain.memory.storeByte(mfn: g.domain.sharedInfoMFN, offset: VCPUInfoLayout.upcallPending, 0)
        g.domain.memory.writeWord(mfn: g.domain.sharedInfoMFN, offset: VCPUInfoLayout.pendingSel, 0)
    }

    func sendCall(_ g: TinyGuest, _ port: UInt32) -> UInt64 {
        try! g.poke(page: 5, [UInt8(port & 0xff), UInt8(port >> 8), 0, 0])
        return g.call(32, 4, g.va(page: 5)).rax
    }

    @Test func interdomainChannelDeliversBothWays() throws {
        let (a, b) = try pair()
        let (rc, serverPort) = allocUnbound(a, remote: b.domain.id)
        #expect(rc == 0 && serverPort == 1)
        let (rc2, clientPort) = bindInterdomain(b, remote: a.domain.id, port: serverPort)
        #expect(rc2 == 0 && clientPort == 1)
        #expect(pending(b, clientPort))                   // Xen marks a freshly bound port pending
        clearPending(b, clientPort)

        #expect(sendCall(b, clientPort) == 0)
        #expect(pending(a, serverPort))
        #expect(a.vcpuInfoByte(0) == 1)                   // evtchn_upcall_pending
        #expect(sendCall(a, serverPort) == 0)
        #expect(pending(b, clientPort))

        // status: interdomain to (b, clientPort)
        try a.pokeWords(page: 6, [UInt64(DomainID.this) | UInt64(serverPort) << 32, 0, 0])
        #expect(a.call(32, 5, a.va(page: 6)).rax == 0)
        let st = try a.peekWords(page: 6, count: 3)
        #expect(UInt32(truncatingIfNeeded: st[1]) == EventChannelStatus.interdomain.rawValue)
        #expect(UInt16(truncatingIfNeeded: st[2]) == b.domain.id && UInt32(truncatingIfNeeded: st[2] >> 32) == clientPort)
    }

    @Test func masksHoldEventsUntilUnmask() throws {
        let (a, b) = try pair()
        let (_, sp) = allocUnbound(a, remote: b.domain.id)
        let (_, cp) = bindInterdomain(b, remote: a.domain.id, port: sp)
        a.domain.memory.testAndSetBit(mfn: a.domain.sharedInfoMFN, offset: SharedInfoLayout.evtchnMask, bit: Int(sp))
        #expect(sendCall(b, cp) == 0)
        #expect(pending(a, sp))
        #expect(a.vcpuInfoByte(0) == 0)                   // masked: no upcall
        try a.poke(page: 5, [UInt8(sp), 0, 0, 0])
        #expect(a.call(32, 9, a.va(page: 5)).rax == 0)    // EVTCHNOP_unmask re-raises
        #expect(a.vcpuInfoByte(0) == 1)
    }

    @Test func permissionsAndBadPortsAreRefused() throws {
        let (a, b) = try pair()
        let hv = a.hypervisor
        let c = try TinyGuest(hypervisor: hv)
        let (_, sp) = allocUnbound(a, remote: b.domain.id)
        #expect(bindInterdomain(c, remote: a.domain.id, port: sp).rc == neg(22))     // not offered to c
        #expect(bindInterdomain(c, remote: 999, port: 1).rc == neg(3))               // ESRCH
        #expect(bindInterdomain(c, remote: a.domain.id, port: 77).rc == neg(22))
        try c.pokeWords(page: 6, [UInt64(a.domain.id) | UInt64(c.domain.id) << 16])
        #expect(c.call(32, 6, c.va(page: 6)).rax == neg(1))                          // alloc for someone else: EPERM
        #expect(sendCall(c, 0) == neg(22))
        #expect(sendCall(c, 50) == neg(22))
        try c.poke(page: 6, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        #expect(c.call(32, 1, c.va(page: 6)).rax == 0)                               // bind_virq TIMER
        #expect(c.call(32, 1, c.va(page: 6)).rax == neg(17))                         // twice: EEXIST
        try c.poke(page: 6, [3, 0, 0, 0, 0, 0, 0, 0])
        #expect(c.call(32, 1, c.va(page: 6)).rax == neg(1))                          // DOM_EXC: Dom0's
        try c.poke(page: 6, [2, 0, 0, 0, 1, 0, 0, 0])
        #expect(c.call(32, 1, c.va(page: 6)).rax == neg(2))                          // no vcpu 1
        for fifo: UInt64 in [11, 12, 13, 99] { #expect(c.call(32, fifo, c.va(page: 6)).rax == neg(38)) }
        #expect(c.call(32, 4, 0).rax == neg(14))
    }

    @Test func closingTellsThePeerAndDeathClosesEverything() throws {
        let (a, b) = try pair()
        let (_, sp) = allocUnbound(a, remote: b.domain.id)
        let (_, cp) = bindInterdomain(b, remote: a.domain.id, port: sp)
        clearPending(b, cp)
        try a.poke(page: 5, [UInt8(sp), 0, 0, 0])
        #expect(a.call(32, 3, a.va(page: 5)).rax == 0)                               // close
        #expect(pending(b, cp))                                                      // the peer is told
        #expect(b.domain.events.withLock { $0.binding(cp) } == .unbound(remote: a.domain.id))
        #expect(a.call(32, 3, a.va(page: 5)).rax == neg(22))                         // closing twice

        // Death: b's ports close and a's end reverts (here: a binds to b again, then b dies).
        let (_, p2) = allocUnbound(b, remote: a.domain.id)
        let (_, q2) = bindInterdomain(a, remote: b.domain.id, port: p2)
        clearPending(a, q2)
        b.hypervisor.control.destroy(b.domain)
        #expect(pending(a, q2))
        #expect(a.domain.events.withLock { $0.binding(q2) } == .unbound(remote: b.domain.id))
        #expect(sendCall(a, q2) == 0)                                                // to nobody: dropped
    }

    @Test func blockReturnsAtOnceWhenPendingAndWakesOnSend() throws {
        let (a, b) = try pair()
        let (_, sp) = allocUnbound(a, remote: b.domain.id)
        let (_, cp) = bindInterdomain(b, remote: a.domain.id, port: sp)
        a.domain.markUpcallPending(a.vcpu)
        #expect(a.call(29, 1).rax == 0)                    // pending already: no sleep
        clearPending(a, sp)
        a.vcpu.setEventsMasked(true)
        let woke = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            _ = a.call(29, 1)
            woke.signal()
        }
        #expect(woke.wait(timeout: .now() + 0.2) == .timedOut)   // really asleep
        #expect(sendCall(b, cp) == 0)
        #expect(woke.wait(timeout: .now() + 5) == .success)
        #expect(a.vcpuInfoByte(1) == 0)                          // block enabled events
    }

    @Test func timersRaiseVIRQTimer() throws {
        let g = try TinyGuest()
        try g.poke(page: 6, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        #expect(g.call(32, 1, g.va(page: 6)).rax == 0)
        let port = UInt32(truncatingIfNeeded: try g.peekWords(page: 6, offset: 8, count: 1)[0])
        let start = g.domain.systemTime()
        #expect(g.call(15, start + 20_000_000).rax == 0)          // set_timer_op: 20 ms from now
        let t0 = monotonicNanos()
        let woke = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { _ = g.call(29, 1); woke.signal() }
        #expect(woke.wait(timeout: .now() + 5) == .success)
        let slept = monotonicNanos() - t0
        #expect(slept >= 15_000_000)
        #expect(g.domain.memory.testBit(mfn: g.domain.sharedInfoMFN, offset: SharedInfoLayout.evtchnPending, bit: Int(port)))
        // Periodic: at least 3 ticks in 60 ms at 10 ms.
        try g.pokeWords(page: 6, [10_000_000])
        #expect(g.call(24, 6, 0, g.va(page: 6)).rax == 0)
        try g.pokeWords(page: 6, [1000])
        #expect(g.call(24, 6, 0, g.va(page: 6)).rax == neg(22))   // below 1 ms
        #expect(g.call(24, 7, 0).rax == 0)
    }

    @Test func updateVAMappingMapsSharedInfoButNotPageTables() throws {
        let g = try TinyGuest()
        let si = g.domain.sharedInfoMFN
        #expect(g.call(14, g.va(page: 2), si << 12 | 3, 2).rax == 0)
        #expect(g.vcpu.pv.dirty.contains(.translations))
        let t = try g.vcpu.addressSpace.translate(g.va(page: 2), write: true).get()
        #expect(t.mfn == si)
        let l1 = g.domain.p2m[3]
        #expect(g.call(14, g.va(page: 3), l1 << 12 | 3, 2).rax == neg(22))      // a page table, writable
        #expect(g.call(14, g.va(page: 3), l1 << 12 | 1, 2).rax == 0)            // read-only is fine
        let other = try g.hypervisor.control.createDomain(name: "other", pages: 4)
        #expect(g.call(14, g.va(page: 4), other.p2m[0] << 12 | 3, 2).rax == neg(22))   // not ours
        #expect(g.call(14, g.va(page: 4), g.domain.p2m[8] << 12 | 0x13, 2).rax == neg(22))  // PCD
        #expect(g.call(14, 0x7000_0000, g.domain.p2m[8] << 12 | 3, 2).rax == neg(22))    // no L1 there
        #expect(g.call(14, g.va(page: 4), 0, 2).rax == 0)                        // unmap
    }

    @Test func registerVCPUInfoMovesIt() throws {
        let g = try TinyGuest()
        g.vcpu.setEventsMasked(false)
        let target = g.domain.p2m[9]
        try g.pokeWords(page: 6, [target, 64])
        #expect(g.call(24, 10, 0, g.va(page: 6)).rax == 0)
        #expect(g.vcpu.vcpuInfo.mfn == target && g.vcpu.vcpuInfo.offset == 64)
        #expect(g.vcpu.pv.dirty.contains(.timeArea))
        #expect(g.call(24, 10, 0, g.va(page: 6)).rax == neg(16))               // once only
        let h = try TinyGuest()
        try h.pokeWords(page: 6, [h.domain.p2m[0], 0])
        #expect(h.call(24, 10, 0, h.va(page: 6)).rax == neg(22))               // not into a page table
        try h.pokeWords(page: 6, [h.domain.p2m[9], 4090])
        #expect(h.call(24, 10, 0, h.va(page: 6)).rax == neg(22))               // crosses the page
    }
}

@Suite struct EventStressTests {
    /// Block/wake/mask races: a receiver blocks, clears what it got (as a guest's upcall handler would),
    /// masks and unmasks around it; a sender fires as soon as it is acknowledged. A single lost wake-up
    /// leaves the receiver asleep and the test fails on its deadline.
    @Test func noEventIsLostAcrossBlockWakeAndMask() throws {
        let t = EventChannelTests()
        let (a, b) = try t.pair()
        let (_, sp) = t.allocUnbound(a, remote: b.domain.id)
        let (_, cp) = t.bindInterdomain(b, remote: a.domain.id, port: sp)
        t.clearPending(a, sp)
        let rounds = 2000
        let received = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            for _ in 0..<rounds {
                while !t.pending(a, sp) {
                    a.vcpu.setEventsMasked(true)          // "cli" between checks, as a guest does
                    _ = a.call(29, 1)                     // block: unmasks, sleeps unless pending
                }
                t.clearPending(a, sp)
                received.signal()
            }
            done.signal()
        }
        for i in 0..<rounds {
            #expect(t.sendCall(b, cp) == 0)
            guard received.wait(timeout: .now() + 5) == .success else {
                Issue.record("event \(i) was lost")
                a.hypervisor.control.destroy(a.domain)    // wakes the receiver so the test can end
                return
            }
        }
        #expect(done.wait(timeout: .now() + 5) == .success)
    }
}
