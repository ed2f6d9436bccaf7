import Foundation
import Testing
import Toolstack

/// `hv daemon` and the verbs that talk to it, driven the way a user drives them: separate `hv`
/// processes over the control socket, output read as text and as JSON.
final class DaemonProcess {
    let socket: String
    let process = Process()
    let dir: String
    private let errors = Pipe()

    /// Starts `hv daemon` on a fresh socket and waits until it answers.
    init(memory: String = "512M") throws {
        dir = NSTemporaryDirectory() + "hv-daemon-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        socket = dir + "/control.sock"
        process.executableURL = try hvBinary()
        process.arguments = ["daemon", "--socket", socket, "--machine-memory", memory]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: socket) {
            guard Date() < deadline, process.isRunning else { throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "daemon socket \(socket)"]) }
            usleep(20_000)
        }
    }

    deinit { stop() }

    /// SIGTERM: the daemon destroys its domains and removes the socket.
    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Runs `hv ARGS` against this daemon.
    @discardableResult
    func hv(_ args: String...) throws -> (status: Int32, out: String, err: String) { try hv(args) }

    func hv(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        try runHV(args, environment: ["HV_SOCKET": socket])
    }

    /// `hv ARGS --json`, parsed.
    func json(_ args: String...) throws -> Any {
        let r = try hv(args + ["--json"])
        guard r.status == 0 else { throw CocoaError(.coderInvalidValue, userInfo: [NSDebugDescriptionErrorKey: "hv \(args): \(r.err)"]) }
        return try JSONSerialization.jsonObject(with: Data(r.out.utf8))
    }

    /// The running domains as `list --json` gives them.
    func domains() throws -> [[String: Any]] {
        (try json("list") as? [String: Any])?["domains"] as? [[String: Any]] ?? []
    }

    /// Writes an xl.cfg file in the daemon's directory; returns its path.
    func config(_ name: String, _ text: String) throws -> String {
        let path = dir + "/\(name).cfg"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Polls until `condition` holds (at most `seconds`).
    func eventually(_ seconds: Double = 20, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            if try condition() { return true }
            usleep(50_000)
        } while Date() < deadline
        return false
    }
}

/// The hv binary built next to the test bundle (or .build/debug).
func hvBinary() throws -> URL {
    var dir = Bundle.main.bundleURL
    for _ in 0..<3 {
        let candidate = dir.appendingPathComponent("hv")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        dir.deleteLastPathComponent()
    }
    let fallback = packageRoot.appendingPathComponent(".build/debug/hv")
    guard FileManager.default.isExecutableFile(atPath: fallback.path) else {
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "hv binary (swift build first)"])
    }
    return fallback
}

