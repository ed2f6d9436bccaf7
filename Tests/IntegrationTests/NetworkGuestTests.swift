import Foundation
import Hypervisor
import Testing
import Toolstack

extension KVMIntegration {
    /// The network back-end and Dom0's switch with real front-ends: two `net-ping` guests on one bridge.
    @Suite
    struct NetworkGuestTests {
        @Test func twoGuestsPingAndEchoAcrossTheSwitch() throws {
            let toolstack = try makeToolstack(pcpus: 2)
            let image = try imagePath("net-ping")
            let echo = try toolstack.create(DomainConfig(name: "net-echo", kernel: image, memoryBytes: 32 << 20, cmdline: "role=echo ip=10.0.0.2",
                                                         vifs: [try VifSpec(parsing: "mac=00:16:3e:00:00:02,bridge=sw0")]))
            let ping = try toolstack.create(DomainConfig(name: "net-ping", kernel: image, memoryBytes: 32 << 20,
                                                         cmdline: "role=ping ip=10.0.0.1 peer=10.0.0.2 bytes=4194304",
                                                         vifs: [try VifSpec(parsing: "mac=00:16:3e:00:00:01,bridge=sw0")]))
            try toolstack.start(echo)
            try toolstack.start(ping)
            ping.finish(within: 120, toolstack)
            echo.finish(within: 30, toolstack)
            try Expectation(image: "net-ping").check(ping)
            #expect(echo.state == .shutdown(.poweroff), "\(echo.console.text)")
            #expect(echo.console.text.contains("pings answered"), "\(echo.console.text)")
        }

        @Test func aVifOnAnotherBridgeHearsNothing() throws {
            let toolstack = try makeToolstack(pcpus: 2)
            let image = try imagePath("net-ping")
            let echo = try toolstack.create(DomainConfig(name: "net-echo", kernel: image, memoryBytes: 32 << 20, cmdline: "role=echo ip=10.0.0.2",
                                                         vifs: [try VifSpec(parsing: "mac=00:16:3e:00:00:02,bridge=sw1")]))
            let ping = try toolstack.create(DomainConfig(name: "net-ping", kernel: image, memoryBytes: 32 << 20,
                                                         cmdline: "role=ping ip=10.0.0.1 peer=10.0.0.2",
                                                         vifs: [try VifSpec(parsing: "mac=00:16:3e:00:00:01,bridge=sw0")]))
            try toolstack.start(echo)
            try toolstack.start(ping)
            ping.finish(within: 90, toolstack)
            #expect(ping.console.text.contains("FAIL"), "\(ping.console.text)")     // no ARP answer on its own bridge
            toolstack.destroy(echo)
            echo.waitUntilFinished()
        }
    }
}
