import CBaseline
import Foundation
import Hypervisor

/// `hv bench chan`: the GuestKit channel (a granted ring pair and an event channel between two domains)
/// against a pipe between two host threads, and GNTTABOP_copy against map + unmap for one page.
extension Benchmarks {
    /// The results a `chan-producer` / `chan-consumer` pair printed.
    public struct ChannelRun {
        public let producer: Domain
        public let consumer: Domain
        /// Consumer-timed throughput in MiB/s, and whether it matched the producer's checksum.
        public let mibPerSecond: Double
        public let checksumsAgree: Bool
    }

    /// Runs a `chan-producer` (command line `producerArgs` after its peer) and a `chan-consumer` until both end.
    public static func channelPair(_ toolstack: Toolstack, producer: String, consumer: String, producerArgs: String,
                                   consumerArgs: String = "", memoryBytes: Int = 32 << 20, timeout: Double = 300) throws -> (Domain, Domain) {
        let (p, c) = try peerPair(toolstack,
                                  PeerSpec(name: "chan-producer", kernel: producer) { "peer=\($0) \(producerArgs)" },
                                  PeerSpec(name: "chan-consumer", kernel: consumer) { "peer=\($0) \(consumerArgs)" },
                                  memoryBytes: memoryBytes)
        try toolstack.start(p)
        try toolstack.start(c)
        for d in [c, p] where !d.waitUntilFinished(seconds: timeout) {
            toolstack.destroy(d)
            d.waitUntilFinished()
        }
        return (p, c)
    }

    /// Runs a producer streaming `bytes` in `message`-byte writes to a consumer reading pieces of the same
    /// size (as the pipe baseline does); both end by themselves.
    public static func channel(_ toolstack: Toolstack, producer: String, consumer: String, bytes: Int, message: Int,
                               memoryBytes: Int = 32 << 20, timeout: Double = 300) throws -> ChannelRun {
        let (p, c) = try channelPair(toolstack, producer: producer, consumer: consumer, producerArgs: "bytes=\(bytes) msg=\(message) order=8",
                                     consumerArgs: "chunk=\(message)", memoryBytes: memoryBytes, timeout: timeout)
        let sent = line(p, containing: "checksum"), got = line(c, containing: "checksum")
        guard c.state == .shutdown(.poweroff), let got, let rate = number(got, before: " MiB/s") else {
            throw ToolstackError.invalid(object: c.label, problem: "channel consumer ended as \(c.state): \(c.console.text.suffix(600))")
        }
        let agree = sent.map { checksum($0) } == checksum(got) && checksum(got) != nil && got.hasSuffix("ok")
        return ChannelRun(producer: p, consumer: c, mibPerSecond: rate, checksumsAgree: agree)
    }

    public func channel(producer: String, consumer: String, bytes: Int = 64 << 20) throws -> [BenchFigure] {
        var figures: [BenchFigure] = []
        for message in [64, 4096, 65536] {
            let run = try Benchmarks.channel(toolstack, producer: producer, consumer: consumer, bytes: bytes, message: message)
            guard run.checksumsAgree else {
                throw ToolstackError.invalid(object: "chan", problem: "checksums differ: \(run.consumer.console.text.suffix(300))")
            }
            var pipe = cbaseline_pipe_result()
            cbaseline_pipe_stream(UInt64(bytes), UInt32(message), &pipe)
            guard pipe.error == 0, pipe.checksum_ok == 1 else {
                throw ToolstackError.invalid(object: "host pipe", problem: "baseline failed: \(HypervisorError.hostErrnoName(-pipe.error))")
            }
            let hostRate = Double(pipe.bytes) / 1_048_576 / (Double(pipe.ns) / 1e9)
            figures.append(BenchFigure("chan.throughput.\(message)B", value: run.mibPerSecond, unit: "MiB/s", baseline: hostRate,
                                       note: "\(bytes >> 20) MiB in \(message)-byte writes, guest to guest over a granted ring (consumer-timed, checksummed), vs a pipe between two host threads"))
        }
        // Grant copy vs grant map for one 4 KiB page: one operation per hypercall, then 256 per call.
        let (_, c) = try Benchmarks.channelPair(toolstack, producer: producer, consumer: consumer, producerArgs: "bench=grant pages=256")
        let lines = c.console.text.split(separator: "\n").filter { $0.contains("grant copy") }
        let pairs = lines.compactMap { l in
            Benchmarks.number(l, before: " us/page,").flatMap { c in Benchmarks.number(l, before: " us/page", last: true).map { (c, $0) } }
        }
        guard pairs.count == 2 else {
            throw ToolstackError.invalid(object: c.label, problem: "no grant figures: \(c.console.text.suffix(400))")
        }
        figures.append(BenchFigure("grant.copy_4k", value: pairs[0].0, unit: "us", baseline: pairs[0].1,
                                   note: "GNTTABOP_copy of a granted 4 KiB page vs map_grant_ref + read + unmap_grant_ref, one op per call (guest-timed)"))
        figures.append(BenchFigure("grant.copy_4k_batched", value: pairs[1].0, unit: "us", baseline: pairs[1].1,
                                   note: "the same with 256 pages per grant_table_op call (per page)"))
        return figures
    }

    static func line(_ d: Domain, containing text: String) -> Substring? {
        d.console.text.split(separator: "\n").last { $0.contains(text) }
    }

    /// The number right before `marker` in `line` (the first such marker, or the last).
    static func number(_ line: Substring, before marker: String, last: Bool = false) -> Double? {
        guard let r = last ? line.range(of: marker, options: .backwards) : line.range(of: marker) else { return nil }
        return Double(line[..<r.lowerBound].split(separator: " ").last ?? "")
    }

    static func checksum(_ line: Substring) -> Substring? {
        guard let r = line.range(of: "checksum ") else { return nil }
        return line[r.upperBound...].split(separator: " ").first
    }
}
