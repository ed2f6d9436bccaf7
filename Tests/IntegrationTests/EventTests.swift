import Foundation
import HyperABI
import Hypervisor
import Testing
import Toolstack

extension KVMIntegration {
    /// Life at ring 3 under KVM: traps, timers, interdomain events, blocking.
    @Suite
    struct EventTests {
        @Test(arguments: ["traps", "timer"])
        func imageDoesWhatItsExpectFileSays(_ image: String) throws {
            let toolstack = try makeToolstack()
            let d = try toolstack.create(DomainConfig(name: image, kernel: try imagePath(image), memoryBytes: 32 << 20))
            try toolstack.start(d)
            d.finish(toolstack)
            try Expectation(image: image).check(d)
            #expect(!d.console.text.contains("FAILED"), "\(d.console.text)")
        }

        @Test func pingpongPassesEventsBetweenTwoDomains() throws {
            let toolstack = try makeToolstack()
            let (server, client) = try Benchmarks.pingpongPair(toolstack, image: try imagePath("pingpong"), rounds: 500)
            try toolstack.start(server)
            try toolstack.start(client)
            client.finish(toolstack)
            server.finish(toolstack)
            try Expectation(image: "pingpong").check(client)
            #expect(client.console.text.contains("500 round trips"), "\(client.console.text)")
            #expect(server.state == .shutdown(.poweroff), "server: \(server.state)\n\(server.console.text)")
        }

        @Test func aPeerKilledMidPingPongLeavesTheOtherRunningAndTold() throws {
            let toolstack = try makeToolstack()
            let (server, client) = try Benchmarks.pingpongPair(toolstack, image: try imagePath("pingpong"), rounds: 1_000_000)
            try toolstack.start(server)
            try toolstack.start(client)
            // Let them exchange events for a while, then kill the server.
            let t0 = Date()
            while client.vcpus[0].hypercallTotal < 100 && Date().timeIntervalSince(t0) < 20 { usleep(2_000) }
            #expect(client.state == .running)
            toolstack.destroy(server)
            server.waitUntilFinished()
            #expect(server.state == .destroyed)
            // The client sees its port revert (Xen's close semantics), says so and powers off cleanly.
            #expect(client.waitForConsole("peer gone", seconds: 15), "\(client.console.text)")
            client.finish(toolstack)
            #expect(client.state == .shutdown(.poweroff))
        }

        @Test func idleDomainsCostNoCPU() throws {
            let toolstack = try makeToolstack(2 << 30)
            let image = try imagePath("idle")
            var domains: [Domain] = []
            for i in 0..<200 {
                let d = try toolstack.create(DomainConfig(name: "idle-\(i)", kernel: image, memoryBytes: 4 << 20))
                try toolstack.start(d)
                domains.append(d)
            }
            for d in domains { #expect(d.waitForConsole("idle: blocking forever"), "\(d.label): \(d.console.text)") }
            usleep(300_000)                                         // let the last ones settle into SCHEDOP_block
            let before = HostUsage.cpuSeconds()
            let wall = Date()
            sleep(5)
            let used = HostUsage.cpuSeconds() - before
            let share = used / Date().timeIntervalSince(wall)
            for d in domains { try Expectation(image: "idle").check(d) }
            #expect(share < 0.02, "200 idle domains used \(share * 100)% of one core")
            for d in domains { toolstack.destroy(d) }
            for d in domains { #expect(d.waitUntilFinished(seconds: 10)) }
            #expect(toolstack.hypervisor.domains.isEmpty)
        }
    }
}
