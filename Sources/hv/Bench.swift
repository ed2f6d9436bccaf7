import ArgumentParser
import Foundation
import Toolstack

/// `hv bench NAME`: performance figures as ratios against a baseline measured in the same run.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a path against a baseline (a minimal C KVM loop, host threads, the host's own I/O) in the same run.",
        discussion: """
        hypercall: null hypercall round trip. boot: domain creation to first hypercall.
        trap-vs-pv: the same privileged work trapped and emulated vs done the paravirtual way.
        evtchn: interdomain event round trip vs the platform floor and vs eventfd.
        timer: timer lateness vs a host thread's nanosleep.
        mmu: PTE updates by mmu_update in batches of 1, 16, 256, 4096 vs the null hypercall; the trapped alternative.
        sched: fairness for weights 1:2:4, switch rate and host CPU per switch, wake-up latency with the CPUs oversubscribed 4x.
        idle: host CPU and memory per idle domain at 100 and 1000 domains.
        chan: guest-to-guest channel throughput (64 B, 4 KiB, 64 KiB writes) vs a host pipe; grant copy vs map.
        blk: sequential disk writes and reads, and random 4 KiB ones, by a guest through blkif vs the host on an image file.
        net: UDP stream and round trips between two guests across Dom0's software switch vs host threads over loopback UDP.
        xenstore: XenStore reads and writes over a guest's store ring vs in-process; domain creations per second with and without Dom0's services.
        lifecycle: domains created and destroyed through the daemon's socket vs the toolstack directly; save/restore of a 256 MiB guest vs copying a 256 MiB file.
        all: every benchmark.
        """)

    enum Name: String, ExpressibleByArgument, CaseIterable { case hypercall, boot, trapVsPV = "trap-vs-pv", evtchn, timer, mmu, sched, idle, chan, blk, net, xenstore, lifecycle, all }

    @Argument(help: "hypercall, boot, trap-vs-pv, evtchn, timer, mmu, sched, idle, chan, blk, net, xenstore, lifecycle or all.")
    var name: Name

    @Option(help: "The bench guest image.")
    var image = defaultImagePath("bench")

    @Option(help: "Null hypercalls per round (hypercall bench).")
    var calls = 20_000

    @Option(help: "Rounds; the median is reported.")
    var rounds: Int?

    @Option(help: "Data moved by blk (its image), net (its stream) and lifecycle (the saved guest's memory); default 256M, 64M, 256M.")
    var data: ByteSize?

    @Option(help: "Domains created and destroyed by the lifecycle bench.")
    var lifecycleDomains = 100

    @Option(help: "Idle domain counts for the idle bench, comma-separated.")
    var domains = "100,1000"

    @Flag(help: "Print JSON: one object per figure with name, value, unit, baseline, ratio.")
    var json = false

    func validate() throws {
        guard lifecycleDomains >= 1 else { throw ValidationError("--lifecycle-domains must be at least 1") }
        if let data, data.bytes < 4 << 20 || data.bytes % (1 << 20) != 0 {
            throw ValidationError("--data must be a whole number of MiB, at least 4M (got \(data))")
        }
        guard !idleCounts.isEmpty, idleCounts.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--domains wants positive counts separated by commas, e.g. 100,1000 (got \"\(domains)\")")
        }
    }

    private var idleCounts: [Int] { domains.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() throws {
        let toolstack = try startToolstack(machineMemory: ByteSize(bytes: 1 << 30))
        let bench = Benchmarks(toolstack: toolstack, image: image)
        var figures: [BenchFigure] = []
        do {
            if name == .hypercall || name == .all { figures += try bench.hypercall(calls: calls, rounds: rounds ?? 3) }
            if name == .boot || name == .all { figures += try bench.boot(rounds: rounds ?? 15) }
            if name == .trapVsPV || name == .all { figures += try bench.trapVersusPV() }
            if name == .evtchn || name == .all { figures += try bench.eventChannel(pingpongImage: defaultImagePath("pingpong")) }
            if name == .timer || name == .all { figures += try bench.timer(timerImage: defaultImagePath("timer")) }
            if name == .mmu || name == .all { figures += try bench.mmu() }
            if name == .sched || name == .all {
                figures += try bench.scheduler(spinnerImage: defaultImagePath("spinner"), pingpongImage: defaultImagePath("pingpong"))
            }
            if name == .idle || name == .all { figures += try bench.idle(image: defaultImagePath("idle"), counts: idleCounts) }
            if name == .blk || name == .all { figures += try bench.block(selftest: defaultImagePath("blk-selftest"), bytes: data?.bytes ?? 256 << 20) }
            if name == .chan || name == .all {
                figures += try bench.channel(producer: defaultImagePath("chan-producer"), consumer: defaultImagePath("chan-consumer"))
            }
            if name == .net || name == .all { figures += try bench.network(netPing: defaultImagePath("net-ping"), bytes: data?.bytes ?? 64 << 20) }
            if name == .xenstore || name == .all { figures += try bench.xenStore(xsBench: defaultImagePath("xs-bench"), rounds: rounds ?? 15) }
            if name == .lifecycle || name == .all { figures += try bench.lifecycle(idleImage: defaultImagePath("idle"), count: lifecycleDomains, saveMiB: (data?.bytes ?? 256 << 20) >> 20) }
        } catch {
            report("hv: bench \(name.rawValue): \(error)")
            throw ExitCode(1)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(figures), as: UTF8.self))
            return
        }
        print("figure                                 value          baseline        ratio")
        for f in figures {
            let v = String(format: "%11.4f %@", f.value, f.unit)
            let b = String(format: "%11.4f %@", f.baseline, f.unit)
            print("\(f.name.padding(toLength: 34, withPad: " ", startingAt: 0))  \(v)  \(b)   \(String(format: "%8.2f", f.ratio))")
            print("  \(f.note)")
        }
    }
}

/// Images/build/NAME.elf, found from the working directory or next to the hv binary's package.
func defaultImagePath(_ name: String) -> String {
    let relative = "Images/build/\(name).elf"
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<6 {
        let candidate = dir.appendingPathComponent(relative).path
        if FileManager.default.fileExists(atPath: candidate) { return candidate }
        dir.deleteLastPathComponent()
    }
    return relative
}
