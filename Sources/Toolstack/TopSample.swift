import Foundation
import Hypervisor
import Synchronization

/// One refresh of `hv top`: every domain's CPU share, memory, vCPUs, I/O and hypercall rate since the
/// previous sample (or since it was created).
public struct TopSample: Codable, Sendable {
    public struct Row: Codable, Sendable {
        public var id: UInt16
        public var name: String
        public var state: String
        public var cpuSeconds: Double
        /// Percent of one CPU over the interval.
        public var cpuPercent: Double
        public var memoryKiB: Int
        public var memoryPercent: Double
        public var maxMemoryKiB: Int
        public var vcpus: Int
        public var blockRequests: UInt64
        public var netTransmitted: UInt64
        public var netReceived: UInt64
        public var hypercallsPerSecond: Double
    }
    public var intervalSeconds: Double
    public var domains: [Row]
    public var freeMemoryKiB: Int
    public var totalMemoryKiB: Int
    public var pcpus: Int
}

/// The counters of the previous `top` sample, per domain.
struct TopCounters: Sendable {
    var at: UInt64
    var cpuNanos: UInt64
    var hypercalls: UInt64
}

extension DomainManager {
    /// Samples every domain now; rates are over the time since the last sample of that domain.
    public func topSample() -> TopSample {
        let now = monotonicNanos()
        let counters = control.counters
        let services = toolstack.services
        var interval = 0.0
        let rows: [TopSample.Row] = domains.map { m in
            let s = DomainSummary(m, services: services)
            let cpu = m.domain.vcpus.reduce(0) { $0 + $1.scheduledNanos }
            let current = TopCounters(at: now, cpuNanos: cpu, hypercalls: s.hypercalls)
            let before = previousTop.withLock { p in
                defer { p[m.domain.id] = current }
                return p[m.domain.id]
            } ?? TopCounters(at: now - UInt64(max(0.001, -m.created.timeIntervalSinceNow) * 1e9), cpuNanos: 0, hypercalls: 0)
            let seconds = max(1e-6, Double(now - before.at) / 1e9)
            interval = max(interval, seconds)
            return TopSample.Row(id: s.id, name: s.name, state: s.state, cpuSeconds: s.cpuSeconds,
                                 cpuPercent: Double(cpu &- before.cpuNanos) / 1e9 / seconds * 100,
                                 memoryKiB: s.memoryKiB, memoryPercent: Double(s.memoryKiB) / Double(counters.totalFrames * 4) * 100,
                                 maxMemoryKiB: s.maxMemoryKiB, vcpus: s.vcpus, blockRequests: s.disks.reduce(0) { $0 + $1.requests },
                                 netTransmitted: s.vifs.reduce(0) { $0 + $1.transmitted }, netReceived: s.vifs.reduce(0) { $0 + $1.received },
                                 hypercallsPerSecond: Double(s.hypercalls &- before.hypercalls) / seconds)
        }
        let ids = Set(rows.map(\.id))
        previousTop.withLock { p in p = p.filter { ids.contains($0.key) } }
        return TopSample(intervalSeconds: interval, domains: rows, freeMemoryKiB: counters.freeFrames * 4,
                         totalMemoryKiB: counters.totalFrames * 4, pcpus: counters.pcpus)
    }
}

extension ControlVerbs {
    /// xentop's screen: a summary line and one row per domain.
    static func renderTop(_ s: TopSample) -> String {
        let header = "hv top - \(s.domains.count) domains, \(s.pcpus) pcpus, memory \(s.totalMemoryKiB >> 10) MiB total, \(s.freeMemoryKiB >> 10) MiB free"
        return header + "\n" + textTable(
            ["NAME", "ID", "STATE", "CPU(sec)", "CPU(%)", "MEM(k)", "MEM(%)", "MAXMEM(k)", "VCPUS", "VBD_RQ", "NET_TX", "NET_RX", "HCALLS/s"],
            s.domains.map {
                [$0.name, "\($0.id)", $0.state, String(format: "%.1f", $0.cpuSeconds), String(format: "%.1f", $0.cpuPercent), "\($0.memoryKiB)",
                 String(format: "%.1f", $0.memoryPercent), "\($0.maxMemoryKiB)", "\($0.vcpus)", "\($0.blockRequests)", "\($0.netTransmitted)",
                 "\($0.netReceived)", String(format: "%.0f", $0.hypercallsPerSecond)]
            }, rightAligned: Set(1...12).subtracting([2]))
    }
}
