import HyperABI
import Testing
@testable import Hypervisor

@Suite struct HypercallTests {
    @Test func returnsLikeSysretWithIFForcedOn() throws {
        let g = try TinyGuest()
        var r = CPURegisters()
        r.rax = Hypercall.xenVersion.rawValue
        r.rcx = 0x40_5678
        r.r11 = 0x3246 | 0x4000 | 0x100   // IOPL 3, NT, TF; IF clear
        r.r11 &= ~0x200
        let action = g.domain.hypercall(g.vcpu, &r)
        guard case .resume = action else { Issue.record("expected resume"); return }
        #expect(r.rip == 0x40_5678)
        #expect(r.rflags & 0x200 != 0)          // IF forced on
        #expect(r.rflags & 0x3000 == 0)         // IOPL cleared
        #expect(r.rflags & 0x4000 == 0)         // NT cleared
        #expect(r.rflags & 0x100 != 0)          // other flags kept
    }

    @Test func unknownHypercallsAreENOSYS() throws {
        let g = try TinyGuest()
        for nr: UInt64 in [11, 43, 56, 63, 64, 127, 1000, 0x1_0000_0011, UInt64.max] {
            #expect(g.call(nr).rax == neg(38), "hypercall \(nr)")
        }
        let counts = g.vcpu.hypercallCounts
        #expect(counts.first { $0.number == 11 }?.count == 1)
        #expect(counts.first { $0.number == nil }?.count == 5)    // ≥ 64 share one bucket
    }

    @Test func xenVersionAnswersEverySubop() throws {
        let g = try TinyGuest()
        let buf = g.va(page: 1)
        #expect(g.call(17, 0).rax == 0x4_0013)
        #expect(g.call(17, 7).rax == 4096)
        #expect(g.call(17, 1, buf).rax == 0)
        #expect(try g.peek(page: 1, count: 12) == Array(".0-swiftxen".utf8) + [0])
        #expect(g.call(17, 3, buf).rax == 0)
        #expect(try g.peek(page: 1, count: 15) == Array("xen-3.0-x86_64".utf8) + [0])
        #expect(g.call(17, 2, buf).rax == 0)
        #expect(try g.peek(page: 1, count: 10) == Array("swiftc 6.3".utf8))
        #expect(g.call(17, 5, buf).rax == 0)
        #expect(try g.peek(page: 1, count: 8) == [0, 0, 0, 0, 0, 0x80, 0xff, 0xff])
        try g.poke(page: 1, [0, 0, 0, 0, 0xaa, 0xaa, 0xaa, 0xaa])
        #expect(g.call(17, 6, buf).rax == 0)
        #expect(try g.peek(page: 1, count: 8) == [0, 0, 0, 0, 0, 0, 0, 0])
        try g.poke(page: 1, [1, 0, 0, 0])
        #expect(g.call(17, 6, buf).rax == neg(22))                            // only submap 0 exists
        #expect(g.call(17, 8, buf).rax == 0)
        #expect(try g.peek(page: 1, count: 16) == g.domain.handle)
        #expect(g.call(17, 4, buf).rax == 0)
        #expect(g.call(17, 99, buf).rax == neg(38))
    }

    @Test func badPointersAreEFAULTAndChangeNothing() throws {
        let g = try TinyGuest(pages: 4, readOnly: [2])
        #expect(g.call(17, 1, 0).rax == neg(14))
        #expect(g.call(17, 2, g.va(page: 2)).rax == neg(14))                     // read-only page
        #expect(g.call(17, 2, g.va(page: 1, offset: 4000)).rax == neg(14))       // runs into the read-only page
        #expect(try g.peek(page: 1, offset: 4000, count: 96) == [UInt8](repeating: 0, count: 96))
        #expect(g.call(17, 6, g.va(page: 9)).rax == neg(14))
        #expect(g.call(17, 1, PVLayout.machphysVirtStart).rax == neg(14))        // the hypervisor's range
        #expect(g.call(18, 0, 16, 0x8000_0000_0000_0000).rax == neg(14))
        #expect(g.call(29, 2, 0).rax == neg(14))
        #expect(g.domain.state == .created)
    }

