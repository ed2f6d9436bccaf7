import HyperABI
import Testing
@testable import Hypervisor

@Suite struct DomainControlTests {
    @Test func hypercallPageHoldsXensStubs() throws {
        let g = try TinyGuest()
        try g.hypervisor.control.initHypercallPage(g.domain, pfn: 4)
        let page = try g.peek(page: 0, count: 4096)
        // Slot 17: push %rcx; push %r11; mov $17,%eax; syscall; pop %r11; pop %rcx; ret, then int3 padding.
        #expect(Array(page[17 * 32..<17 * 32 + 14]) == [0x51, 0x41, 0x53, 0xb8, 17, 0, 0, 0, 0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3])
        #expect(Array(page[17 * 32 + 14..<18 * 32]) == [UInt8](repeating: 0xcc, count: 18))
        // Slot 23 (iret) is jumped to with the frame pushed: push rcx/r11/rax, mov $23,%eax, syscall.
        #expect(Array(page[23 * 32..<23 * 32 + 11]) == [0x51, 0x41, 0x53, 0x50, 0xb8, 23, 0, 0, 0, 0x0f, 0x05])
        #expect(page[23 * 32 + 11] == 0xcc)
    }

    @Test func vcpuContextInstallsTheHypervisorSlotsAndChecksTheL4() throws {
        let g = try TinyGuest()
        let l4 = g.domain.p2m[0]
        #expect(g.domain.memory.readWord(mfn: l4, offset: 257 * 8) == 0xdead_b000 | 0x27)
        #expect(g.domain.memory.readWord(mfn: l4, offset: 256 * 8) == 0)

        let other = try g.hypervisor.control.createDomain(name: "other", pages: 8)
        var ctx = VCPUContext()
        ctx.kernelL4 = g.domain.p2m[0]           // not other's frame
        let e = try #require(throws: HypervisorError.self) { try g.hypervisor.control.setVCPUContext(other, vcpu: 0, ctx) }
        #expect(e.errno == .EINVAL)
        ctx.kernelL4 = other.p2m[0]
        ctx.registers.rip = 0x8000_0000_0000_0000
        #expect(throws: HypervisorError.self) { try g.hypervisor.control.setVCPUContext(other, vcpu: 0, ctx) }
        ctx.registers.rip = 0
        #expect(throws: HypervisorError.self) { try g.hypervisor.control.setVCPUContext(other, vcpu: 1, ctx) }
    }

    @Test func lifecycle() throws {
        let g = try TinyGuest(up: false)
        let control = g.hypervisor.control
        try control.unpause(g.domain)
        #expect(g.domain.state == .running)
        #expect(throws: HypervisorError.self) { try control.unpause(g.domain) }
        let vm = try #require(g.domain.virtualMachine as? FakeVM)
        #expect(vm.started == [0])
        control.destroy(g.domain)
        #expect(g.domain.state == .destroyed)
        #expect(vm.kicks == 1)
        let stopping = g.vcpu.stopRequested.load(ordering: .relaxed)
        #expect(stopping)
        g.domain.vcpuDidStop(g.vcpu)           // what the platform's thread does as it ends
        #expect(g.domain.waitUntilFinished(seconds: 5))
        #expect(vm.destroyed)
        #expect(g.hypervisor.domains.isEmpty)
    }

    @Test func writesOutsideTheDomainAreRefused() throws {
        let g = try TinyGuest()
        let control = g.hypervisor.control
        #expect(throws: HypervisorError.self) { try control.write(g.domain, pfn: 12, bytes: [1]) }
        #expect(throws: HypervisorError.self) { try control.write(g.domain, pfn: -1, bytes: [1]) }
        #expect(throws: HypervisorError.self) { try control.write(g.domain, pfn: 0, offset: 4095, bytes: [1, 2]) }
        #expect(throws: HypervisorError.self) { try control.createDomain(name: "zero", pages: 0) }
    }
}
