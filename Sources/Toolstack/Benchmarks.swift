import Foundation
import Glibc
import Hypervisor
import KVM

/// One benchmark figure: our value, the baseline measured in the same run, and their ratio.
public struct BenchFigure: Encodable, Sendable {
    public let name: String
    public let value: Double
    public let unit: String
    public let baseline: Double
    public let ratio: Double
    /// What the figure compares, for the table.
    public let note: String

    init(_ name: String, value: Double, unit: String, baseline: Double, note: String) {
        self.name = name; self.value = value; self.unit = unit; self.baseline = baseline
        self.ratio = baseline > 0 ? value / baseline : 0
        self.note = note
    }

    enum CodingKeys: String, CodingKey { case name, value, unit, baseline, ratio }
}

/// The benchmarks of `hv bench`: each measures our path and a minimal C KVM loop on the same guest, in one run.
public struct Benchmarks {
    public let toolstack: Toolstack
    /// The `bench` guest image (does n null hypercalls, then powers off).
    public let image: String
    public let memoryBytes: Int

    public init(toolstack: Toolstack, image: String, memoryBytes: Int = 16 << 20) {
        self.toolstack = toolstack; self.image = image; self.memoryBytes = memoryBytes
    }

    private var platform: KVMPlatform? { toolstack.hypervisor.platform as? KVMPlatform }

    private func config(calls: Int) -> DomainConfig {
        DomainConfig(name: "bench", kernel: image, memoryBytes: memoryBytes, cmdline: "n=\(calls)")
    }

    /// Null hypercall round trip (guest → hypercall page → trampoline → host → back), Swift loop vs C loop.
    public func hypercall(calls: Int = 20_000, rounds: Int = 3) throws -> [BenchFigure] {
        guard let platform else { throw ToolstackError.invalid(object: "bench", problem: "needs the KVM platform") }
        var ours: [Double] = [], base: [Double] = []
        for _ in 0..<rounds {
            let c = try toolstack.create(config(calls: calls))
            let m = try platform.runBaseline(c)
            toolstack.destroy(c)
            c.waitUntilFinished()
            base.append(Double(m.shutdownNanos - m.firstHypercallNanos) / Double(max(1, m.hypercalls - 1)))

            let d = try toolstack.create(config(calls: calls))
            try toolstack.start(d)
            d.waitUntilFinished()
            guard d.state == .shutdown(.poweroff) else {
                throw ToolstackError.invalid(object: d.label, problem: "bench guest ended as \(d.state)")
            }
            let v = d.vcpus[0]
            let span = v.stoppedNanos.load(ordering: .relaxed) - v.firstHypercallNanos.load(ordering: .relaxed)
            ours.append(Double(span) / Double(max(1, v.hypercallTotal - 1)))
        }
        return [BenchFigure("hypercall.null_roundtrip", value: median(ours) / 1000, unit: "us",
                            baseline: median(base) / 1000,
                            note: "xen_version(0) via the hypercall page, Swift exit loop vs minimal C loop, median of \(rounds)×\(calls)")]
    }

    /// Domain creation to its first hypercall, vs the C loop's VM creation to first exit.
    public func boot(rounds: Int = 15) throws -> [BenchFigure] {
        guard let platform else { throw ToolstackError.invalid(object: "bench", problem: "needs the KVM platform") }
        var ours: [Double] = [], base: [Double] = []
        // Alternate which side goes first: creating a VM right after another was torn down is slower
        // (the kernel is still reclaiming the old one), and neither side should always pay that.
        for round in 0..<rounds {
            let baseline = { () throws -> Void in
                let c = try toolstack.create(config(calls: 0))
                let m = try platform.runBaseline(c, stopAfterFirstExit: true)
                toolstack.destroy(c)
                c.waitUntilFinished()
                base.append(Double(m.createToFirstExitNanos))
            }
            let swift = { () throws -> Void in
                let t0 = monotonicNanos()
                let d = try toolstack.create(config(calls: 0))
                try toolstack.start(d)
                d.waitUntilFinished()
                let first = d.vcpus[0].firstHypercallNanos.load(ordering: .relaxed)
                guard first > t0 else { throw ToolstackError.invalid(object: d.label, problem: "made no hypercall") }
                ours.append(Double(first - t0))
            }
            if round % 2 == 0 { try baseline(); try swift() } else { try swift(); try baseline() }
        }
        return [BenchFigure("boot.create_to_first_hypercall", value: median(ours) / 1e6, unit: "ms",
                            baseline: median(base) / 1e6,
                            note: "ELF load + build + VM + vCPU thread → first hypercall, vs C: VM + slots + vCPU → first exit; median of \(rounds), \(memoryBytes >> 20) MiB guest")]
    }

