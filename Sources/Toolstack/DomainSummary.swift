import Foundation
import Hypervisor

/// What `list`, `list -l` and `top` show of a running domain (the JSON of those verbs).
public struct DomainSummary: Codable, Sendable {
    public var id: UInt16
    public var name: String
    public var uuid: String
    /// xl's letters: r running, b blocked, p paused, s shutdown, c crashed, d dying.
    public var state: String
    public var memoryKiB: Int
    public var maxMemoryKiB: Int
    public var vcpus: Int
    public var onlineVCPUs: Int
    public var cpuSeconds: Double
    public var hypercalls: UInt64
    public var weight: Int
    public var cap: Int
    public var pages: MemoryPages
    public var disks: [Disk]
    public var vifs: [Vif]
    public var kernel: String
    public var cmdline: String
    public var onPoweroff: String
    public var onReboot: String
    public var onCrash: String
    public var uptimeSeconds: Double
    public var failures: [String]

    /// The memory breakdown in pages.
    public struct MemoryPages: Codable, Sendable {
        public var populated: Int
        public var balloonedOut: Int
        public var pageTables: Int
        public var shared: Int
    }
    public struct Disk: Codable, Sendable {
        public var vdev: String
        public var path: String
        public var writable: Bool
        public var connected: Bool
        public var requests: UInt64
    }
    public struct Vif: Codable, Sendable {
        public var mac: String
        public var bridge: String
        public var connected: Bool
        public var transmitted: UInt64
        public var received: UInt64
        public var dropped: UInt64
    }

    init(_ m: DomainManager.Managed, services: Dom0Services) {
        let d = m.domain
        let stats = d.memoryStats
        let runstates = d.vcpus.map { $0.runstateTimes.state }
        id = d.id
        name = d.name
        uuid = DomainSummary.uuidText(d.handle)
        state = d.isPaused ? "p" : (runstates.contains(.running) || runstates.contains(.runnable) ? "r" : (d.state.isFinal ? "d" : "b"))
        memoryKiB = stats.populated * 4
        maxMemoryKiB = d.maxPages * 4
        vcpus = d.vcpus.count
        onlineVCPUs = d.vcpus.filter { !$0.down.load(ordering: .relaxed) }.count
        cpuSeconds = Double(d.vcpus.reduce(0) { $0 + $1.scheduledNanos }) / 1e9
        hypercalls = d.vcpus.reduce(0) { $0 + $1.hypercallTotal }
        weight = d.weight.load(ordering: .relaxed)
        cap = d.cap.load(ordering: .relaxed)
        pages = MemoryPages(populated: stats.populated, balloonedOut: stats.balloonedOut, pageTables: stats.pageTables, shared: stats.shared)
        disks = services.diskStatus(d.id).map { Disk(vdev: $0.disk.virtualDevice, path: $0.disk.path, writable: $0.disk.writable,
                                                     connected: $0.connected, requests: $0.requests) }
        vifs = services.vifStatus(d.id).map { Vif(mac: $0.vif.macText, bridge: $0.vif.bridge, connected: $0.connected,
                                                  transmitted: $0.transmitted, received: $0.received, dropped: $0.dropped) }
        kernel = m.config.kernel
        cmdline = m.config.cmdline
        onPoweroff = m.policy.onPoweroff.rawValue
        onReboot = m.policy.onReboot.rawValue
        onCrash = m.policy.onCrash.rawValue
        uptimeSeconds = Date().timeIntervalSince(m.created)
        let f = services.failures(d.id)
        let domid = d.id, vdevs = disks.map(\.vdev)
        failures = [f.store.map { "store: \($0)" }, f.console.map { "console: \($0)" }].compactMap { $0 }
            + zip(vdevs, f.disks).compactMap { (vdev, why) in why.map { "\(vdev): \($0)" } }
            + f.vifs.enumerated().compactMap { (i, why) in why.map { "vif\(domid).\(i): \($0)" } }
    }

    /// A 16-byte handle as 8-4-4-4-12 hex.
    static func uuidText(_ h: [UInt8]) -> String {
        let s = h.map { String(format: "%02x", $0) }.joined()
        guard s.count == 32 else { return s }
        let c = Array(s)
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(c[$0]) }.joined(separator: "-")
    }
}

/// An ended domain as `list -l` shows it.
public struct EndedSummary: Codable, Sendable {
    public var id: UInt16
    public var name: String
    public var state: String
    public var reason: String
    public var action: String
    public var preserved: Bool
    public var secondsAgo: Double

    init(_ e: EndedDomain) {
        id = e.id; name = e.name; state = e.state; reason = e.reason; action = e.action; preserved = e.preserved
        secondsAgo = -e.ended.timeIntervalSinceNow
    }
}
