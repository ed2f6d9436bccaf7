import Foundation
import Hypervisor

/// `hv bench xenstore`: XenStore round trips from a guest over its store ring (`xs-bench`) against the
/// same requests answered in-process by the same store, and domain creation with Dom0's services on the
/// path against a builder without them, in the same run.
extension Benchmarks {
    /// The round trips (`operations` reads, then as many writes) and the creation rates (median of `rounds`).
    public func xenStore(xsBench: String, operations: Int = 2000, rounds: Int = 15) throws -> [BenchFigure] {
        try xenStoreRoundTrips(image: xsBench, operations: operations) + domainCreation(rounds: rounds)
    }

    /// The guest's READs and WRITEs of its data/bench (one request outstanding, each a ring round trip),
    /// vs Dom0 handing the same wire requests to `XenStore.handle(_:from:)` as that domain: the same
    /// parsing, path resolution and permission checks, without the ring, the event channels and the
    /// service thread's wake-up. The baseline runs while the guest is built but not yet started, five times
    /// (its few milliseconds are easily hit by one preemption; the guest's run is ~50× longer): the median.
    func xenStoreRoundTrips(image: String, operations: Int) throws -> [BenchFigure] {
        let d = try toolstack.create(DomainConfig(name: "xs-bench", kernel: image, memoryBytes: 16 << 20, cmdline: "n=\(operations)"))
        var reads: [Double] = [], writes: [Double] = []
        do {
            for _ in 0..<5 {
                let r = try Benchmarks.inProcessStore(toolstack.services.store, domid: d.id, operations: operations)
                reads.append(r.read)
                writes.append(r.write)
            }
        } catch {
            toolstack.destroy(d)
            throw error
        }
        let host = (read: middle(reads), write: middle(writes))
        try toolstack.start(d)
        if !d.waitUntilFinished(seconds: 300) { toolstack.destroy(d); d.waitUntilFinished() }
        guard d.state == .shutdown(.poweroff), let readLine = Benchmarks.line(d, containing: " reads, "),
              let writeLine = Benchmarks.line(d, containing: " writes, "),
              let readRate = Benchmarks.number(readLine, before: " per second"),
              let writeRate = Benchmarks.number(writeLine, before: " per second") else {
            throw ToolstackError.invalid(object: d.label, problem: "xs-bench ended as \(d.state): \(d.console.text.suffix(400))")
        }
        return [
            BenchFigure("xenstore.read", value: readRate, unit: "ops/s", baseline: host.read,
                        note: "\(operations) XS_READs of an 8-byte node by a guest over its store ring (guest-timed), vs the same requests handled in-process by Dom0 as that domain (median of 5)"),
            BenchFigure("xenstore.write", value: writeRate, unit: "ops/s", baseline: host.write,
                        note: "\(operations) XS_WRITEs of it, likewise"),
        ]
    }

    /// Reads then writes of /local/domain/<domid>/data/bench through `handle(_:from: domid)`, the messages
    /// built as the guest builds them; operations per second for each. Leaves no node behind.
    static func inProcessStore(_ store: XenStore, domid: UInt16, operations: Int) throws -> (read: Double, write: Double) {
        let path = Array("data/bench".utf8) + [0]
        func digits(_ i: Int) -> [UInt8] {
            var out = [UInt8](repeating: 0x30, count: 8), v = i
            for k in stride(from: 7, through: 0, by: -1) { out[k] = UInt8(0x30 + v % 10); v /= 10 }
            return out
        }
        func expect(_ reply: XenStoreMessage, _ type: XenStoreMessageType, bytes: Int = 0) throws {
            guard reply.type == type, type != .read || reply.payload.count == bytes else {
                throw ToolstackError.invalid(object: "XenStore", problem: "in-process \(type) of data/bench answered \(reply.error.map { "\($0)" } ?? "type \(reply.rawType), \(reply.payload.count) bytes")")
            }
        }
        try expect(store.handle(XenStoreMessage(type: .write, requestID: 0, payload: path + digits(0)), from: domid), .write)
        let t0 = monotonicNanos()
        for i in 0..<operations {
            let reply = store.handle(XenStoreMessage(type: .read, requestID: UInt32(truncatingIfNeeded: i), payload: path), from: domid)
            if reply.type != .read || reply.payload.count != 8 { try expect(reply, .read, bytes: 8) }
        }
        let readNs = monotonicNanos() - t0
        let t1 = monotonicNanos()
        for i in 1...max(operations, 1) {
            let reply = store.handle(XenStoreMessage(type: .write, requestID: UInt32(truncatingIfNeeded: i), payload: path + digits(i)), from: domid)
            if reply.type != .write { try expect(reply, .write) }
        }
        let writeNs = monotonicNanos() - t1
        try expect(store.handle(XenStoreMessage(type: .rm, payload: path), from: domid), .rm)
        return (Double(operations) / (Double(max(readNs, 1)) / 1e9), Double(operations) / (Double(max(writeNs, 1)) / 1e9))
    }

    /// Domains created per second, each the `bench` image with n=0 (it powers off after one console write):
    /// load + build + start + wait until it has powered off and been released, with Dom0's services (store
    /// and console rings, grants, two event channels, the /local/domain/N home made and removed) vs a
    /// builder without services (start_info says there is no store). Rounds alternate which goes first.
    func domainCreation(rounds: Int) throws -> [BenchFigure] {
        let config = DomainConfig(name: "xs-create", kernel: image, memoryBytes: memoryBytes, cmdline: "n=0")
        let bare = DomainBuilder(control: toolstack.control, services: nil)
        var with: [Double] = [], without: [Double] = [], buildWith: [Double] = [], buildWithout: [Double] = []
        func once(_ builder: DomainBuilder, lifecycle: inout [Double], build: inout [Double]) throws {
            let t0 = monotonicNanos()
            let d = try builder.build(config)
            let built = monotonicNanos()
            try toolstack.start(d)
            if !d.waitUntilFinished(seconds: 30) { toolstack.destroy(d); d.waitUntilFinished() }
            let t1 = monotonicNanos()
            guard d.state == .shutdown(.poweroff) else {
                throw ToolstackError.invalid(object: d.label, problem: "bench n=0 ended as \(d.state): \(d.console.text.suffix(300))")
            }
            lifecycle.append(Double(t1 - t0))
            build.append(Double(built - t0))
        }
        for round in 0..<rounds {
            if round % 2 == 0 {
                try once(toolstack.builder, lifecycle: &with, build: &buildWith)
                try once(bare, lifecycle: &without, build: &buildWithout)
            } else {
                try once(bare, lifecycle: &without, build: &buildWithout)
                try once(toolstack.builder, lifecycle: &with, build: &buildWith)
            }
        }
        return [
            BenchFigure("xenstore.domain_lifecycle", value: 1e9 / middle(with), unit: "domains/s", baseline: 1e9 / middle(without),
                        note: "load + build + start + power off + release of a \(memoryBytes >> 20) MiB bench guest (n=0), with Dom0's services (XenStore home, store and console rings) vs a builder without services; median of \(rounds)"),
            BenchFigure("xenstore.domain_build", value: 1e9 / middle(buildWith), unit: "domains/s", baseline: 1e9 / middle(buildWithout),
                        note: "the build part alone (ELF load, domain, services attached, page tables, start_info), likewise"),
        ]
    }
}

/// The median of `xs` (0 when empty).
private func middle(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? 0 : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
