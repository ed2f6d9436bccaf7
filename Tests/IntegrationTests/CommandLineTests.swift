import Foundation
import Testing

extension KVMIntegration {
    /// `hv` as a user runs it: exit codes and output.
    @Suite
    struct CommandLineTests {
        /// The hv binary built next to the test bundle.
        var hv: URL { get throws { try hvBinary() } }

        func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
            let p = Process()
            p.executableURL = try hv
            p.arguments = args
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            let o = out.fileHandleForReading.readDataToEndOfFile()
            let e = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
        }

        @Test func runPrefixesConsolesAndExitsWithTheWorstReason() throws {
            let r = try run(["run", try imagePath("hello-c"), try imagePath("faults"), "--memory", "32M"])
            #expect(r.status == 13)
            #expect(r.out.contains("[1 hello-c] hello-c: all hypercalls ok"))
            #expect(r.out.contains("[2 faults] faults: all checks ok"))
            #expect(r.err.contains("domain 2 (faults) crashed: unhandled #GP"))
            #expect(r.err.contains("rip "))
        }

        @Test func runOfOnePoweringOffGuestExitsZero() throws {
            let r = try run(["run", try imagePath("hello-swift")])
            #expect(r.status == 0)
            #expect(r.out.contains("hello-swift: all hypercalls ok"))
            #expect(!r.out.contains("[1 "))            // one domain: no prefix
        }

        @Test func badImageExitsOneWithTheReason() throws {
            let r = try run(["run", "/nonexistent/kernel.elf"])
            #expect(r.status == 1)
            #expect(r.err.contains("/nonexistent/kernel.elf"))
            #expect(r.err.contains("ENOENT"))
        }

        @Test func runWithoutImagesIsAUsageError() throws {
            let r = try run(["run"])
            #expect(r.status == 64)
            #expect(r.err.contains("Missing expected argument"))
        }

        @Test func elfInfoShowsTheNotes() throws {
            let r = try run(["elf-info", try imagePath("hello-c")])
            #expect(r.status == 0)
            #expect(r.out.contains("HYPERCALL_PAGE"))
            #expect(r.out.contains("xen-3.0"))
            let j = try run(["elf-info", "--json", try imagePath("hello-c")])
            let obj = try JSONSerialization.jsonObject(with: Data(j.out.utf8)) as? [String: Any]
            #expect(obj?["entry"] as? String == "0x401000")
        }

        @Test func benchPrintsFiguresWithBaselineAndRatio() throws {
            let r = try run(["bench", "all", "--json", "--calls", "300", "--rounds", "1", "--domains", "20",
                          "--data", "16M", "--lifecycle-domains", "10", "--image", try imagePath("bench")])
            #expect(r.status == 0, "\(r.err)")
            let figures = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]] ?? []
            let names = Set(figures.compactMap { $0["name"] as? String })
            for expected in ["hypercall.null_roundtrip", "boot.create_to_first_hypercall", "trap_vs_pv.virtual_if_toggle",
                             "evtchn.roundtrip", "evtchn.roundtrip_vs_eventfd", "timer.lateness_median",
                             "sched.fairness_error", "sched.switches_per_s", "sched.wakeup_latency_4x", "idle.cpu.20", "idle.memory.20",
                             "chan.throughput.65536B", "grant.copy_4k", "blk.seq_write", "blk.rand_read_4k", "net.udp_stream",
                             "xenstore.read", "lifecycle.create_rate", "lifecycle.save_16M"] {
                #expect(names.contains(expected), "missing \(expected) in \(names)")
            }
            for f in figures {
                for key in ["name", "value", "unit", "baseline", "ratio"] { #expect(f[key] != nil, "missing \(key)") }
                #expect((f["value"] as? Double ?? 0) > 0)
                #expect((f["baseline"] as? Double ?? 0) > 0)
            }
        }
    }
}