    /// The same privileged work done by trap-and-emulate and by the paravirtual way, timed by the guest
    /// (pvclock) in the bench image's modes: value = trapped, baseline = paravirtual.
    public func trapVersusPV(operations: Int = 10_000) throws -> [BenchFigure] {
        let pairs: [(name: String, trapped: String, pv: String, note: String)] = [
            ("trap_vs_pv.virtual_if_toggle", "cli", "mask",
             "cli/sti trapped and emulated (privileged=emulate) vs writing vcpu_info.evtchn_upcall_mask"),
            ("trap_vs_pv.cr0_ts_clear", "clts", "fputs", "clts trapped and emulated vs fpu_taskswitch(0) hypercall"),
            ("trap_vs_pv.fs_base_write", "wrmsr", "segbase", "wrmsr FS_BASE trapped and emulated vs set_segment_base hypercall"),
        ]
        var figures: [BenchFigure] = []
        for p in pairs {
            let trapped = try guestTimed(mode: p.trapped, operations: operations)
            let pv = try guestTimed(mode: p.pv, operations: operations)
            figures.append(BenchFigure(p.name, value: trapped / 1000, unit: "us", baseline: pv / 1000,
                                       note: p.note + ", \(operations) operations, per operation"))
        }
        return figures
    }

    /// Interdomain event round trip between two `pingpong` guests, against the platform's floor (two VMs
    /// alternating exits, wakes and resumes in a minimal C loop) and against two host threads on eventfds.
    public func eventChannel(pingpongImage: String, rounds: Int = 2000) throws -> [BenchFigure] {
        guard let platform else { throw ToolstackError.invalid(object: "bench", problem: "needs the KVM platform") }
        let ours = try pingpongRoundTrip(image: pingpongImage, rounds: rounds)
        let a = try toolstack.create(config(calls: 1_000_000_000))
        let b = try toolstack.create(config(calls: 1_000_000_000))
        let floor = try platform.baselineVMPingPong(a, b, rounds: UInt64(rounds))
        toolstack.destroy(a)
        toolstack.destroy(b)
        let eventfd = try KVMPlatform.eventfdPingPong(rounds: UInt64(rounds * 10))
        return [
            BenchFigure("evtchn.roundtrip", value: ours / 1000, unit: "us", baseline: floor / 1000,
                        note: "pingpong guests, send + block each way (guest-timed), vs the C floor: two VMs alternating exit, wake, resume"),
            BenchFigure("evtchn.roundtrip_vs_eventfd", value: ours / 1000, unit: "us", baseline: eventfd / 1000,
                        note: "the same round trip vs two host threads ping-ponging over eventfds"),
        ]
    }

    /// Runs a server and a client `pingpong` domain; nanoseconds per round trip as the client measured it.
    func pingpongRoundTrip(image: String, rounds: Int) throws -> Double {
        let (server, client) = try Benchmarks.pingpongPair(toolstack, image: image, rounds: rounds, memoryBytes: memoryBytes)
        try toolstack.start(server)
        try toolstack.start(client)
        client.waitUntilFinished()
        server.waitUntilFinished()
        let text = client.console.text
        guard client.state == .shutdown(.poweroff), let each = text.range(of: " us each"),
              let value = Double(text[..<each.lowerBound].split(separator: " ").last ?? "") else {
            throw ToolstackError.invalid(object: client.label, problem: "pingpong ended as \(client.state): \(text)")
        }
        return value * 1000
    }

    /// The first port a guest allocates itself: ports 1 and 2 are its store and console channels to Dom0,
    /// made by the builder (as Xen's).
    public static let firstGuestPort = 3

    /// Builds a `pingpong` server and client that know each other's domain id and the server's port.
    public static func pingpongPair(_ toolstack: Toolstack, image: String, rounds: Int, memoryBytes: Int = 16 << 20) throws -> (Domain, Domain) {
        try peerPair(toolstack, PeerSpec(name: "pingpong-server", kernel: image) { "role=server peer=\($0) n=\(rounds)" },
                     PeerSpec(name: "pingpong-client", kernel: image) { "role=client peer=\($0) port=\(firstGuestPort) n=\(rounds)" },
                     memoryBytes: memoryBytes)
    }

    /// One domain of a pair: its command line is made from the other's domain id.
    public struct PeerSpec {
        public let name: String
        public let kernel: String
        public let cmdline: (UInt16) -> String
        public init(name: String, kernel: String, cmdline: @escaping (UInt16) -> String) {
            self.name = name; self.kernel = kernel; self.cmdline = cmdline
        }
    }

