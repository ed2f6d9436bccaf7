import Foundation
import Hypervisor
import Testing
import Toolstack

extension KVMIntegration {
    /// The network back-end and Dom0's switch with real front-ends: two `net-ping` guests on one bridge.
    @Suite
    struct NetworkGuestTests {
        /// An echo guest (10.0.0.2) on `echoBridge` and a pinging guest (10.0.0.1) on sw0, both started.
        func pair(_ toolstack: Toolstack, echoBridge: String, ping: String) throws -> (echo: Domain, ping: Domain) {
            let image = try imagePath("net-ping")
            func make(_ name: String, _ cmdline: String, _ vif: String) throws -> Domain {
                try toolstack.create(DomainConfig(name: name, kernel: image, memoryBytes: 32 << 20, cmdline: cmdline,
                                                  vifs: [try VifSpec(parsing: vif)]))
            }
            let echo = try make("net-echo", "role=echo ip=10.0.0.2", "mac=00:16:3e:00:00:02,bridge=\(echoBridge)")
            let pinger = try make("net-ping", "role=ping ip=10.0.0.1 peer=10.0.0.2 \(ping)", "mac=00:16:3e:00:00:01,bridge=sw0")
            try toolstack.start(echo)
            try toolstack.start(pinger)
            return (echo, pinger)
        }

        @Test func twoGuestsPingAndEchoAcrossTheSwitch() throws {
            let toolstack = try makeToolstack(pcpus: 2)
            let (echo, ping) = try pair(toolstack, echoBridge: "sw0", ping: "bytes=4194304")
            ping.finish(within: 120, toolstack)
            echo.finish(within: 30, toolstack)
            try Expectation(image: "net-ping").check(ping)
            #expect(echo.state == .shutdown(.poweroff), "\(echo.console.text)")
            #expect(echo.console.text.contains("pings answered"), "\(echo.console.text)")
        }

        @Test func aVifOnAnotherBridgeHearsNothing() throws {
            let toolstack = try makeToolstack(pcpus: 2)
            let (echo, ping) = try pair(toolstack, echoBridge: "sw1", ping: "")
            ping.finish(within: 90, toolstack)
            #expect(ping.console.text.contains("FAIL"), "\(ping.console.text)")     // no ARP answer on its own bridge
            toolstack.destroy(echo)
            echo.waitUntilFinished()
        }
    }
}
