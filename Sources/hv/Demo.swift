import ArgumentParser
import Foundation
import Hypervisor
import Toolstack

/// `hv demo`: the built-in default job, a short scripted tour with the sample guests.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Boot the sample guests side by side and show what the hypervisor saw (a scripted demo).")

    @Flag(help: "Skip the short benchmark at the end.")
    var noBench = false

    func run() throws {
        let images = ["hello-c", "hello-swift", "faults", "traps"].map { defaultImagePath($0) }
        for path in images + ["pingpong", "spinner", "smp", "chan-producer", "chan-consumer", "timer", "agent"].map(defaultImagePath) where !FileManager.default.fileExists(atPath: path) {
            report("hv: \(path) is missing: build the images with `make -C Images` (or run `make demo`)")
            throw ExitCode(1)
        }
        step("1. What the loader finds in a PV kernel image (hv elf-info \(images[0]))")
        try ElfInfo.parse([images[0]]).run()

        step("2. Four domains, each in its own KVM VM, guest kernels at ring 3 (hv run …)")
        let toolstack = try startToolstack(machineMemory: ByteSize(bytes: 1 << 30))
        var domains: [Domain] = []
        for path in images {
            let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            domains.append(try toolstack.create(DomainConfig(name: name, kernel: path, memoryBytes: 32 << 20, cmdline: "demo")))
        }
        _ = try runDomains(toolstack, domains, prefixed: true, timeout: 60, quiet: true)

        step("3. What the hypervisor saw")
        print("  id  name          state                 exit  hypercalls  exits  memory   populated  ballooned  page tables")
        for d in domains {
            let v = d.vcpus[0]
            let state = String(describing: d.state)
            print("  \(pad(d.id, 2))  \(pad(d.name, 12))  \(pad(state, 20))  \(pad(ExitStatus.code(for: d.state), 4))  \(pad(v.hypercallTotal, 10))  \(pad(v.exits.load(ordering: .relaxed), 5))  \(pad("\(d.nrPages >> 8) MiB", 7))  \(pad(d.memoryStats.populated, 9))  \(pad(d.memoryStats.balloonedOut, 9))  \(d.memoryStats.pageTables)")
        }
        for d in domains {
            for (nr, count, _) in d.vcpus[0].hypercallCounts {
                let name = nr.flatMap { HyperABIName.of($0) } ?? (nr.map { "#\($0)" } ?? "≥64")
                print("    \(d.name): \(name) ×\(count)")
            }
        }

        step("4. Two domains talking over an interdomain event channel (pingpong: send + poll in one multicall)")
        let (server, client) = try Benchmarks.pingpongPair(toolstack, image: defaultImagePath("pingpong"), rounds: 300)
        _ = try runDomains(toolstack, [server, client], prefixed: true, timeout: 60, quiet: true)

        step("5. Sharing one physical CPU: two spinners with weights 256 and 512 (hv run --pcpus 1 --weight …)")
        let single = try startToolstack(machineMemory: ByteSize(bytes: 256 << 20), pcpus: 1)
        let spinners = try [256, 512].map { w in
            try single.create(DomainConfig(name: "spinner-w\(w)", kernel: defaultImagePath("spinner"), memoryBytes: 8 << 20,
                                           cmdline: "seconds=2", weight: w))
        }
        _ = try runDomains(single, spinners, prefixed: true, timeout: 30, quiet: true)
        let cpu = spinners.map { Double($0.vcpus[0].scheduledNanos) / 1e9 }
        print(String(format: "  CPU held: %.2f s and %.2f s, a ratio of %.2f (the weights say 2)", cpu[0], cpu[1], cpu[0] > 0 ? cpu[1] / cpu[0] : 0))

        step("6. One domain, four vCPUs on two physical CPUs: IPIs round a ring, a spinlock, a vCPU down and up (hv run --vcpus 4)")
        let smp = try toolstack.create(DomainConfig(name: "smp", kernel: defaultImagePath("smp"), memoryBytes: 16 << 20, vcpus: 4))
        _ = try runDomains(toolstack, [smp], prefixed: true, timeout: 60, quiet: true)
        print("  vcpu  state     running ms  runnable ms  blocked ms  offline ms  hypercalls")
        for v in smp.vcpus {
            let (state, t) = v.runstateTimes
            let ms = t.map { String(format: "%.1f", Double($0) / 1e6) }
            print("  \(pad(v.id, 4))  \(pad(state, 8))  \(pad(ms[0], 10))  \(pad(ms[1], 11))  \(pad(ms[2], 10))  \(pad(ms[3], 10))  \(v.hypercallTotal)")
        }

        step("7. Zero-copy sharing: a producer streams 64 MiB to a consumer over granted ring pages (grant tables + an event channel)")
        let (producer, consumer) = try Benchmarks.channelPair(toolstack, producer: defaultImagePath("chan-producer"),
                                                              consumer: defaultImagePath("chan-consumer"), producerArgs: "bytes=67108864",
                                                              memoryBytes: 16 << 20, timeout: 60)
        for d in [producer, consumer] {
            for line in d.console.text.split(separator: "\n") where line.contains("bytes in") { print("  \(line)") }
        }

        step("8. The Dom0 toolstack: domains from xl.cfg files, inspected, ballooned, saved and restored (hv create, list, pagetable, mem-set, save, restore)")
        try toolstackTour()

        if !noBench {
            step("9. A quick benchmark: null hypercall, Swift exit loop vs a minimal C KVM loop (hv bench hypercall)")
            try Bench.parse(["hypercall", "--calls", "5000", "--rounds", "1"]).run()
        }
        step("Done. Try: hv shell --demo (the Dom0 shell with demo domains), hv run Images/build/hello-c.elf, hv bench all, hv --help")
    }

    /// Runs the shell's verbs against an in-process daemon and prints what a user would see.
    private func toolstackTour() throws {
        let dir = NSTemporaryDirectory() + "hv-demo-tour-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let host = try DaemonHost(socket: dir + "/control.sock", machineMemory: ByteSize(bytes: 512 << 20), pcpus: CreditScheduler.hostCPUs, echoLog: false)
        defer { host.shutdown() }
        try "name = \"ticker\"\nkernel = \"\(defaultImagePath("timer"))\"\nmemory = 32\ncmdline = \"count period_ms=100\"\n"
            .write(toFile: dir + "/ticker.cfg", atomically: false, encoding: .utf8)
        try "name = \"agent\"\nkernel = \"\(defaultImagePath("agent"))\"\nmemory = 64\nmaxmem = 64\n"
            .write(toFile: dir + "/agent.cfg", atomically: false, encoding: .utf8)
        func hv(_ argv: [String]) {
            print("hv> " + argv.joined(separator: " "))
            let reply = ControlVerbs.execute(ControlRequest(argv: argv, cwd: dir), manager: host.manager)
            let text = reply.error.map { "error: " + $0 } ?? reply.text
            if !text.isEmpty { print(text.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")) }
            flushStandardOutput()
        }
        hv(["create", "ticker.cfg"])
        hv(["create", "agent.cfg"])
        Thread.sleep(forTimeInterval: 0.5)
        hv(["list"])
        hv(["pagetable", "ticker", "0x400000"])
        hv(["mem-set", "agent", "32m"])
        Thread.sleep(forTimeInterval: 2)
        hv(["list"])
        hv(["save", "ticker", "ticker.save"])
        hv(["restore", "ticker.save"])
        Thread.sleep(forTimeInterval: 0.5)
        if let ticker = host.manager.find("ticker") {
            let ticks = ticker.domain.console.text.split(separator: "\n").filter { $0.contains("tick") }.suffix(2)
            print("  ticker's console after the restore: " + ticks.joined(separator: " / "))
        }
        hv(["dmesg"])
    }

    private func step(_ title: String) {
        print("\n== \(title)")
        flushStandardOutput()
    }
    private func pad(_ v: Any, _ n: Int) -> String { "\(v)".padding(toLength: n, withPad: " ", startingAt: 0) }
}
