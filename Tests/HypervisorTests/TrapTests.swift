import HyperABI
import Testing
@testable import Hypervisor

@Suite struct TrapTests {
    /// A #UD at 0x400100 with the guest stack at the top of page 3.
    func frame(_ vector: UInt8, error: UInt64 = 0, rip: UInt64 = 0x40_0100, rsp: UInt64 = 0x40_4000 - 8, rflags: UInt64 = 0x246) -> ExceptionFrame {
        ExceptionFrame(vector: vector, errorCode: error, rip: rip, cs: 0xe033, rflags: rflags, rsp: rsp, ss: 0xe02b)
    }

    @Test func exceptionsBounceWithXensFrame() throws {
        let g = try TinyGuest()
        try g.setTraps([(6, 0, 0x40_5000), (14, 4, 0x40_6000)])
        var regs = CPURegisters()
        regs.rcx = 0x1111; regs.r11 = 0x2222; regs.rax = 7
        g.vcpu.setEventsMasked(false)
        guard case .resume(let r) = g.domain.exception(g.vcpu, frame(6), cr2: 0, registers: regs) else { Issue.record("stopped"); return }
        #expect(r.rip == 0x40_5000)
        #expect(r.rax == 7)
        // Top rounded down to 16 (0x403ff8 → 0x403ff0), 7 slots: RCX R11 RIP CS RFLAGS RSP SS.
        #expect(r.rsp == 0x40_3ff0 - 56)
        let words = try g.peekWords(page: 3, offset: Int(r.rsp - 0x40_3000), count: 7)
        #expect(words == [0x1111, 0x2222, 0x40_0100, 0xe030, 0x246, 0x40_3ff8, 0xe02b])
        #expect(r.rflags & 0x200 != 0)
        #expect(g.vcpuInfoByte(1) == 0)                 // flags without bit 2: events stay enabled

        // #PF: error code slot, CR2 in vcpu_info.arch.cr2, U/S cleared, events masked (trap flag bit 2).
        guard case .resume(let p) = g.domain.exception(g.vcpu, frame(14, error: 6), cr2: 0xdead_b000, registers: regs) else { Issue.record("stopped"); return }
        #expect(p.rip == 0x40_6000)
        let pf = try g.peekWords(page: 3, offset: Int(p.rsp - 0x40_3000), count: 8)
        #expect(pf[2] == 2)                               // error code 6 with U/S (4) cleared
        #expect(pf[4] == 0xe030)                          // saved mask 0 in bits 32+
        #expect(g.domain.memory.readWord(mfn: g.domain.sharedInfoMFN, offset: VCPUInfoLayout.cr2) == 0xdead_b000)
        #expect(g.vcpuInfoByte(1) == 1)
    }

    @Test func savedMaskTravelsInTheCSSlot() throws {
        let g = try TinyGuest()
        try g.setTraps([(6, 0, 0x40_5000)])
        g.vcpu.setEventsMasked(true)
        guard case .resume(let r) = g.domain.exception(g.vcpu, frame(6), cr2: 0, registers: CPURegisters()) else { return }
        let words = try g.peekWords(page: 3, offset: Int(r.rsp - 0x40_3000), count: 7)
        #expect(words[3] == 0xe030 | 1 << 32)
        #expect(words[4] & 0x200 == 0)                    // the frame's IF is the virtual one
    }

    @Test func iretReturnsToTheFrameAndRestoresTheMask() throws {
        let g = try TinyGuest()
        g.vcpu.setEventsMasked(true)
        // iret_context at rsp: rax r11 rcx flags rip cs rflags rsp ss
        try g.pokeWords(page: 2, offset: 0x100, [0xaa, 0xbb, 0xcc, 0, 0x40_0777, 0xe030, 0x246, 0x40_2f00, 0xe02b])
        let r = g.call(23, rsp: g.va(page: 2, offset: 0x100))
        #expect(r.regs.rip == 0x40_0777)
        #expect(r.regs.rsp == 0x40_2f00)
        #expect(r.regs.rax == 0xaa && r.regs.r11 == 0xbb && r.regs.rcx == 0xcc)
        #expect(g.vcpuInfoByte(1) == 0)                   // IF set in the frame → events unmasked
        // Returning to user mode (CS RPL 3) needs a user page table: the domain is ended.
        try g.pokeWords(page: 2, offset: 0x100, [0, 0, 0, 0, 0x40_0777, 0xe033, 0x246, 0x40_2f00, 0xe02b])
        guard case .stop = g.call(23, rsp: g.va(page: 2, offset: 0x100)).action else { Issue.record("expected a stop"); return }
        #expect(g.domain.crashReport?.summary.contains("user mode") == true)
    }

