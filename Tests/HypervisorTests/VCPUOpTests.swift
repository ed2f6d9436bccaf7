import HyperABI
import Testing
@testable import Hypervisor

/// VCPUOP_initialise, up, down, is_up and get_runstate_info on the fake platform.
@Suite struct VCPUOpTests {
    let vcpuOp: UInt64 = 24

    /// A vcpu_guest_context (5168 bytes) for a vCPU starting at `rip` with `rsp`, written at page 5 (it spans 5–6).
    func writeContext(_ g: TinyGuest, rip: UInt64 = TinyGuest.base + 0x10, rsp: UInt64 = TinyGuest.base + 0x3000,
                      flags: UInt64 = VCPUGuestContextLayout.flagInKernel, l4: UInt64? = nil, ldtEntries: UInt64 = 0,
                      gsKernel: UInt64 = 0x1234_5000, trap14: UInt64 = TinyGuest.base + 0x40) throws -> UInt64 {
        typealias L = VCPUGuestContextLayout
        var words = [UInt64](repeating: 0, count: L.size / 8)
        words[L.flags / 8] = flags
        words[(L.userRegs + CPUUserRegsLayout.rip) / 8] = rip
        words[(L.userRegs + CPUUserRegsLayout.rsp) / 8] = rsp
        words[(L.userRegs + CPUUserRegsLayout.rdi) / 8] = 7
        words[(L.userRegs + CPUUserRegsLayout.rflags) / 8] = 0x3202            // IOPL 3 must not survive
        words[(L.trapContext + 14 * TrapInfoLayout.size + TrapInfoLayout.address) / 8] = trap14
        words[L.ldtEntries / 8] = ldtEntries
        words[L.kernelSP / 8] = rsp
        words[(L.controlRegisters + 3 * 8) / 8] = (l4 ?? g.domain.p2m[0]) << 12
        words[L.eventCallback / 8] = TinyGuest.base + 0x80
        words[L.gsBaseKernel / 8] = gsKernel
        try g.pokeWords(page: 5, Array(words[..<512]))
        try g.pokeWords(page: 6, Array(words[512...]))
        return g.va(page: 5)
    }

    @Test func secondaryVCPUsStartDownAndComeUpWithTheirContext() throws {
        let g = try TinyGuest(vcpus: 3, up: false)
        let vm = try #require(g.domain.virtualMachine as? FakeVM)
        try g.hypervisor.control.unpause(g.domain)
        #expect(vm.started == [0])
        #expect(g.call(vcpuOp, VCPUOpCommand.isUp.rawValue, 0).rax == 1)
        #expect(g.call(vcpuOp, VCPUOpCommand.isUp.rawValue, 1).rax == 0)
        #expect(g.call(vcpuOp, VCPUOpCommand.isUp.rawValue, 3).rax == neg(2))            // -ENOENT: no such vCPU
        #expect(g.call(vcpuOp, VCPUOpCommand.up.rawValue, 1).rax == neg(22))             // -EINVAL: not initialised

        let ctx = try writeContext(g)
        #expect(g.call(vcpuOp, VCPUOpCommand.initialise.rawValue, 1, ctx).rax == 0)
        #expect(vm.started == [0])                                                     // initialised, still down
        #expect(g.call(vcpuOp, VCPUOpCommand.initialise.rawValue, 1, ctx).rax == neg(17)) // -EEXIST
        #expect(g.call(vcpuOp, VCPUOpCommand.up.rawValue, 1).rax == 0)
        #expect(vm.started == [0, 1])
        #expect(g.call(vcpuOp, VCPUOpCommand.isUp.rawValue, 1).rax == 1)

        let v = g.domain.vcpus[1]
        #expect(v.context.registers.rip == TinyGuest.base + 0x10)
        #expect(v.context.registers.rdi == 7)
        #expect(v.context.registers.rflags == 0x3202 & ~0x3000 | 0x202)
        #expect(v.context.kernelL4 == g.domain.p2m[0])
        #expect(v.pv.gsBaseKernel == 0x1234_5000)
        #expect(v.pv.trapTable[14].address == TinyGuest.base + 0x40)
        #expect(v.pv.eventCallback.address == TinyGuest.base + 0x80)
        #expect(v.pv.dirty.contains(.segmentBases))
        // The kernel L4 is now also vCPU 1's base: one more type reference.
        #expect(g.hypervisor.frames.pages.typeCount[Int(g.domain.p2m[0])] == 3)
    }