    @Test func consoleWriteAndRead() throws {
        let g = try TinyGuest(pages: 4)
        let text = Array("hello from the guest\n".utf8)
        try g.poke(page: 0, text)
        #expect(g.call(18, 0, UInt64(text.count), g.va(page: 0)).rax == 0)
        #expect(g.domain.console.text == "hello from the guest\n")
        // A write longer than the scratch page, across pages, arrives whole and in order.
        let long = (0..<6000).map { UInt8(97 + $0 % 26) }
        try g.poke(page: 1, Array(long[0..<4096]))
        try g.poke(page: 2, Array(long[4096...]))
        #expect(g.call(18, 0, 6000, g.va(page: 1)).rax == 0)
        #expect(Array(g.domain.console.log.suffix(6000)) == long)
        #expect(g.call(18, 0, UInt64(bitPattern: -1), g.va(page: 0)).rax == neg(22))
        #expect(g.call(18, 99, 1, g.va(page: 0)).rax == neg(38))

        #expect(g.call(18, 1, 16, g.va(page: 3)).rax == 0)           // no input pending
        g.domain.console.input(Array("typed".utf8))
        #expect(g.call(18, 1, 3, g.va(page: 3)).rax == 3)
        #expect(try g.peek(page: 3, count: 3) == Array("typ".utf8))
        #expect(g.call(18, 1, 16, g.va(page: 3)).rax == 2)
        #expect(try g.peek(page: 3, count: 2) == Array("ed".utf8))
    }

    @Test func schedOpShutdownEndsTheDomainWithItsReason() throws {
        for reason in ShutdownReason.allCases {
            let g = try TinyGuest()
            try g.poke(page: 0, [UInt8(reason.rawValue), 0, 0, 0])
            #expect(g.call(29, 0).rax == 0)                      // yield
            let r = g.call(29, 2, g.va(page: 0))
            #expect(r.rax == 0)
            guard case .stop = r.action else { Issue.record("shutdown must stop the vCPU"); continue }
            #expect(g.domain.state == .shutdown(reason))
        }
        let g = try TinyGuest()
        try g.poke(page: 0, [99, 0, 0, 0])
        #expect(g.call(29, 2, g.va(page: 0)).rax == neg(22))
        #expect(g.call(29, 99).rax == neg(38))
        #expect(g.domain.state == .created)
    }

    @Test func priorityHintRefusesGarbage() throws {
        let g = try TinyGuest()
        try g.poke(page: 0, [1, 0, 0, 0])
        #expect(g.call(29, 0x1000, g.va(page: 0)).rax == 0)          // background on
        try g.poke(page: 0, [0, 0, 0, 0])
        #expect(g.call(29, 0x1000, g.va(page: 0)).rax == 0)          // and off
        try g.poke(page: 0, [2, 0, 0, 0])
        #expect(g.call(29, 0x1000, g.va(page: 0)).rax == neg(22))    // neither 0 nor 1
        #expect(g.call(29, 0x1000, 0).rax == neg(14))                // NULL
        #expect(g.call(29, 0x1001).rax == neg(38))                   // the rest of the private range
        #expect(g.domain.state == .created)
    }

    @Test func schedulerParametersOutsideXensRangesAreRefused() throws {
        let g = try TinyGuest()
        let control = g.hypervisor.control
        for (weight, cap) in [(0, 0), (65536, 0), (256, -1), (256, 101)] as [(Int, Int)] {
            #expect(throws: HypervisorError.self) { try control.setSchedulerCredit(g.domain, weight: weight, cap: cap) }
        }
        #expect(control.schedulerCredit(g.domain) == (256, 0))         // nothing changed
        try control.setSchedulerCredit(g.domain, weight: 65535, cap: 100)
        #expect(control.schedulerCredit(g.domain) == (65535, 100))
    }

    @Test func exceptionsEndTheDomainWithAReport() throws {
        let g = try TinyGuest()
        var regs = CPURegisters()
        regs.rax = 0x1234
        let frame = ExceptionFrame(vector: 14, errorCode: 6, rip: 0x40_0042, cs: 0xe033, rflags: 0x10246, rsp: 0x40_3000, ss: 0xe02b)
        guard case .stop = g.domain.exception(g.vcpu, frame, cr2: 0xdead_0000, registers: regs) else {
            Issue.record("an unhandled exception must stop the vCPU"); return
        }
        let report = try #require(g.domain.crashReport)
        #expect(report.summary.contains("#PF"))
        #expect(report.summary.contains("0x400042"))
        #expect(report.summary.contains("cr2 0xdead0000"))
        #expect(report.registers.rip == 0x40_0042)
        #expect(report.registers.rax == 0x1234)
        if case .crashed = g.domain.state {} else { Issue.record("state is \(g.domain.state)") }

        let h = try TinyGuest()
        let nested = ExceptionFrame(vector: 14, errorCode: 2, rip: 0xffff_8080_0000_1000, cs: 0xe008, rflags: 2, rsp: 0, ss: 0)
        _ = h.domain.exception(h.vcpu, nested, cr2: 0, registers: CPURegisters())
        #expect(h.domain.crashReport?.summary.contains("fault while delivering an exception") == true)
    }
}