    @Test func noHandlerOrAnUnusableStackEndsTheDomain() throws {
        let g = try TinyGuest()
        guard case .stop = g.domain.exception(g.vcpu, frame(6), cr2: 0, registers: CPURegisters()) else { Issue.record("resumed"); return }
        #expect(g.domain.crashReport?.summary.contains("#UD") == true)

        let h = try TinyGuest()
        try h.setTraps([(6, 0, 0x40_5000)])
        guard case .stop = h.domain.exception(h.vcpu, frame(6, rsp: 0x10_0000), cr2: 0, registers: CPURegisters()) else { Issue.record("resumed"); return }
        #expect(h.domain.crashReport?.summary.contains("fault while delivering") == true)
    }

    @Test func softwareInterruptsFollowTheGuestsDPL() throws {
        let g = try TinyGuest()
        try g.setTraps([(0x80, 3, 0x40_5000), (0x81, 0, 0x40_5800), (13, 0, 0x40_6000)])
        try g.poke(page: 0, offset: 0x100, [0xcd, 0x80, 0xcd, 0x81])
        guard case .resume(let r) = g.domain.exception(g.vcpu, frame(13, error: 0x80 << 3 | 2), cr2: 0, registers: CPURegisters()) else { return }
        #expect(r.rip == 0x40_5000)
        let words = try g.peekWords(page: 3, offset: Int(r.rsp - 0x40_3000), count: 7)
        #expect(words[2] == 0x40_0102)                    // resumes after `int $0x80`, no error code slot
        // DPL 0 for 0x81: the guest gets the #GP itself.
        guard case .resume(let q) = g.domain.exception(g.vcpu, frame(13, error: 0x81 << 3 | 2, rip: 0x40_0102), cr2: 0, registers: CPURegisters()) else { return }
        #expect(q.rip == 0x40_6000)
    }

    @Test func xensEmulatedInstructionsAreEmulated() throws {
        let g = try TinyGuest()
        // wrmsr FS_BASE; rdmsr; in al,0x80; cpuid; mov %cr0,%rax
        try g.poke(page: 0, offset: 0x100, [0x0f, 0x30, 0x0f, 0x32, 0xe4, 0x80, 0x0f, 0xa2, 0x0f, 0x20, 0xc0])
        var regs = CPURegisters()
        regs.rcx = UInt64(SegmentMSR.fsBase); regs.rax = 0x5000; regs.rdx = 0x1
        guard case .resume(let a) = g.domain.exception(g.vcpu, frame(13, rip: 0x40_0100), cr2: 0, registers: regs) else { Issue.record("wrmsr"); return }
        #expect(a.rip == 0x40_0102)
        #expect(g.vcpu.pv.fsBase == 0x1_0000_5000)
        #expect(g.vcpu.pv.dirty.contains(.segmentBases))
        var b = a; b.rax = 0; b.rdx = 0
        guard case .resume(let c) = g.domain.exception(g.vcpu, frame(13, rip: 0x40_0102), cr2: 0, registers: b) else { Issue.record("rdmsr"); return }
        #expect(c.rax == 0x5000 && c.rdx == 1 && c.rip == 0x40_0104)
        guard case .resume(let d) = g.domain.exception(g.vcpu, frame(13, rip: 0x40_0104), cr2: 0, registers: c) else { Issue.record("in"); return }
        #expect(d.rax & 0xff == 0xff && d.rip == 0x40_0106)   // no port access: reads all-ones
        var e = d; e.rax = 0
        guard case .resume(let f) = g.domain.exception(g.vcpu, frame(13, rip: 0x40_0106), cr2: 0, registers: e) else { Issue.record("cpuid"); return }
        #expect(f.rip == 0x40_0108 && f.rax > 0)
        guard case .resume(let h) = g.domain.exception(g.vcpu, frame(13, rip: 0x40_0108), cr2: 0, registers: f) else { Issue.record("mov cr0"); return }
        #expect(h.rax & 0x8000_0001 == 0x8000_0001)
    }

