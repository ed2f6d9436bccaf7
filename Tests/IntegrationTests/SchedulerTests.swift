import Foundation
import Hypervisor
import Testing
import Toolstack

extension KVMIntegration {
    /// The credit scheduler with real guests: weights, caps, the priority hint, preemption and destroy.
    @Suite
    struct SchedulerTests {
        /// The vCPU threads of this process (every thread, less the ones that were there before).
        static func threadCount() -> Int {
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0
        }

        func spinner(_ toolstack: Toolstack, _ name: String, weight: Int = 256, cap: Int = 0, cmdline: String = "") throws -> Domain {
            let d = try toolstack.create(DomainConfig(name: name, kernel: try imagePath("spinner"), memoryBytes: 8 << 20, cmdline: cmdline,
                                                      weight: weight, cap: cap))
            try toolstack.start(d)
            return d
        }

        @Test func weightsOneToTwoShareOnePhysicalCPUOneToTwo() throws {
            let toolstack = try makeToolstack(pcpus: 1)
            let light = try spinner(toolstack, "light", weight: 256), heavy = try spinner(toolstack, "heavy", weight: 512)
            defer { for d in [light, heavy] { toolstack.destroy(d); d.waitUntilFinished() } }
            #expect(light.waitForConsole("kloops/s") && heavy.waitForConsole("kloops/s"), "\(light.console.text)\n\(heavy.console.text)")
            #expect(toolstack.control.schedulerCredit(heavy).weight == 512)
            let s = Benchmarks.shares([light, heavy], over: 10)
            let ratio = s[1] / s[0]
            #expect(abs(ratio - 2) <= 0.1, "heavy:light CPU = \(ratio) (shares \(s)), want 2 ± 5%; switches \(toolstack.hypervisor.scheduler.switches.load(ordering: .relaxed)), pcpus \(toolstack.hypervisor.scheduler.pcpus)")
            // Work-conserving and no more than the one CPU there is.
            #expect(s[0] + s[1] > 0.9 && s[0] + s[1] < 1.02, "shares \(s) of one physical CPU")
        }

        @Test func aCapOf25PercentHoldsOnAnIdleMachine() throws {
            let toolstack = try makeToolstack()
            let d = try spinner(toolstack, "capped", cap: 25)
            defer { toolstack.destroy(d); d.waitUntilFinished() }
            #expect(d.waitForConsole("kloops/s"), "\(d.console.text)")
            let share = Benchmarks.shares([d], over: 5)[0]
            #expect(abs(share - 0.25) <= 0.25 * 0.05, "capped at 25% it got \(share * 100)% of a CPU")
        }

        @Test func backgroundWorkYieldsToNormalWorkAndUsesTheCPUAlone() throws {
            let toolstack = try makeToolstack(pcpus: 1)
            let normal = try spinner(toolstack, "normal")
            #expect(normal.waitForConsole("kloops/s"), "\(normal.console.text)")
            let background = try spinner(toolstack, "background", cmdline: "background")
            defer { for d in [normal, background] { toolstack.destroy(d); d.waitUntilFinished() } }
            Thread.sleep(forTimeInterval: 0.5)    // it gets a slice to make its hint, then should get nothing
            let together = Benchmarks.shares([normal, background], over: 3)
            #expect(together[1] < 0.05, "background-marked spinner got \(together[1] * 100)% next to a normal one")
            #expect(together[0] > 0.9, "the normal spinner got only \(together[0] * 100)%")
            // Alone, background work has the whole CPU.
            toolstack.destroy(normal)
            normal.waitUntilFinished()
            #expect(background.waitForConsole("kloops/s"), "\(background.console.text)")
            let alone = Benchmarks.shares([background], over: 2)[0]
            #expect(alone > 0.9, "alone, the background-marked spinner got \(alone * 100)%")
        }

