import Foundation
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
