import Foundation
import Hypervisor
import Testing
import Toolstack

extension KVMIntegration {
    /// Grant tables and shared rings between real guests: the GuestKit channel, the attack guest, and
    /// teardown while pages are mapped across domains.
    @Suite
    struct GrantTests {
        @Test func aChannelStreams256MiBWithTheChecksumIntact() throws {
            let toolstack = try makeToolstack(pcpus: 2)
            let free = toolstack.hypervisor.frames.freeFrames
            let (p, c) = try Benchmarks.channelPair(toolstack, producer: try imagePath("chan-producer"),
                                                    consumer: try imagePath("chan-consumer"), producerArgs: "bytes=268435456",
                                                    memoryBytes: 16 << 20, timeout: 120)
            try Expectation(image: "chan-producer").check(p)
            try Expectation(image: "chan-consumer").check(c)
            let sent = p.console.text.split(separator: "\n").first { $0.contains("sent 268435456 bytes") }
            let got = c.console.text.split(separator: "\n").first { $0.contains("received 268435456 bytes") }
            let sum = { (l: Substring?) in l?.split(separator: " ").drop { $0 != "checksum" }.dropFirst().first }
            #expect(sum(sent) != nil && sum(sent) == sum(got), "producer: \(sent ?? "-"), consumer: \(got ?? "-")")
            #expect(got?.hasSuffix("ok") == true)
            #expect(toolstack.hypervisor.frames.freeFrames == free)
            #expect(toolstack.hypervisor.orphanedFrames == 0)
        }

        @Test func theAttackGuestGetsXensAnswersAndTheGranterKeepsWorking() throws {
            let toolstack = try makeToolstack(pcpus: 2)
            let image = try imagePath("grant-attack")
            let (granter, attacker) = try Benchmarks.peerPair(
                toolstack, .init(name: "granter", kernel: image) { "role=granter peer=\($0)" },
                .init(name: "attacker", kernel: image) { "role=attacker peer=\($0)" }, memoryBytes: 16 << 20)
            try toolstack.start(granter)
            try toolstack.start(attacker)
            attacker.finish(within: 120, toolstack)
            granter.finish(within: 60, toolstack)
            try Expectation(image: "grant-attack").check(attacker)
            #expect(attacker.console.text.contains("cases as Xen"))
            #expect(granter.state == .shutdown(.poweroff), "granter ended as \(granter.state): \(granter.console.text)")
            #expect(granter.console.text.contains("granter intact"), "\(granter.console.text)")
        }

        @Test func destroyingAProducerWhoseRingsAreMappedLeaksNothing() throws {
            let toolstack = try makeToolstack(pcpus: 2)
            let hv = toolstack.hypervisor
            let free = hv.frames.freeFrames
            let (p, c) = try Benchmarks.peerPair(
                toolstack, .init(name: "chan-producer", kernel: try imagePath("chan-producer")) { "peer=\($0) bytes=1099511627776" },
                .init(name: "chan-consumer", kernel: try imagePath("chan-consumer")) { "peer=\($0)" }, memoryBytes: 16 << 20)
            try toolstack.start(p)
            try toolstack.start(c)
            #expect(c.waitForConsole("connected to domain"), "\(c.console.text)")
            Thread.sleep(forTimeInterval: 0.3)                      // streaming: the consumer maps the producer's rings
            #expect(p.memoryStats.shared > 2, "no grant of the producer is in use: \(p.memoryStats)")
            toolstack.destroy(p)
            #expect(p.waitUntilFinished(seconds: 10))
            #expect(hv.orphanedFrames > 0)                          // its mapped ring pages stay for the consumer
            #expect(c.state == .running || c.state.isFinal)
            toolstack.destroy(c)
            #expect(c.waitUntilFinished(seconds: 10))
            #expect(hv.orphanedFrames == 0)
            #expect(hv.frames.freeFrames == free)
            #expect(hv.domains.isEmpty)
        }
    }
}
