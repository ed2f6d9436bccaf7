import Foundation
import HyperABI
import Hypervisor
import Testing
import Toolstack

extension KVMIntegration {
    /// Memory under KVM: the PV MMU exercised by real guests, and ballooning measured on the host.
    @Suite
    struct MemoryTests {
        @Test func memtestBuildsAddressSpacesMapsThousandsAndBalloons() throws {
            let toolstack = try makeToolstack()
            let d = try toolstack.create(DomainConfig(name: "memtest", kernel: try imagePath("memtest"), memoryBytes: 64 << 20))
            try toolstack.start(d)
            d.finish(within: 120, toolstack)
            try Expectation(image: "memtest").check(d)
            #expect(!d.console.text.contains("FAILED"))
        }

        @Test func mmuAttackIsRefusedEverywhereWhileAnotherDomainRuns() throws {
            let toolstack = try makeToolstack()
            let free = toolstack.hypervisor.frames.freeFrames
            let attacker = try toolstack.create(DomainConfig(name: "mmu-attack", kernel: try imagePath("mmu-attack"), memoryBytes: 32 << 20))
            let bystander = try toolstack.create(DomainConfig(name: "timer", kernel: try imagePath("timer"), memoryBytes: 32 << 20))
            try toolstack.start(bystander)
            try toolstack.start(attacker)
            attacker.finish(within: 120, toolstack)
            bystander.finish(within: 60, toolstack)
            try Expectation(image: "mmu-attack").check(attacker)
            #expect(!attacker.console.text.contains("FAILED"))
            try Expectation(image: "timer").check(bystander)
            #expect(toolstack.hypervisor.frames.freeFrames == free)        // every frame came back
        }

        /// Ballooning is real: after the guest gives back 32 MiB, the memfd's allocated blocks and the
        /// process's resident memory both drop by about that much.
        @Test func ballooningGivesMemoryBackToTheHost() throws {
            let toolstack = try makeToolstack()
            let pages = 8192
            let d = try toolstack.create(DomainConfig(name: "memtest", kernel: try imagePath("memtest"), memoryBytes: 128 << 20,
                                                      cmdline: "balloon=\(pages) hold=1"))
            try toolstack.start(d)
            #expect(d.waitForConsole("dirtied \(pages) pages, holding", seconds: 120), "\(d.console.text)")
            let memfdBefore = toolstack.hypervisor.memory.allocatedBytes
            let rssBefore = HostUsage.residentBytes()
            #expect(d.waitForConsole("memtest: holding", seconds: 60), "\(d.console.text)")
            let memfdHeld = toolstack.hypervisor.memory.allocatedBytes
            let rssHeld = HostUsage.residentBytes()
            #expect(d.memoryStats.balloonedOut == pages)
            d.finish(within: 120, toolstack)
            #expect(d.state == .shutdown(.poweroff) && d.console.text.contains("memtest: all checks ok"), "\(d.console.text)")
            let expected = pages * 4096
            #expect(memfdBefore - memfdHeld >= expected * 9 / 10, "memfd blocks dropped by \((memfdBefore - memfdHeld) >> 20) MiB")
            #expect(rssBefore - rssHeld >= expected * 9 / 10, "resident memory dropped by \((rssBefore - rssHeld) >> 20) MiB")
        }
    }
}
