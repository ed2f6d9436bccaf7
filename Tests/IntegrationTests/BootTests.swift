import Foundation
import HyperABI
import Hypervisor
import Testing
import Toolstack

extension KVMIntegration {
    /// Boots every sample image under KVM and checks what its EXPECT file says.
    @Suite
    struct BootTests {
        @Test(arguments: ["hello-c", "hello-swift", "faults", "bench"])
        func imageDoesWhatItsExpectFileSays(_ image: String) throws {
            let toolstack = try makeToolstack()
            let d = try toolstack.create(DomainConfig(name: image, kernel: try imagePath(image), memoryBytes: 32 << 20, cmdline: "n=100"))
            try toolstack.start(d)
            d.finish(toolstack)
            try Expectation(image: image).check(d)
        }

        @Test func theFaultsGuestIsEndedWithAFullReport() throws {
            let toolstack = try makeToolstack()
            let d = try toolstack.create(DomainConfig(name: "faults", kernel: try imagePath("faults")))
            try toolstack.start(d)
            d.finish(toolstack)
            let report = try #require(d.crashReport)
            guard case .exception(let frame, _) = report.cause else { Issue.record("cause \(report.cause)"); return }
            #expect(frame.vector == 13)                                   // hlt at CPL 3 is a #GP
            #expect(frame.cs == UInt64(PVLayout.flatKernelCS))            // it came from the guest kernel at ring 3
            #expect(report.summary.contains("#GP"))
            #expect(report.registers.rip == frame.rip)
            #expect(frame.rip >= 0x40_0000 && frame.rip < 0x50_0000)
            #expect(d.console.text.contains("faults: all checks ok"))
            #expect(!d.console.text.contains("FAILED"))
            #expect(ExitStatus.code(for: d.state) == 13)
        }

        @Test func commandLineAndMemoryReachTheGuest() throws {
            let toolstack = try makeToolstack()
            let d = try toolstack.create(DomainConfig(name: "hello-c", kernel: try imagePath("hello-c"), memoryBytes: 48 << 20,
                                                      cmdline: "root=/dev/xvda1 quiet"))
            #expect(d.nrPages == 48 << 8)
            try toolstack.start(d)
            d.finish(toolstack)
            #expect(d.console.text.contains("cmdline \"root=/dev/xvda1 quiet\""))
            #expect(d.state == .shutdown(.poweroff))
        }

        @Test func consoleInputReachesConsoleRead() throws {
            let toolstack = try makeToolstack()
            let d = try toolstack.create(DomainConfig(name: "hello-c", kernel: try imagePath("hello-c")))
            d.console.input(Array("xyz".utf8))
            try toolstack.start(d)
            d.finish(toolstack)
            #expect(d.console.text.contains("console_io(read) = 3 bytes"))
        }
    }

    /// Several domains at once, isolation, and teardown.
    @Suite
    struct IsolationTests {
        @Test func aCrashingDomainLeavesTheOthersRunning() throws {
            let toolstack = try makeToolstack()
            let free = toolstack.hypervisor.frames.freeFrames
            let names = ["faults", "hello-c", "hello-swift", "faults"]
            let domains = try names.map { try toolstack.create(DomainConfig(name: $0, kernel: try imagePath($0), memoryBytes: 32 << 20)) }
            #expect(Set(domains.map(\.id)).count == 4)
            for d in domains { try toolstack.start(d) }
            for d in domains { d.finish(toolstack) }
            for (d, name) in zip(domains, names) { try Expectation(image: name).check(d) }
            #expect(toolstack.hypervisor.frames.freeFrames == free)     // every frame came back
            #expect(toolstack.hypervisor.domains.isEmpty)
        }

        @Test func destroyingARunningDomainStopsItAndFreesEverything() throws {
            let toolstack = try makeToolstack()
            let free = toolstack.hypervisor.frames.freeFrames
            // bench with a huge count keeps making hypercalls for minutes.
            let d = try toolstack.create(DomainConfig(name: "busy", kernel: try imagePath("bench"), cmdline: "n=1000000000"))
            try toolstack.start(d)
            let t0 = Date()
            while d.vcpus[0].hypercallTotal < 50 && Date().timeIntervalSince(t0) < 20 { usleep(1000) }
            #expect(d.vcpus[0].hypercallTotal >= 50)
            #expect(d.state == .running)
            toolstack.destroy(d)
            #expect(d.waitUntilFinished(seconds: 10))
            #expect(d.state == .destroyed)
            #expect(toolstack.hypervisor.frames.freeFrames == free)
            #expect(ExitStatus.code(for: d.state) == 15)
        }

        @Test func aMalformedImageIsRefusedWhileAnotherDomainRuns() throws {
            let toolstack = try makeToolstack()
            let good = try toolstack.create(DomainConfig(name: "hello-c", kernel: try imagePath("hello-c")))
            try toolstack.start(good)
            let bad = FileManager.default.temporaryDirectory.appendingPathComponent("hv-not-an-elf-\(getpid()).elf")
            try Data("#!/bin/sh\necho not a kernel\n".utf8).write(to: bad)
            defer { try? FileManager.default.removeItem(at: bad) }
            let error = try #require(throws: ToolstackError.self) {
                try toolstack.create(DomainConfig(name: "bad", kernel: bad.path))
            }
            #expect(error.description.contains(bad.lastPathComponent))
            good.finish(toolstack)
            #expect(good.state == .shutdown(.poweroff))
            #expect(toolstack.hypervisor.domains.isEmpty)
        }

        @Test func tooLittleMemoryIsAClearError() throws {
            let toolstack = try makeToolstack()
            let error = try #require(throws: ToolstackError.self) {
                try toolstack.create(DomainConfig(name: "tiny", kernel: try imagePath("hello-c"), memoryBytes: 1 << 20))
            }
            #expect(error.description.contains("memory"))
            #expect(toolstack.hypervisor.domains.isEmpty)
        }
    }
}
