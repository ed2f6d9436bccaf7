import ArgumentParser
import Foundation
import Hypervisor
import Toolstack

/// `hv run IMAGE.elf …`: boot each image as its own domain and stream the consoles until all end.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Boot PV kernel images, one domain each, and stream their consoles until they all stop.",
        discussion: "Exit status: " + ExitStatus.legend
    )

    @Argument(help: "PV guest kernel ELF files.")
    var images: [String]

    @Option(help: "Memory of each domain (e.g. 64M).")
    var memory = ByteSize(bytes: 64 << 20)

    @Option(help: "The most memory each domain may balloon up to (default: --memory).")
    var maxmem: ByteSize?

    @Option(help: "Command line for the guests in start_info: once for all, or once per image, in order.")
    var cmdline: [String] = []

    @Option(help: "Privileged instructions: \"xen\" emulates what Xen emulates for PV guests and bounces the rest as #GP; \"emulate\" also traps and emulates cli, sti and hlt.")
    var privileged: PrivilegedMode = .xen

    @OptionGroup var host: HostOptions

    @Option(help: "Credit-scheduler weight (1–65535, default 256): once for all, or once per image, in order.")
    var weight: [Int] = []

    @Option(help: "Cap in percent of one CPU (0 = none): once for all, or once per image, in order.")
    var cap: [Int] = []

    @Option(help: "A disk, as xl writes it: file:/path/to/image,xvda,w (or ,r). With one image: any number of them; with several: one per image in order (\"none\" for an image without).")
    var disk: [String] = []

    @Option(help: "A network interface, as xl writes it: mac=00:16:3e:00:00:01,bridge=sw0 (vifs on one bridge share a software switch). With one image: any number of them (vif 0, 1 …); with several: one per image in order (\"none\" for an image without).")
    var vif: [String] = []

    @Option(help: "vCPUs of each domain (1–32; the guest brings up all but vCPU 0): once for all, or once per image, in order.")
    var vcpus: [Int] = []

    @Option(help: "Give up and destroy domains still running after this many seconds (0 = wait forever).")
    var timeout: Double = 0

    @Flag(help: "Print no summary, only the consoles and crash reports.")
    var quiet = false

    func validate() throws {
        guard cmdline.count <= 1 || cmdline.count == images.count else {
            throw ValidationError("give --cmdline once (for every image) or once per image (\(images.count)), not \(cmdline.count) times")
        }
        for (name, values) in [("weight", weight), ("cap", cap), ("vcpus", vcpus)] where values.count > 1 && values.count != images.count {
            throw ValidationError("give --\(name) once (for every image) or once per image (\(images.count)), not \(values.count) times")
        }
        guard host.pcpus >= 1 else { throw ValidationError("--pcpus must be at least 1") }
        if images.count > 1, !disk.isEmpty, disk.count != images.count {
            throw ValidationError("with several images give --disk once per image (\(images.count), \"none\" for none), not \(disk.count) times")
        }
        if images.count > 1, !vif.isEmpty, vif.count != images.count {
            throw ValidationError("give --vif once per image (\(images.count), \"none\" for none), not \(vif.count) times")
        }
        for spec in vif where spec != "none" {
            do { _ = try VifSpec(parsing: spec) } catch { throw ValidationError("\(error)") }
        }
        for spec in disk where spec != "none" {
            do { _ = try DiskSpec(parsing: spec) } catch { throw ValidationError("\(error)") }
        }
    }

    /// The value of a once-or-per-image option for image `i`.
    private func perImage<T>(_ values: [T], _ i: Int, default value: T) -> T {
        values.count == images.count ? values[i] : values.first ?? value
    }

    func run() throws {
        let toolstack = try startToolstack(machineMemory: host.machineMemory, pcpus: host.pcpus)
        var domains: [Domain] = []
        var failed = false
        for (i, path) in images.enumerated() {
            let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            let line = perImage(cmdline, i, default: "")
            let disks = (images.count == 1 ? disk : (disk.isEmpty ? [] : [disk[i]])).filter { $0 != "none" }
            do {
                let parsed = try disks.map { (s) throws(ToolstackError) in try DiskSpec(parsing: s) }
                let vifs = try (images.count == 1 ? vif : (vif.isEmpty ? [] : [vif[i]])).filter { $0 != "none" }.enumerated().map {
                    (n, s) throws(ToolstackError) in try VifSpec(parsing: s, defaultSuffix: UInt32((i + 1) << 8 | n))
                }
                domains.append(try toolstack.create(DomainConfig(name: name, kernel: path, memoryBytes: memory.bytes, cmdline: line,
                                                                 privileged: privileged == .emulate ? .emulate : .xen,
                                                                 maxMemoryBytes: maxmem?.bytes,
                                                                 weight: perImage(weight, i, default: 256), cap: perImage(cap, i, default: 0),
                                                                 vcpus: perImage(vcpus, i, default: 1), disks: parsed,
                                                                 vifs: vifs)))
            } catch {
                report("hv: cannot create a domain from \(path): \(error)")
                failed = true
            }
        }
        let outcome = try runDomains(toolstack, domains, prefixed: images.count > 1, timeout: timeout, quiet: quiet)
        throw ExitCode(max(outcome, failed ? 1 : 0))
    }
}