    /// Builds two domains that know each other's id (there is no XenStore yet to tell them). Ids are handed
    /// out in order, so the first is told the id the second is about to get, and that is checked.
    public static func peerPair(_ toolstack: Toolstack, _ first: PeerSpec, _ second: PeerSpec, memoryBytes: Int = 16 << 20) throws -> (Domain, Domain) {
        let probe = try toolstack.create(DomainConfig(name: first.name, kernel: first.kernel, memoryBytes: memoryBytes, cmdline: first.cmdline(0)))
        let firstID = probe.id + 1
        toolstack.destroy(probe)
        probe.waitUntilFinished()
        let a = try toolstack.create(DomainConfig(name: first.name, kernel: first.kernel, memoryBytes: memoryBytes,
                                                  cmdline: first.cmdline(firstID + 1)))
        let b = try toolstack.create(DomainConfig(name: second.name, kernel: second.kernel, memoryBytes: memoryBytes,
                                                  cmdline: second.cmdline(a.id)))
        guard a.id == firstID, b.id == firstID + 1 else {
            toolstack.destroy(a)
            toolstack.destroy(b)
            throw ToolstackError.invalid(object: "\(first.name) and \(second.name)", problem: "domain ids were not handed out in order")
        }
        return (a, b)
    }

    /// Timer lateness of the `timer` guest (median and p99 over its sleeps) against a host thread
    /// sleeping the same 10 ms intervals with clock_nanosleep in the same run.
    public func timer(timerImage: String) throws -> [BenchFigure] {
        let d = try toolstack.create(DomainConfig(name: "timer", kernel: timerImage, memoryBytes: memoryBytes))
        try toolstack.start(d)
        d.waitUntilFinished()
        let text = d.console.text
        func number(after key: String) -> Double? {
            guard let r = text.range(of: key) else { return nil }
            return Double(text[r.upperBound...].prefix { $0.isNumber || $0 == "." })
        }
        guard d.state == .shutdown(.poweroff), let median = number(after: "median lateness "), let p99 = number(after: "p99 ") else {
            throw ToolstackError.invalid(object: d.label, problem: "timer guest ended as \(d.state): \(text)")
        }
        var host: [Double] = []
        for _ in 0..<20 {
            let t0 = monotonicNanos()
            var req = timespec(tv_sec: 0, tv_nsec: 10_000_000)
            nanosleep(&req, nil)
            host.append(Double(monotonicNanos() - t0 - 10_000_000) / 1000)
        }
        host.sort()
        return [
            BenchFigure("timer.lateness_median", value: median, unit: "us", baseline: host[host.count / 2],
                        note: "guest singleshot timer + block, 10 ms sleeps, vs a host thread's nanosleep"),
            BenchFigure("timer.lateness_p99", value: p99, unit: "us", baseline: host[host.count - 1],
                        note: "the same, 99th percentile (host: worst of 20)"),
        ]
    }

    /// PTE updates through mmu_update in batches of 1, 16, 256 and 4096, each next to the null hypercall
    /// measured in the same run, and the trapped alternative (direct stores emulated by the writable
    /// page-tables assist) next to a batch of one. The guest checks every batch at CPL 3.
    public func mmu(updates: Int = 4096) throws -> [BenchFigure] {
        let null = try hypercall(calls: 5000, rounds: 1)[0].value
        var figures: [BenchFigure] = []
        var single = 0.0
        for batch in [1, 16, 256, 4096] {
            let perUpdate = try guestTimed(mode: "mmu\(batch)", operations: updates) / 1000
            if batch == 1 { single = perUpdate }
            figures.append(BenchFigure("mmu.update_batch\(batch)", value: perUpdate, unit: "us", baseline: null,
                                       note: String(format: "per PTE update, %.0f updates/s; baseline: one null hypercall", 1e6 / perUpdate)))
        }
        let trapped = try guestTimed(mode: "ptwr", operations: min(updates, 1024)) / 1000
        figures.append(BenchFigure("mmu.trapped_pte_write", value: trapped, unit: "us", baseline: single,
                                   note: "a direct store into the page table, faulted and emulated, vs mmu_update of one entry"))
        return figures
    }

    /// Runs the bench image in `mode` and returns nanoseconds per operation (its total_ns / n).
    private func guestTimed(mode: String, operations: Int) throws -> Double {
        var config = DomainConfig(name: "bench-\(mode)", kernel: image, memoryBytes: memoryBytes, cmdline: "mode=\(mode) n=\(operations)")
        config.privileged = .emulate
        let d = try toolstack.create(config)
        try toolstack.start(d)
        d.waitUntilFinished()
        let text = d.console.text
        guard d.state == .shutdown(.poweroff), let range = text.range(of: "total_ns="),
              let total = Double(text[range.upperBound...].prefix { $0.isNumber }) else {
            throw ToolstackError.invalid(object: d.label, problem: "bench mode \(mode) ended as \(d.state): \(text)")
        }
        return total / Double(max(operations, 1))
    }

    private func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.isEmpty ? 0 : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
