import Foundation
import Hypervisor
import Testing
import Toolstack

extension KVMIntegration {
    /// Multi-vCPU guests: the `smp` image brings up every vCPU, passes IPIs round a ring, counts under a
    /// spinlock, takes a vCPU down and up again and checks every vCPU's runstate.
    @Suite
    struct SMPTests {
        func smp(_ toolstack: Toolstack, vcpus: Int, cmdline: String = "") throws -> Domain {
            let d = try toolstack.create(DomainConfig(name: "smp-\(vcpus)", kernel: try imagePath("smp"), memoryBytes: 16 << 20,
                                                      cmdline: cmdline, vcpus: vcpus))
            try toolstack.start(d)
            return d
        }

        @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8])
        func everyVCPUComesUpAndWorksOnTwoPhysicalCPUs(_ vcpus: Int) throws {
            let toolstack = try makeToolstack(pcpus: 2)
            let d = try smp(toolstack, vcpus: vcpus)
            d.finish(within: 120, toolstack)
            try Expectation(image: "smp").check(d)
            #expect(d.console.text.contains("smp: \(vcpus) vcpus up"), "\(d.console.text)")
            #expect(!d.console.text.contains("FAIL"), "\(d.console.text)")
            // Every vCPU ran guest code, and each one's runstate adds up to the time since it first ran.
            for v in d.vcpus {
                #expect(v.scheduledNanos > 0, "vcpu \(v.id) never held a physical CPU")
                #expect(v.hypercallTotal > 0, "vcpu \(v.id) made no hypercall")
            }
        }

        @Test func destroyingASMPDomainMidRunLeavesNoThreadAndNoFrame() throws {
            let toolstack = try makeToolstack(pcpus: 2)
            let before = SchedulerTests.threadCount()
            let free = toolstack.hypervisor.frames.freeFrames
            let d = try smp(toolstack, vcpus: 6, cmdline: "rounds=100000000")
            #expect(d.waitForConsole("vcpus up"), "\(d.console.text)")
            Thread.sleep(forTimeInterval: 0.3)          // six vCPUs on two physical CPUs: most are preempted or waiting
            toolstack.destroy(d)
            #expect(d.waitUntilFinished(seconds: 10), "\(d.label) did not finish")
            #expect(d.state == .destroyed)
            var after = SchedulerTests.threadCount()
            let t0 = Date()
            while after > before && Date().timeIntervalSince(t0) < 5 { usleep(10_000); after = SchedulerTests.threadCount() }
            #expect(after <= before, "\(after - before) thread(s) left behind")
            #expect(toolstack.hypervisor.frames.freeFrames == free)
            #expect(toolstack.hypervisor.domains.isEmpty)
        }
    }
}