/// `--privileged`: how privileged instructions in the guest kernel are treated.
enum PrivilegedMode: String, ExpressibleByArgument, CaseIterable { case xen, emulate }

/// Starts the toolstack, turning a failure into a clear message and exit status 1.
func startToolstack(machineMemory: ByteSize, pcpus: Int = CreditScheduler.hostCPUs) throws -> Toolstack {
    do {
        return try Toolstack(machineMemoryBytes: machineMemory.bytes, pcpus: pcpus)
    } catch {
        report("hv: \(error)")
        throw ExitCode(1)
    }
}

/// Starts every domain, streams consoles, waits for all of them, prints crash reports and a summary.
/// Returns the exit status (the highest of the domains').
func runDomains(_ toolstack: Toolstack, _ domains: [Domain], prefixed: Bool, timeout: Double, quiet: Bool) throws -> Int32 {
    flushStandardOutput()   // consoles are written straight to fd 1; earlier buffered output goes first
    let mux = ConsoleMux(prefixed: prefixed)
    var status: Int32 = 0
    var startedDomains: [Domain] = []
    for d in domains {
        mux.attach(d)
        do {
            try toolstack.start(d)
            startedDomains.append(d)
        } catch {
            report("hv: cannot start \(d.label): \(error)")
            status = 1
        }
    }
    let started = startedDomains
    // Ctrl-C or SIGTERM: destroy every domain (their memory goes back, the consoles stay), then report as usual.
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
    let interrupts = [SIGINT, SIGTERM].map { DispatchSource.makeSignalSource(signal: $0, queue: .global()) }
    for source in interrupts {
        source.setEventHandler {
            report("hv: interrupted: destroying \(started.count) domain(s)")
            for d in started { toolstack.destroy(d) }
        }
        source.resume()
    }
    defer { interrupts.forEach { $0.cancel() } }
    let deadline = timeout > 0 ? Date().addingTimeInterval(timeout) : nil
    for d in started {
        if let deadline {
            if !d.waitUntilFinished(seconds: max(0, deadline.timeIntervalSinceNow)) {
                report("hv: \(d.label) still running after \(timeout) s: destroying it")
                toolstack.destroy(d)
                d.waitUntilFinished()
            }
        } else {
            d.waitUntilFinished()
        }
        mux.flush(d)
    }
    for d in started {
        if let crash = d.crashReport {
            report("hv: \(d.label) crashed: \(crash.summary)\n\(crash.registers.dump)")
        }
        status = max(status, ExitStatus.code(for: d.state))
    }
    if !quiet {
        for d in started {
            let calls = d.vcpus.reduce(0) { $0 + $1.hypercallTotal }
            let cpu = Double(d.vcpus.reduce(0) { $0 + $1.scheduledNanos }) / 1e9
            let vcpus = d.vcpus.count == 1 ? "1 vcpu" : "\(d.vcpus.count) vcpus"
            report("hv: \(d.label): \(d.state), \(vcpus), \(calls) hypercalls, \(d.nrPages >> 8) MiB (\(d.memoryStats)), \(String(format: "%.2f", cpu)) s CPU")
        }
    }
    return status
}

/// One line (or block) to standard error.
func report(_ text: String) {
    FileHandle.standardError.write((text + "\n").data(using: .utf8)!)
}

/// Flushes C stdio's buffered standard output (`print` goes through it).
func flushStandardOutput() {
    fflush(nil)   // nil flushes every output stream, without touching the global `stdout`
}