    @Test func cliIsTrappedOnlyInEmulateMode() throws {
        let g = try TinyGuest()
        try g.poke(page: 0, offset: 0x100, [0xfa])
        guard case .stop = g.domain.exception(g.vcpu, frame(13, rip: 0x40_0100), cr2: 0, registers: CPURegisters()) else { Issue.record("cli emulated"); return }

        let e = try TinyGuest(emulatePrivileged: true)
        try e.poke(page: 0, offset: 0x100, [0xfa, 0xfb])
        e.vcpu.setEventsMasked(false)
        guard case .resume(let r) = e.domain.exception(e.vcpu, frame(13, rip: 0x40_0100), cr2: 0, registers: CPURegisters()) else { return }
        #expect(r.rip == 0x40_0101)
        #expect(e.vcpuInfoByte(1) == 1)                   // cli = mask events
        guard case .resume = e.domain.exception(e.vcpu, frame(13, rip: 0x40_0101), cr2: 0, registers: r) else { return }
        #expect(e.vcpuInfoByte(1) == 0)
    }

    @Test func segmentAndFPUHypercalls() throws {
        let g = try TinyGuest()
        #expect(g.call(25, 0, 0x7000).rax == 0)
        #expect(g.vcpu.pv.fsBase == 0x7000)
        #expect(g.call(25, 2, 0x8000_0000_0000_0000).rax == neg(22))
        #expect(g.call(25, 9, 0).rax == neg(22))
        #expect(g.call(5, 1).rax == 0)
        #expect(g.vcpu.pv.taskSwitched)
        #expect(g.call(3, 0xe02b, 0x40_3000).rax == 0)
        #expect(g.vcpu.pv.kernelSP == 0x40_3000)
        #expect(g.call(21, 0, 2).rax == 0)
        #expect(g.call(21, 0, 99).rax == neg(22))
        #expect(g.call(21, 7, 2).rax == neg(38))
    }

    @Test func callbacksRegisterAndEventsAreDeliveredOnReturn() throws {
        let g = try TinyGuest()
        // callback_register { type event, flags 0, address }
        try g.pokeWords(page: 7, [0, 0x40_5555])
        #expect(g.call(30, 0, g.va(page: 7)).rax == 0)
        #expect(g.vcpu.pv.eventCallback.address == 0x40_5555)
        try g.pokeWords(page: 7, [UInt64(CallbackType.nmi.rawValue), 0x8000_0000_0000_0000])
        #expect(g.call(30, 0, g.va(page: 7)).rax == neg(22))
        try g.pokeWords(page: 7, [9, 0x40_5555])
        #expect(g.call(30, 0, g.va(page: 7)).rax == neg(38))
        // An upcall pending with events unmasked is bounced on the way back from any hypercall.
        g.vcpu.setEventsMasked(false)
        g.domain.markUpcallPending(g.vcpu)
        let r = g.call(17, 0, rsp: 0x40_4000)
        #expect(r.regs.rip == 0x40_5555)
        #expect(g.vcpuInfoByte(1) == 1)
        let words = try g.peekWords(page: 3, offset: Int(r.regs.rsp - 0x40_3000), count: 7)
        #expect(words[2] == 0x40_1234)                    // it resumes where the hypercall returned
    }
}

@Suite struct MulticallTests {
    /// One 64-byte multicall_entry: op, result, args.
    func entry(_ op: UInt64, _ args: [UInt64]) -> [UInt64] { [op, 0xdead] + args + [UInt64](repeating: 0, count: 6 - args.count) }

    @Test func runsEachCallAndStoresItsResult() throws {
        let g = try TinyGuest()
        try g.poke(page: 5, Array("hi\n".utf8))
        try g.pokeWords(page: 6, entry(17, [0]) + entry(18, [0, 3, g.va(page: 5)]) + entry(11, []) + entry(17, [7]))
        #expect(g.call(13, g.va(page: 6), 4).rax == 0)
        let words = try g.peekWords(page: 6, count: 32)
        #expect(words[1] == 0x4_0013)                      // xen_version(0)
        #expect(words[9] == 0)                             // console_io write
        #expect(words[17] == neg(38))                      // hypercall 11
        #expect(words[25] == 4096)                         // xen_version(pagesize)
        #expect(g.domain.console.text == "hi\n")
    }