        /// As Xen's credit scheduler, a yield lets a waiting vCPU of the same priority go first; it is not a
        /// surrender of the yielder's share (credit brings it back), and alone it costs nothing.
        @Test func yieldingHandsTheCPUOnButKeepsTheFairShare() throws {
            let toolstack = try makeToolstack(pcpus: 1)
            let greedy = try spinner(toolstack, "greedy"), polite = try spinner(toolstack, "polite", cmdline: "yield")
            defer { for d in [greedy, polite] { toolstack.destroy(d); d.waitUntilFinished() } }
            #expect(greedy.waitForConsole("kloops/s") && polite.waitForConsole("kloops/s"), "\(greedy.console.text)\n\(polite.console.text)")
            let s = Benchmarks.shares([greedy, polite], over: 3)
            #expect(abs(s[0] - 0.5) < 0.1 && abs(s[1] - 0.5) < 0.1, "greedy \(s[0] * 100)%, yielding \(s[1] * 100)% of one CPU")
            toolstack.destroy(greedy)
            greedy.waitUntilFinished()
            Thread.sleep(forTimeInterval: 0.2)
            let alone = Benchmarks.shares([polite], over: 2)[0]
            #expect(alone > 0.9, "alone, the yielding spinner got \(alone * 100)%")
        }

        /// Runstate under preemption: the four times add up to the time that passed, and time spent
        /// waiting for the one physical CPU shows as runnable (steal), about half each for two spinners.
        @Test func runstateStaysExactUnderPreemption() throws {
            let toolstack = try makeToolstack(pcpus: 1)
            let pair = try (0..<2).map { try spinner(toolstack, "spin-\($0)", cmdline: "seconds=3") }
            for d in pair {
                d.finish(toolstack)
                let line = d.console.text.split(separator: "\n").first { $0.contains("runstate ms:") } ?? ""
                let n = line.split(whereSeparator: { !$0.isNumber }).compactMap { Double($0) }
                guard n.count == 5 else { Issue.record("no runstate line: \(d.console.text)"); continue }
                let (running, runnable, blocked, offline, elapsed) = (n[0], n[1], n[2], n[3], n[4])
                #expect(abs(running + runnable + blocked + offline - elapsed) <= max(30, elapsed * 0.01), "\(line)")
                #expect(runnable > elapsed * 0.35 && runnable < elapsed * 0.65, "\(line)")
                #expect(running > elapsed * 0.35 && running < elapsed * 0.65, "\(line)")
            }
        }

        @Test func theBackgroundImageReportsBothKindsOfWork() throws {
            let toolstack = try makeToolstack(pcpus: 1)
            let d = try toolstack.create(DomainConfig(name: "background", kernel: try imagePath("background"), memoryBytes: 8 << 20,
                                                      cmdline: "seconds=3"))
            try toolstack.start(d)
            d.finish(toolstack)
            try Expectation(image: "background").check(d)
            // Alone, both kinds of work run at about the same rate.
            let rates = d.console.text.split(separator: "\n").compactMap { line -> (Double, Double)? in
                let n = line.split(whereSeparator: { !$0.isNumber }).compactMap { Double($0) }
                return line.contains("normal") && n.count == 2 ? (n[0], n[1]) : nil
            }
            #expect(rates.count >= 2, "\(d.console.text)")
            for (n, b) in rates.dropFirst() { #expect(b > n * 0.5 && b < n * 2, "normal \(n), background \(b) kloops/s alone") }
        }

        @Test func destroyingDomainsWhosevCPUsArePreemptedLeavesNoThread() throws {
            let toolstack = try makeToolstack(pcpus: 1)
            let before = Self.threadCount()
            let spinners = try (0..<4).map { try spinner(toolstack, "spin-\($0)") }
            Thread.sleep(forTimeInterval: 0.3)    // one runs, three wait for the physical CPU (or were preempted)
            #expect(spinners.contains { $0.vcpus[0].scheduledNanos > 0 })
            for d in spinners { toolstack.destroy(d) }
            for d in spinners { #expect(d.waitUntilFinished(seconds: 10), "\(d.label) did not finish") }
            for d in spinners { #expect(d.state == .destroyed) }
            var after = Self.threadCount()
            let t0 = Date()
            while after > before && Date().timeIntervalSince(t0) < 5 { usleep(10_000); after = Self.threadCount() }
            #expect(after <= before, "\(after - before) thread(s) left behind")
            #expect(toolstack.hypervisor.domains.isEmpty)
        }
    }
}
