import Foundation
import Hypervisor
import Testing
import Toolstack

extension KVMIntegration {
    /// XenStore and the console ring with a real guest: `xs-walk` talks to Dom0's daemon over its store
    /// ring and prints through the console back-end; Dom0 writes nodes it watches.
    @Suite
    struct XenStoreGuestTests {
        @Test func xsWalkSeesItsTreeAndDom0sWrite() throws {
            let toolstack = try makeToolstack()
            let d = try toolstack.create(DomainConfig(name: "xs-walk", kernel: try imagePath("xs-walk"), memoryBytes: 16 << 20))
            try toolstack.start(d)
            #expect(d.waitForConsole("waiting for dom0 to write data/from-dom0"), "\(d.console.text)")
            try toolstack.services.store.write("/local/domain/\(d.id)/data/from-dom0", "hi from dom0")
            d.finish(within: 60, toolstack)
            try Expectation(image: "xs-walk").check(d)
            #expect(d.console.text.contains("dom0 wrote \"hi from dom0\""))
            #expect(d.console.text.contains("console on the ring"))          // its output came through the console back-end
            // What it wrote is in the store while it lives; its whole directory goes with it.
            #expect(throws: XenStoreError.ENOENT) { _ = try toolstack.services.store.read("/local/domain/\(d.id)") }
        }

        @Test func dom0AsksForAShutdownThroughTheStore() throws {
            let toolstack = try makeToolstack()
            let d = try toolstack.create(DomainConfig(name: "xs-walk", kernel: try imagePath("xs-walk"), memoryBytes: 16 << 20,
                                                      cmdline: "no-dom0 wait-shutdown"))
            try toolstack.start(d)
            #expect(d.waitForConsole("waiting for control/shutdown"), "\(d.console.text)")
            #expect(try toolstack.services.store.read("/local/domain/\(d.id)/data/greeting") == Array("hello from \(d.id)".utf8))
            try toolstack.services.store.write("/local/domain/\(d.id)/control/shutdown", "poweroff")
            d.finish(within: 30, toolstack)
            #expect(d.state == .shutdown(.poweroff), "\(d.console.text)")
            #expect(d.console.text.contains("control/shutdown = poweroff"))
        }
    }
}