    @Test func refusesNestingIretOverlongAndBadLists() throws {
        let g = try TinyGuest()
        try g.pokeWords(page: 6, entry(13, [0, 0]) + entry(17, [0]))
        #expect(g.call(13, g.va(page: 6), 2).rax == 0)
        let words = try g.peekWords(page: 6, count: 16)
        #expect(words[1] == neg(22))                       // nested multicall refused …
        #expect(words[9] == 0xdead)                        // … and the batch stopped there
        try g.pokeWords(page: 6, entry(23, []))
        #expect(g.call(13, g.va(page: 6), 1).rax == 0)
        #expect(try g.peekWords(page: 6, count: 2)[1] == neg(22))
        #expect(g.call(13, g.va(page: 6), 5000).rax == neg(22))
        #expect(g.call(13, 0x10_0000, 1).rax == neg(14))
    }

    @Test func aShutdownStopsTheBatch() throws {
        let g = try TinyGuest()
        try g.poke(page: 5, [0, 0, 0, 0])
        try g.pokeWords(page: 6, entry(29, [2, g.va(page: 5)]) + entry(17, [0]))
        guard case .stop = g.call(13, g.va(page: 6), 2).action else { Issue.record("expected a stop"); return }
        #expect(g.domain.state == .shutdown(.poweroff))
        #expect(try g.peekWords(page: 6, count: 16)[9] == 0xdead)
    }
}

@Suite struct DescriptorTableTests {
    /// A flat data descriptor: base, DPL, present, S, type RW.
    func data(base: UInt32, dpl: UInt64 = 3, accessed: Bool = false) -> UInt64 {
        let b = UInt64(base)
        return 0xffff | (b & 0xff_ffff) << 16 | (0x92 | dpl << 5 | (accessed ? 1 : 0)) << 40 | 0xc << 52 | 0xf << 48 | (b >> 24) << 56
    }

    @Test func checkDescriptorFollowsXensRules() {
        #expect(SegmentDescriptor.check(0) == 0)                                          // not present
        let fixed = SegmentDescriptor.check(data(base: 0x1000, dpl: 0))!
        #expect((fixed >> 45) & 3 == 3)                                                   // DPL raised to 3
        #expect((fixed >> 40) & 1 == 1)                                                   // accessed set
        #expect(SegmentDescriptor.check(0x0000_8900_0000_0067) == nil)                   // a TSS
        #expect(SegmentDescriptor.check(0x0000_8e00_0000_0000) == nil)                   // an interrupt gate
        #expect(SegmentDescriptor.check(0x0000_0000_0000_1234) == 0x1234)                // system type 0 (gate upper half)
        // A call gate to 0xe033: DPL forced to 0, the old DPL kept in the selector's RPL.
        let gate = SegmentDescriptor.check(0x0000_ec00_e033_1000)!
        #expect((gate >> 45) & 3 == 0)
        #expect((gate >> 16) & 0xffff == 0xe033)
        #expect(SegmentDescriptor.check(0x0000_ec00_e013_1000) == nil)                   // to our ring-0 CS: no
    }

    @Test func setGDTNeedsAFrameNobodyCanWrite() throws {
        let g = try TinyGuest()
        let mfn = g.domain.p2m[4 + 5]                                                     // the frame behind page 5
        try g.pokeWords(page: 6, [mfn])
        try g.pokeWords(page: 5, [0, 0, 0, data(base: 0x40_0000, dpl: 0)])
        #expect(g.call(2, g.va(page: 6), 512).rax == neg(22))                            // mapped writable at page 5
        #expect(g.call(14, g.va(page: 5), mfn << 12 | 5, 2).rax == 0)                    // remap it read-only
        #expect(g.call(2, g.va(page: 6), 512).rax == 0)
        #expect(g.vcpu.pv.gdtFrames == [mfn])
        #expect(g.vcpu.pv.dirty.contains(.descriptorTables))
        let stored = g.domain.memory.readWord(mfn: mfn, offset: 24)!
        #expect((stored >> 45) & 3 == 3)                                                  // fixed up in place
        #expect(g.call(14, g.va(page: 5), mfn << 12 | 7, 2).rax == neg(22))              // no writable mapping now
        #expect(g.call(2, g.va(page: 6), 7169).rax == neg(22))                           // past Xen's reserved entries
        // update_descriptor: validated, aligned, never into a page table.
        #expect(g.call(10, mfn << 12 | 32, data(base: 0x40_8000, dpl: 1)).rax == 0)
        #expect((g.domain.memory.readWord(mfn: mfn, offset: 32)! >> 45) & 3 == 3)
        #expect(g.call(10, mfn << 12 | 33, data(base: 0)).rax == neg(22))
        #expect(g.call(10, mfn << 12 | 40, 0x0000_8900_0000_0067).rax == neg(22))
        #expect(g.call(10, g.domain.p2m[3] << 12, data(base: 0)).rax == neg(22))
    }

