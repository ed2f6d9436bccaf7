import Foundation
import HyperABI
import Testing
@testable import Hypervisor
import Toolstack

/// Dom0's XenStore and console back-ends over a guest's rings (fake platform: the test plays the guest).
@Suite struct Dom0ServicesTests {
    typealias S = StoreRingLayout
    typealias C = ConsoleRingLayout

    /// A guest connected to Dom0's services, its store ring in page 5 (pfn 9), its console ring in page 6 (pfn 10).
    func connected() throws -> (TinyGuest, Dom0Services, (store: UInt32, console: UInt32)) {
        let hv = try makeHypervisor()
        let services = Dom0Services(control: hv.control)
        let g = try TinyGuest(hypervisor: hv)
        let ports = try services.attach(g.domain, config: DomainConfig(name: "tiny", kernel: "-"), storePFN: 9, consolePFN: 10)
        return (g, services, ports)
    }

    func send(_ g: TinyGuest, _ port: UInt32) throws {
        try g.pokeWords(page: 7, [UInt64(port)])
        #expect(g.call(32, 4, g.va(page: 7)).rax == 0)
    }




    @Test func everyVifOfADomainGetsItsOwnDeviceAndBackEnd() throws {
        let hv = try makeHypervisor()
        let services = Dom0Services(control: hv.control)
        defer { withExtendedLifetime(services) {} }
        let g = try TinyGuest(hypervisor: hv)
        let vifs = [try VifSpec(parsing: "mac=00:16:3e:00:00:0a,bridge=sw0"), try VifSpec(parsing: "mac=00:16:3e:00:00:0b,bridge=sw1")]
        _ = try services.attach(g.domain, config: DomainConfig(name: "two", kernel: "-", vifs: vifs), storePFN: 9, consolePFN: 10)
        let id = g.domain.id
        for (handle, vif) in vifs.enumerated() {
            #expect(String(decoding: try services.store.read("/local/domain/\(id)/device/vif/\(handle)/mac"), as: UTF8.self) == vif.macText)
            #expect(String(decoding: try services.store.read("/local/domain/0/backend/vif/\(id)/\(handle)/handle"), as: UTF8.self) == "\(handle)")
            #expect(String(decoding: try services.store.read("/local/domain/0/backend/vif/\(id)/\(handle)/bridge"), as: UTF8.self) == vif.bridge)
        }
        #expect(services.vifStatus(id).map(\.vif) == vifs)
    }

    @Test func aReadOverTheStoreRingIsAnswered() throws {
        let (g, services, ports) = try connected()
        defer { withExtendedLifetime(services) {} }
        let request = XenStoreMessage(type: .read, requestID: 7, payload: Array("domid\0".utf8)).encoded()
        try g.poke(page: 5, offset: S.request, request)
        try g.setWord32(page: 5, at: S.requestProducer, UInt32(request.count))
        try send(g, ports.store)
        #expect(try eventually { try g.word32(page: 5, at: S.responseProducer) > 0 })
        let produced = Int(try g.word32(page: 5, at: S.responseProducer))
        let reply = try XenStoreMessage.decode(try g.peek(page: 5, offset: S.response, count: produced))
        #expect(reply.type == .read && reply.requestID == 7)
        #expect(String(decoding: reply.payload, as: UTF8.self) == "\(g.domain.id)")
        #expect(try g.word32(page: 5, at: S.requestConsumer) == UInt32(request.count))
    }

    @Test func consoleOutputReachesTheLogAndABrokenStoreRingEndsOnlyThatConnection() throws {
        let (g, services, ports) = try connected()
        try g.poke(page: 6, offset: C.output, Array("hello ring".utf8))
        try g.setWord32(page: 6, at: C.outputProducer, 10)
        try send(g, ports.console)
        #expect(eventually { g.domain.console.text.contains("hello ring") })
        #expect(try g.word32(page: 6, at: C.outputConsumer) == 10)
        // req_prod 5000 bytes ahead of a 1024-byte ring: the store connection ends, with the reason in the ring.
        try g.setWord32(page: 5, at: S.requestProducer, 5000)
        try send(g, ports.store)
        #expect(try eventually { try g.word32(page: 5, at: S.error) == S.errorRingIndex })
        #expect(services.failures(g.domain.id).store?.contains("5000") == true)
        // The console goes on.
        try g.poke(page: 6, offset: C.output + 10, Array(" again".utf8))
        try g.setWord32(page: 6, at: C.outputProducer, 16)
        try send(g, ports.console)
        #expect(eventually { g.domain.console.text.contains("hello ring again") })
    }

    @Test func theDomainsStoreNodesComeAndGoWithIt() throws {
        let (g, services, _) = try connected()
        let id = g.domain.id
        #expect(try services.store.read("/local/domain/\(id)/name") == Array("tiny".utf8))
        #expect(try services.store.read("/local/domain/\(id)/store/ring-ref") == Array("1".utf8))
        g.hypervisor.control.destroy(g.domain)
        #expect(g.domain.waitUntilFinished(seconds: 5))
        #expect(throws: XenStoreError.ENOENT) { _ = try services.store.read("/local/domain/\(id)") }
        #expect(g.hypervisor.orphanedFrames == 0)          // Dom0 let go of the ring pages before the frames went
    }
}
