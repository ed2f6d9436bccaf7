import Foundation
import Hypervisor

/// `hv bench sched` and `hv bench idle`: the credit scheduler under contention, and what idle domains cost.
extension Benchmarks {
    /// Fairness for weights 1:2:4 on one physical CPU; switch rate and host CPU per switch with the
    /// physical CPUs oversubscribed 4×; event wake-up latency under that load against the same pingpong idle.
    public func scheduler(spinnerImage: String, pingpongImage: String, window: Double = 4) throws -> [BenchFigure] {
        var figures: [BenchFigure] = []

        // Fairness: its own hypervisor with one physical CPU, so the weights are all that divide it.
        let single = try Toolstack(machineMemoryBytes: 256 << 20, pcpus: 1)
        let weights = [256, 512, 1024]
        let fair = try weights.map { w in
            try single.create(DomainConfig(name: "spinner-w\(w)", kernel: spinnerImage, memoryBytes: 8 << 20, weight: w))
        }
        defer { for d in fair { single.destroy(d); d.waitUntilFinished() } }
        for d in fair { try single.start(d) }
        Thread.sleep(forTimeInterval: 1)
        let shares = Benchmarks.shares(fair, over: window)
        let total = Double(weights.reduce(0, +))
        var worst = 0.0
        for (w, share) in zip(weights, shares) {
            let ideal = Double(w) / total
            worst = max(worst, abs(share / ideal - 1))
            figures.append(BenchFigure("sched.share.weight\(w)", value: share * 100, unit: "%", baseline: ideal * 100,
                                       note: "CPU share of a spinner with weight \(w) of 256:512:1024 on one physical CPU, vs its ideal share"))
        }
        figures.append(BenchFigure("sched.fairness_error", value: worst * 100, unit: "%", baseline: 5,
                                   note: "largest |share / ideal − 1| of the three, vs the ±5% the scheduler promises"))

        // Oversubscribed 4×: spinners on every physical CPU, four deep.
        let pcpus = toolstack.hypervisor.scheduler.pcpus
        let load = try (0..<4 * pcpus).map { i in
            try toolstack.create(DomainConfig(name: "spinner-\(i)", kernel: spinnerImage, memoryBytes: 8 << 20))
        }
        defer { for d in load { toolstack.destroy(d); d.waitUntilFinished() } }
        let idleLatency = try pingpongRoundTrip(image: pingpongImage, rounds: 1000) / 2
        for d in load { try toolstack.start(d) }
        Thread.sleep(forTimeInterval: 1)
        let scheduler = toolstack.hypervisor.scheduler
        let switches0 = scheduler.switches.load(ordering: .relaxed), overhead0 = scheduler.overheadNanos.load(ordering: .relaxed), t0 = Date()
        Thread.sleep(forTimeInterval: window)
        let wall = Date().timeIntervalSince(t0)
        let switches = Double(scheduler.switches.load(ordering: .relaxed) - switches0)
        let overhead = Double(scheduler.overheadNanos.load(ordering: .relaxed) - overhead0)
        let handoff = Benchmarks.threadHandoffNanos()
        figures.append(BenchFigure("sched.switches_per_s", value: switches / wall, unit: "/s", baseline: Double(pcpus) * 1e9 / Double(CreditScheduler.slice),
                                   note: "grants and preemptions with \(4 * pcpus) spinners on \(pcpus) physical CPUs, vs one switch per CPU per 30 ms slice"))
        let perSwitch = switches > 0 ? overhead / switches : 0
        figures.append(BenchFigure("sched.host_cpu_per_switch", value: perSwitch / 1000, unit: "us", baseline: handoff / 1000,
                                   note: "host CPU (thread clocks) in the scheduler's decisions (grants, releases, ticks) per switch, vs two host threads handing off over a semaphore"))
        figures.append(BenchFigure("sched.host_cpu_share", value: overhead / wall / 1e7, unit: "% core", baseline: 1,
                                   note: "the scheduler's share of one host core meanwhile, vs 1%"))
        let busyLatency = try pingpongRoundTrip(image: pingpongImage, rounds: 1000) / 2
        figures.append(BenchFigure("sched.wakeup_latency_4x", value: busyLatency / 1000, unit: "us", baseline: idleLatency / 1000,
                                   note: "event send to the peer's callback (half a pingpong round trip) with \(4 * pcpus) spinners on \(pcpus) CPUs, vs the same without them"))
        return figures
    }

    /// Host CPU and resident memory per idle domain, at each count in `counts`.
    public func idle(image: String, counts: [Int] = [100, 1000], window: Double = 3) throws -> [BenchFigure] {
        var figures: [BenchFigure] = []
        let memory = 4 << 20
        for n in counts {
            let host = try Toolstack(machineMemoryBytes: n * memory + (256 << 20))
            let rss0 = HostUsage.residentBytes()
            var domains: [Domain] = []
            defer { for d in domains { host.destroy(d) }; for d in domains { d.waitUntilFinished() } }
            for i in 0..<n {
                let d = try host.create(DomainConfig(name: "idle-\(i)", kernel: image, memoryBytes: memory))
                try host.start(d)
                domains.append(d)
            }
            let deadline = Date().addingTimeInterval(60)
            for d in domains {
                while !d.console.text.contains("blocking forever") {
                    guard Date() < deadline, !d.state.isFinal else {
                        throw ToolstackError.invalid(object: d.label, problem: "did not settle: \(d.state), console: \(d.console.text)")
                    }
                    usleep(5_000)
                }
            }
            Thread.sleep(forTimeInterval: 0.5)
            let cpu0 = HostUsage.cpuSeconds(), t0 = Date()
            Thread.sleep(forTimeInterval: window)
            let share = (HostUsage.cpuSeconds() - cpu0) / Date().timeIntervalSince(t0)
            let perDomain = Double(HostUsage.residentBytes() - rss0) / Double(n)
            figures.append(BenchFigure("idle.cpu.\(n)", value: share * 100, unit: "% core", baseline: 1,
                                       note: "host CPU of \(n) idle domains (blocked, no timer), vs the target of 1% of one core"))
            figures.append(BenchFigure("idle.memory.\(n)", value: perDomain / 1024, unit: "KiB", baseline: Double(memory) / 1024,
                                       note: "resident host memory per idle domain (everything: VM, vCPU thread, touched RAM), vs its \(memory >> 20) MiB of RAM"))
        }
        return figures
    }

    /// Seconds of physical CPU the domain's vCPUs held so far.
    public static func held(_ d: Domain) -> Double { Double(d.vcpus.reduce(0) { $0 + $1.scheduledNanos }) / 1e9 }

    /// The share of `seconds` of wall time each domain held a physical CPU.
    public static func shares(_ domains: [Domain], over seconds: Double) -> [Double] {
        let before = domains.map(held), t0 = Date()
        Thread.sleep(forTimeInterval: seconds)
        let wall = Date().timeIntervalSince(t0)
        return zip(domains.map(held), before).map { ($0 - $1) / wall }
    }

    /// Nanoseconds for one host thread to wake another over a semaphore and be woken back, halved.
    static func threadHandoffNanos(rounds: Int = 20_000) -> Double {
        let ping = DispatchSemaphore(value: 0), pong = DispatchSemaphore(value: 0)
        let peer = Thread {
            for _ in 0..<rounds { ping.wait(); pong.signal() }
        }
        peer.start()
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<rounds { ping.signal(); pong.wait() }
        return Double(DispatchTime.now().uptimeNanoseconds - t0) / Double(rounds) / 2
    }
}