    @Test func aBadDescriptorAnywhereInTheFrameRefusesIt() throws {
        let g = try TinyGuest()
        let mfn = g.domain.p2m[4 + 5]
        #expect(g.call(14, g.va(page: 5), mfn << 12 | 5, 2).rax == 0)
        g.domain.memory.writeWord(mfn: mfn, offset: 4088, 0x0000_8900_0000_0067)          // a TSS in the last slot
        try g.pokeWords(page: 6, [mfn])
        #expect(g.call(2, g.va(page: 6), 16).rax == neg(22))                             // all 512 are checked
        #expect(g.vcpu.pv.gdtFrames.isEmpty)
    }
}

@Suite struct UserModeTests {
    /// A guest with a trap table, a syscall callback, a kernel stack (top of page 2, 0x403000) and a user L4.
    func userGuest(syscallMasks: Bool = true) throws -> TinyGuest {
        let g = try TinyGuest()
        try g.setTraps([(6, 0, 0x40_5000), (14, 0, 0x40_5100)])
        try g.pokeWords(page: 7, [UInt64(CallbackType.syscall.rawValue) | (syscallMasks ? 1 : 0) << 16, 0x40_6000])
        #expect(g.call(30, 0, g.va(page: 7)).rax == 0)
        #expect(g.call(3, 0xe02b, g.va(page: 3)).rax == 0)                         // stack_switch: kernel stack top
        // mmuext_op(NEW_USER_BASEPTR, kernel L4), with pdone.
        try g.pokeWords(page: 6, [15, g.domain.p2m[0], 0])
        #expect(g.call(26, g.va(page: 6), 1, g.va(page: 6, offset: 512), UInt64(DomainID.this)).rax == 0)
        #expect(try g.peekWords(page: 6, offset: 512, count: 1)[0] & 0xffff_ffff == 1)
        return g
    }

    /// iret to user mode at `rip` with the user stack at the top of page 1.
    func enterUser(_ g: TinyGuest, rip: UInt64 = 0x40_0800) -> CPURegisters {
        try! g.pokeWords(page: 2, offset: 0x800, [0, 0, 0, 0, rip, 0xe033, 0x202, 0x40_2000, 0xe02b])
        let r = g.call(23, rsp: g.va(page: 2, offset: 0x800))
        #expect(!g.vcpu.pv.kernelMode)
        return r.regs
    }

    @Test func newUserBasePointerNeedsAPinnedL4() throws {
        let g = try TinyGuest()
        try g.pokeWords(page: 6, [15, g.domain.p2m[5], 0])
        #expect(g.call(26, g.va(page: 6), 1, 0, UInt64(DomainID.this)).rax == neg(22))
        try g.pokeWords(page: 6, [0, g.domain.p2m[0], 0])                           // PIN_L1 of the L4: a type conflict
        #expect(g.call(26, g.va(page: 6), 1, 0, UInt64(DomainID.this)).rax == neg(22))
        try g.pokeWords(page: 6, [15, g.domain.p2m[0], 0])
        var foreign = CPURegisters(); foreign.rax = 26; foreign.rdi = g.va(page: 6); foreign.rsi = 1; foreign.r10 = 0x1234
        _ = g.domain.hypercall(g.vcpu, &foreign)
        #expect(foreign.rax == neg(1))                                              // foreign domain
    }