/// Runs hv with extra environment; standard input is empty.
func runHV(_ args: [String], environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = try hvBinary()
    p.arguments = args
    p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

extension KVMIntegration {
    @Suite
    struct DaemonTests {
        @Test func verbsWithoutADaemonSayHowToStartOne() throws {
            let r = try runHV(["list"], environment: ["HV_SOCKET": NSTemporaryDirectory() + "no-daemon-\(getpid()).sock"])
            #expect(r.status == 1)
            #expect(r.err.contains("no hypervisor daemon answers"))
            #expect(r.err.contains("hv daemon"))
            let help = try runHV(["help", "pagetable"])
            #expect(help.status == 0)
            #expect(help.out.contains("usage: hv pagetable DOM [VA]"))
        }

        @Test func badConfigsAreRefusedWithFileLineKeyAndWhatIsAccepted() throws {
            let d = try DaemonProcess()
            let kernel = try imagePath("idle")
            let bad = try d.config("bad", "name = \"x\"\nkernel = \"\(kernel)\"\nmemory = \"lots\"\n")
            let r = try d.hv("create", bad)
            #expect(r.status == 1)
            #expect(r.err.contains("bad.cfg:3: memory:"), "\(r.err)")
            #expect(r.err.contains("accepted:"))
            let unknown = try d.config("unknown", "name = \"x\"\nkernel = \"\(kernel)\"\ncolour = \"blue\"\n")
            let u = try d.hv("create", unknown)
            #expect(u.err.contains("unknown.cfg:3: colour:"), "\(u.err)")
            #expect(try d.domains().isEmpty)               // nothing booted
        }

        @Test func createListPauseInspectDestroyLeavesNoLeaks() throws {
            let d = try DaemonProcess()
            let before = try #require(try d.json("info") as? [String: Any])
            #expect(before["activeGrants"] as? Int == 0)
            let cfg = try d.config("idle", "name = \"sleepy\"\nkernel = \"\(try imagePath("idle"))\"\nmemory = 32\nvcpus = 2\n")
            let created = try d.hv("create", cfg)
            #expect(created.status == 0, "\(created.err)")
            #expect(created.out.contains("created domain 1 (sleepy)"))
            #expect((try d.json("info") as? [String: Any])?["activeGrants"] as? Int == 2)   // Dom0 maps its store and console rings
            let list = try d.hv("list")
            #expect(list.out.contains("sleepy"))
            #expect(list.out.contains("Name"))
            var domains = try d.domains()
            #expect(domains.first?["name"] as? String == "sleepy")
            #expect(domains.first?["vcpus"] as? Int == 2)
            #expect(domains.first?["memoryKiB"] as? Int == 32 << 10)
            #expect(try d.hv("create", cfg).err.contains("already running"))

            #expect(try d.hv("pause", "sleepy").status == 0)
            domains = try d.domains()
            #expect(domains.first?["state"] as? String == "p")
            let regs = try d.hv("vcpu-regs", "sleepy", "0")
            #expect(regs.out.contains("rip"), "\(regs.err)")
            #expect(try d.hv("unpause", "sleepy").status == 0)
            #expect(try d.domains().first?["state"] as? String != "p")
            #expect(try d.hv("unpause", "sleepy").err.contains("not paused"))

            // The hypervisor's own view: Dom0's two channels, the two seeded grants, the page tables, the P2M.
            let ports = try #require(try d.json("evtchn", "sleepy") as? [[String: Any]])
            #expect(ports.filter { $0["remoteDomain"] as? Int == 0 }.count == 2)
            #expect(try d.hv("evtchn", "1").out.contains("(Dom0)"))
            let grants = try #require(try d.json("grants", "sleepy") as? [String: Any])
            #expect((grants["entries"] as? [[String: Any]])?.map { $0["ref"] as? Int } == [0, 1])
            let walk = try d.hv("pagetable", "sleepy", "0x400000")
            #expect(walk.out.contains("L4 table") && walk.out.contains("L1 table") && walk.out.contains("maps 0x400000"), "\(walk.out)\(walk.err)")
            #expect(try d.hv("pagetable", "sleepy").out.contains("P W U"))
            let memmap = try #require(try d.json("memmap", "sleepy") as? [[String: Any]])
            #expect(memmap.reduce(0) { $0 + ($1["pages"] as? Int ?? 0) } == 8192)
            #expect(memmap.contains { $0["kind"] as? String == "page-table" })
            let calls = try #require(try d.json("hypercalls", "sleepy") as? [[String: Any]])
            #expect(calls.contains { $0["name"] as? String == "sched_op" })
            #expect(try d.hv("xenstore-read", "/local/domain/1/name").out == "sleepy\n")
            #expect(try d.hv("xenstore-write", "/local/domain/1/data/x", "42").status == 0)
            #expect(try d.hv("xenstore-ls", "/local/domain/1").out.contains("x = \"42\""))
            #expect(try d.hv("xenstore-rm", "/local/domain/1/data/x").status == 0)
            #expect(try d.hv("sched-credit", "-d", "sleepy", "-w", "512").out.contains("512"))
            #expect(try d.hv("sched-credit", "-d", "sleepy", "-w", "0").status == 64)
            #expect(try d.hv("top", "-b", "-n", "1").out.contains("sleepy"))

            let gone = try d.hv("destroy", "sleepy")
            #expect(gone.status == 0)
            #expect(try d.domains().isEmpty)
            let after = try #require(try d.json("info") as? [String: Any])
            for key in ["freeFrames", "dom0Ports", "orphanFrames", "activeGrants", "grantMappings", "xenstoreNodes", "domains"] {
                #expect(after[key] as? Int == before[key] as? Int, "\(key): \(before[key] ?? "-") before, \(after[key] ?? "-") after")
            }
            #expect(try d.hv("dmesg").out.contains("domain 1 (sleepy): destroyed"))
        }

        @Test func aCrashLeavesItsReasonAndConsoleAndOnCrashIsHonoured() throws {
            let d = try DaemonProcess()
            let cfg = try d.config("faults", "name = \"faulty\"\nkernel = \"\(try imagePath("faults"))\"\nmemory = 32\non_crash = \"preserve\"\n")
            #expect(try d.hv("create", cfg).status == 0)
            #expect(try d.eventually { try d.domains().isEmpty })
            let long = try d.hv("list", "-l")
            #expect(long.out.contains("faulty") && long.out.contains("unhandled #GP"), "\(long.out)")
            #expect(try d.hv("list").out.contains("faulty"))                     // preserved: still listed
            #expect(try d.hv("dmesg").out.contains("on_crash = preserve"))
            #expect(try d.hv("console", "faulty", "--log").out.contains("faults:"))
            #expect(try d.hv("destroy", "faulty").status == 0)                   // drops the record
            #expect(!(try d.hv("list").out.contains("faulty")))

            let restart = try d.config("restart", "name = \"again\"\nkernel = \"\(try imagePath("faults"))\"\nmemory = 32\non_crash = \"restart\"\n")
            #expect(try d.hv("create", restart).status == 0)
            #expect(try d.eventually { try d.hv("dmesg").out.contains("restarted as domain") })
            #expect(try d.eventually { try d.hv("dmesg").out.contains("not restarting it again") })   // a crash loop is stopped
        }

        /// The highest "timer: tick N" in a console text.
        static func lastTick(_ text: String) -> Int {
            text.split(separator: "\n").compactMap { line -> Int? in
                guard let r = line.range(of: "timer: tick ") else { return nil }
                return Int(line[r.upperBound...].prefix { $0.isNumber })
            }.max() ?? 0
        }

        @Test func saveAndRestoreKeepATimerCountingAlsoInANewDaemon() throws {
            var d = try DaemonProcess()
            let cfg = try d.config("tick", "name = \"tick\"\nkernel = \"\(try imagePath("timer"))\"\nmemory = 32\ncmdline = \"count period_ms=20\"\n")
            #expect(try d.hv("create", cfg).status == 0)
            #expect(try d.eventually { Self.lastTick(try d.hv("console", "tick", "--log").out) >= 5 })
            let file = d.dir + "/tick.save"
            let saved = try d.hv("save", "tick", file)
            #expect(saved.status == 0, "\(saved.err)")
            #expect(saved.out.contains("saved domain 1 (tick)"))
            #expect(try d.domains().isEmpty)                                   // saved and destroyed, as xl save
            let before = Self.lastTick(try d.hv("console", "tick", "--log").out)        // the ended domain's log
            #expect(before >= 5)
            let restored = try d.hv("restore", file)
            #expect(restored.status == 0, "\(restored.err)")
            #expect(try d.eventually { Self.lastTick(try d.hv("console", "tick", "--log").out) >= before + 5 }, "it counts on from \(before)")
            let log = try d.hv("console", "tick", "--log").out
            #expect(!log.contains("FAILED"))

            // A checkpoint (-c) survives the daemon's end; a new daemon restores it next to another domain.
            let checkpoint = d.dir + "/tick-checkpoint.save"
            #expect(try d.hv("save", "tick", checkpoint, "-c").status == 0)
            #expect(try d.domains().count == 1)                                 // still running
            let atCheckpoint = Self.lastTick(try d.hv("console", "tick", "--log").out)
            let keep = d.dir + "-kept.save"
            try FileManager.default.copyItem(atPath: checkpoint, toPath: keep)
            defer { try? FileManager.default.removeItem(atPath: keep) }
            d.stop()
            d = try DaemonProcess(memory: "768M")
            let other = try d.config("idle", "name = \"first\"\nkernel = \"\(try imagePath("idle"))\"\nmemory = 64\n")
            #expect(try d.hv("create", other).status == 0)                    // takes the frames tick had
            #expect(try d.hv("restore", keep).status == 0)
            #expect(try d.eventually { Self.lastTick(try d.hv("console", "tick", "--log").out) >= atCheckpoint + 5 })

            // A file from another format version is refused with that reason, and so is garbage.
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: keep)))
            bytes[8] = 2
            let other2 = d.dir + "/v2.save"
            try Data(bytes).write(to: URL(fileURLWithPath: other2))
            let refused = try d.hv("restore", other2, "--name", "t2")
            #expect(refused.status == 1)
            #expect(refused.err.contains("format version 2; this hv reads version 1"), "\(refused.err)")
            #expect(try d.hv("restore", other).err.contains("not an hv save file"))     // a config is not a save file
            #expect(try d.domains().count == 2)
        }

        @Test func garbageOnTheSocketAndDamagedSaveFilesAreRefusedAndLoseNothing() throws {
            let d = try DaemonProcess()
            let cfg = try d.config("tick", "name = \"tick\"\nkernel = \"\(try imagePath("timer"))\"\nmemory = 32\ncmdline = \"count period_ms=20\"\n")
            #expect(try d.hv("create", cfg).status == 0)
            let free = (try d.json("info") as? [String: Any])?["freeFrames"] as? Int

            let raw = try UnixSocket.connect(to: d.socket)
            #expect(raw.readLine() != nil)                                       // the greeting
            raw.write(Data("this is not json\n".utf8))
            let reply = try #require(raw.readLine().flatMap(ControlReply.init(line:)))
            #expect(reply.exit == 2 && reply.error?.contains("malformed request") == true)
            let old = try UnixSocket.connect(to: d.socket)
            _ = old.readLine()
            old.write(Data(#"{"protocol":99,"argv":["list"],"cwd":"/","json":false}"#.utf8 + [10]))
            let refused = try #require(old.readLine().flatMap(ControlReply.init(line:)))
            #expect(refused.error?.contains("control protocol 99") == true)
            #expect(try d.hv("list").out.contains("tick"))                       // the daemon and its domain go on

            let file = d.dir + "/tick.save"
            #expect(try d.hv("save", "tick", file, "-c").status == 0)
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
            let truncated = d.dir + "/short.save"
            try Data(bytes.prefix(bytes.count - 100)).write(to: URL(fileURLWithPath: truncated))
            #expect(try d.hv("restore", truncated, "--name", "t1").err.contains("truncated or damaged"))
            // Garbage in the saved L4: the restore fails validation, and the half-built domain is gone.
            let headerAt = Int(bytes[16..<24].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            let header = try #require(try JSONSerialization.jsonObject(with: Data(bytes[headerAt...])) as? [String: Any])
            let image = try #require(header["image"] as? [String: Any])
            let populated = try #require(image["populated"] as? [Bool])
            let l4 = try #require((image["pinned"] as? [[String: Any]])?.first { $0["level"] as? Int == 4 }?["pfn"] as? Int)
            let index = populated[..<l4].filter { $0 }.count
            for i in 0..<64 { bytes[32 + index * 4096 + i * 8] = 0x67; bytes[32 + index * 4096 + i * 8 + 6] = 0x0f }   // present, far beyond memory
            let damaged = d.dir + "/damaged.save"
            try Data(bytes).write(to: URL(fileURLWithPath: damaged))
            let r = try d.hv("restore", damaged, "--name", "t2")
            #expect(r.status == 1)
            #expect(r.err.contains("does not validate") || r.err.contains("not populated"), "\(r.err)")
            #expect(try d.domains().count == 1)
            #expect((try d.json("info") as? [String: Any])?["freeFrames"] as? Int == free)
        }

        @Test func theAgentBalloonsEchoesAndShutsDownWhenAsked() throws {
            let d = try DaemonProcess()
            let cfg = try d.config("agent", "name = \"agent\"\nkernel = \"\(try imagePath("agent"))\"\nmemory = 64\nmaxmem = 64\n")
            #expect(try d.hv("create", cfg).status == 0)
            #expect(try d.eventually { try d.hv("console", "agent", "--log").out.contains("agent: ready") })
            #expect(try d.hv("mem-set", "agent", "32m").status == 0)
            #expect(try d.eventually(60) { (try d.domains().first?["memoryKiB"] as? Int ?? 0) <= 32 << 10 }, "the balloon moved")
            #expect(try d.hv("mem-set", "agent", "128m").err.contains("maxmem"))

            let console = try PseudoTerminal(executable: try hvBinary().path, arguments: ["console", "agent"], environment: ["HV_SOCKET": d.socket])
            defer { console.terminate() }
            #expect(console.read(until: "Escape character", timeout: 20) != nil)
            #expect(console.read(until: "agent: ready", timeout: 20) != nil)  // the log so far comes first
            console.send("hello, dom0\r")
            #expect(console.read(until: "agent: echo hello, dom0", timeout: 20) != nil, "\(console.output)")
            console.send("\u{1d}")                                           // Ctrl-] detaches
            #expect(console.waitForExit(timeout: 20) == 0)
            #expect(try d.domains().count == 1)                                 // the domain runs on

            // Saved and restored onto other frames, it still balloons: its p2m list was given the new frames.
            let file = d.dir + "/agent.save"
            #expect(try d.hv("save", "agent", file).status == 0)
            #expect(try d.hv("restore", file).status == 0)
            #expect(try d.hv("mem-set", "agent", "16m").status == 0)
            #expect(try d.eventually(60) { (try d.domains().first?["memoryKiB"] as? Int ?? 0) <= 16 << 10 }, "the balloon moved after the restore")
            #expect(try d.eventually { try d.hv("console", "agent", "--log").out.contains("holding 16384 KiB") })

            #expect(try d.hv("reboot", "agent").status == 0)                   // on_reboot = restart (xl's default)
            #expect(try d.eventually { try d.hv("dmesg").out.contains("restarted as domain 3 (agent)") })
            #expect(try d.eventually { try d.hv("console", "agent", "--log").out.contains("agent: ready") })
            let down = try d.hv("shutdown", "agent", "-w")
            #expect(down.status == 0, "\(down.err)")
            #expect(down.out.contains("shutdown (poweroff)"))
            #expect(try d.domains().isEmpty)
        }

        @Test func theShellRunsVerbsWithCompletionThroughAPseudoTerminal() throws {
            let d = try DaemonProcess()
            let cfg = try d.config("idle", "name = \"quiet\"\nkernel = \"\(try imagePath("idle"))\"\nmemory = 32\n")
            #expect(try d.hv("create", cfg).status == 0)
            let home = d.dir + "/home"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            let shell = try PseudoTerminal(executable: try hvBinary().path, arguments: ["shell", "--socket", d.socket], environment: ["HOME": home])
            defer { shell.terminate() }
            #expect(shell.readNext(until: "hv> ", timeout: 20) != nil)
            /// Sends keys, then waits for `expected` in what follows and for the next prompt after it
            /// (the editor redraws the prompt while the line is edited, so the prompt alone proves nothing).
            func command(_ keys: String, _ expected: String) -> Bool {
                shell.send(keys)
                guard shell.readNext(until: expected, timeout: 20) != nil else { return false }
                return shell.readNext(until: "hv> ", timeout: 20) != nil
            }
            #expect(command("li\t\r", "quiet"), "\(shell.output)")                          // Tab completes the verb
            #expect(command("pause qu\t\r", "paused domain 1 (quiet)"), "\(shell.output)")   // and a domain name
            #expect(command("help evtchn\r", "usage: hv evtchn DOM"), "\(shell.output)")
            #expect(command("\u{1b}[A\u{1b}[A\r", "already paused"), "\(shell.output)")      // history: up twice is the pause again
            shell.send("top -d 0.2\r")                                          // xentop's screen, refreshed until q
            #expect(shell.readNext(until: "HCALLS/s", timeout: 20) != nil, "\(shell.output)")
            #expect(shell.readNext(until: "quiet", timeout: 20) != nil)
            shell.send("q")
            #expect(shell.readNext(until: "hv> ", timeout: 20) != nil, "\(shell.output)")
            shell.send("exit\r")
            #expect(shell.waitForExit(timeout: 20) == 0)
            #expect((try? String(contentsOfFile: home + "/.hv_history", encoding: .utf8))?.contains("help evtchn") == true)
        }
    }
}