    @Test func badContextsAreEINVALAndLeaveTheVCPUUninitialised() throws {
        let g = try TinyGuest(vcpus: 2, up: false)
        try g.hypervisor.control.unpause(g.domain)
        let cases: [(String, () throws -> UInt64)] = [
            ("non-canonical rip", { try writeContext(g, rip: 0x0000_8000_0000_0000) }),
            ("non-canonical trap handler", { try writeContext(g, trap14: 0x1000_0000_0000_0000) }),
            ("user mode start", { try writeContext(g, flags: 0) }),
            ("an unpinned L4", { try writeContext(g, l4: g.domain.p2m[6]) }),
            ("another domain's frame as L4", { try writeContext(g, l4: 0) }),
            ("an LDT", { try writeContext(g, ldtEntries: 1) }),
        ]
        for (what, make) in cases {
            let ctx = try make()
            #expect(g.call(vcpuOp, VCPUOpCommand.initialise.rawValue, 1, ctx).rax == neg(22), "\(what)")
        }
        #expect(g.call(vcpuOp, VCPUOpCommand.initialise.rawValue, 1, 0xdead_0000).rax == neg(14))   // -EFAULT
        #expect(g.call(vcpuOp, VCPUOpCommand.up.rawValue, 1).rax == neg(22))
        #expect(g.call(vcpuOp, VCPUOpCommand.initialise.rawValue, 1, try writeContext(g)).rax == 0)
    }

    @Test func onlineFlagBringsTheVCPUUpAtOnce() throws {
        let g = try TinyGuest(vcpus: 2, up: false)
        let vm = try #require(g.domain.virtualMachine as? FakeVM)
        try g.hypervisor.control.unpause(g.domain)
        let ctx = try writeContext(g, flags: VCPUGuestContextLayout.flagInKernel | VCPUGuestContextLayout.flagOnline)
        #expect(g.call(vcpuOp, VCPUOpCommand.initialise.rawValue, 1, ctx).rax == 0)
        #expect(vm.started == [0, 1])
        #expect(g.call(vcpuOp, VCPUOpCommand.isUp.rawValue, 1).rax == 1)
    }

    @Test func downStopsASiblingAndTheLastOnePowersOff() throws {
        let g = try TinyGuest(vcpus: 2, up: false)
        let vm = try #require(g.domain.virtualMachine as? FakeVM)
        try g.hypervisor.control.unpause(g.domain)
        #expect(g.call(vcpuOp, VCPUOpCommand.initialise.rawValue, 1, try writeContext(g)).rax == 0)
        #expect(g.call(vcpuOp, VCPUOpCommand.up.rawValue, 1).rax == 0)
        let kicks = vm.kicks
        #expect(g.call(vcpuOp, VCPUOpCommand.down.rawValue, 1).rax == 0)
        #expect(g.call(vcpuOp, VCPUOpCommand.isUp.rawValue, 1).rax == 0)
        let parkNext = g.domain.vcpus[1].preemptRequested.load(ordering: .relaxed)
        #expect(parkNext)                                                              // its exit loop will park it
        #expect(vm.kicks == kicks + 1)
        #expect(g.call(vcpuOp, VCPUOpCommand.down.rawValue, 1).rax == 0)               // already down: nothing more
        #expect(vm.kicks == kicks + 1)
        #expect(g.domain.state == .running)
        // vCPU 0 taking itself down now leaves none running: Xen powers the domain off.
        #expect(g.call(vcpuOp, VCPUOpCommand.down.rawValue, 0).rax == 0)
        #expect(g.domain.state == .shutdown(.poweroff))
    }

    @Test func runstateOfAnotherVCPU() throws {
        let g = try TinyGuest(vcpus: 2, up: false)
        try g.hypervisor.control.unpause(g.domain)
        #expect(g.call(vcpuOp, VCPUOpCommand.getRunstateInfo.rawValue, 1, g.va(page: 6)).rax == 0)
        let info = try g.peekWords(page: 6, count: RunstateLayout.size / 8)
        #expect(info[0] == UInt64(RunState.offline.rawValue))
        #expect(g.call(vcpuOp, VCPUOpCommand.getRunstateInfo.rawValue, 2, g.va(page: 6)).rax == neg(2))
    }

    @Test func vcpuCountIsCheckedAtCreation() throws {
        let hv = try makeHypervisor()
        for bad in [0, 33] {
            #expect(throws: HypervisorError.self) { try hv.control.createDomain(name: "bad", pages: 16, vcpus: bad) }
        }
        let d = try hv.control.createDomain(name: "wide", pages: 16, vcpus: 32)
        #expect(d.vcpus.count == 32)
        let allDown = d.vcpus.allSatisfy { $0.down.load(ordering: .relaxed) }
        #expect(allDown)
    }
}