    @Test func iretToUserSwapsGSAndASyscallComesBackThroughTheCallback() throws {
        let g = try userGuest()
        g.vcpu.pv.gsBaseKernel = 0xaaa0
        g.vcpu.pv.gsBaseUser = 0xbbb0
        var r = enterUser(g)
        #expect(r.rip == 0x40_0800 && r.rsp == 0x40_2000)
        #expect(g.vcpu.pv.activeGSBase == 0xbbb0 && g.vcpu.pv.shadowGSBase == 0xaaa0)
        #expect(g.vcpu.pv.dirty.contains(.segmentBases))
        g.vcpu.setEventsMasked(false)
        // User SYSCALL: rcx = return address, r11 = rflags (with DF set), rax = the user's call number.
        r.rax = 60; r.rcx = 0x40_0810; r.r11 = 0x646; r.rsp = 0x40_1ff0
        let action = g.domain.hypercall(g.vcpu, &r)
        guard case .resume = action else { Issue.record("stopped"); return }
        #expect(g.vcpu.pv.kernelMode)
        #expect(r.rip == 0x40_6000)
        #expect(r.rax == 60)                                                         // not a hypercall: untouched
        #expect(r.rflags & 0x400 == 0)                                               // DF cleared
        #expect(g.vcpuInfoByte(1) == 1)                                              // CALLBACKF_mask_events
        // The frame sits at the kernel stack from stack_switch: RCX R11 RIP CS RFLAGS RSP SS.
        #expect(r.rsp == 0x40_3000 - 56)
        guard r.rsp == 0x40_3000 - 56 else { return }
        let words = try g.peekWords(page: 2, offset: Int(r.rsp - 0x40_2000), count: 7)
        #expect(words == [0x40_0810, 0x646, 0x40_0810, 0xe033, 0x646, 0x40_1ff0, 0xe02b])
        #expect(g.vcpu.hypercallCounts.isEmpty == false)                              // the earlier real hypercalls only
    }

    @Test func userExceptionsGoToTheKernelStackWithUserBits() throws {
        let g = try userGuest()
        _ = enterUser(g)
        let frame = ExceptionFrame(vector: 14, errorCode: 4 | 2, rip: 0x40_0900, cs: 0xe033, rflags: 0x202, rsp: 0x40_1f00, ss: 0xe02b)
        guard case .resume(let r) = g.domain.exception(g.vcpu, frame, cr2: 0x1000, registers: CPURegisters()) else { Issue.record("stopped"); return }
        #expect(g.vcpu.pv.kernelMode)
        #expect(r.rip == 0x40_5100 && r.rsp == 0x40_3000 - 64)
        guard r.rsp == 0x40_3000 - 64 else { return }
        let words = try g.peekWords(page: 2, offset: Int(r.rsp - 0x40_2000), count: 8)
        #expect(words[2] == 6)                                                       // U/S set: the guest was in user mode
        #expect(words[4] == 0xe033)                                                  // RPL 3: "interrupted user"
        // Privileged instructions in user mode are not emulated: #GP to the kernel (no #GP handler → crash).
        _ = enterUser(g)
        try g.poke(page: 0, offset: 0x900, [0x0f, 0x32])                             // rdmsr
        let gp = ExceptionFrame(vector: 13, errorCode: 0, rip: 0x40_0900, cs: 0xe033, rflags: 0x202, rsp: 0x40_1f00, ss: 0xe02b)
        guard case .stop = g.domain.exception(g.vcpu, gp, cr2: 0, registers: CPURegisters()) else { Issue.record("emulated in user mode"); return }
    }

    @Test func aUserSyscallWithoutCallbackIsUDAtTheInstruction() throws {
        let g = try TinyGuest()
        try g.setTraps([(6, 0, 0x40_5000)])
        #expect(g.call(3, 0xe02b, g.va(page: 3)).rax == 0)
        try g.pokeWords(page: 6, [15, g.domain.p2m[0], 0])
        #expect(g.call(26, g.va(page: 6), 1, 0, UInt64(DomainID.this)).rax == 0)
        var r = enterUser(g)
        r.rcx = 0x40_0902; r.r11 = 0x202; r.rsp = 0x40_1f00
        _ = g.domain.hypercall(g.vcpu, &r)
        #expect(r.rip == 0x40_5000)
        guard r.rsp > 0x40_2000, r.rsp < 0x40_3000 else { Issue.record("frame at 0x\(String(r.rsp, radix: 16))"); return }
        let words = try g.peekWords(page: 2, offset: Int(r.rsp - 0x40_2000), count: 7)
        #expect(words[2] == 0x40_0900)                                               // #UD at the SYSCALL itself
    }
}
