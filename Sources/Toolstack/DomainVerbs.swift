import Foundation
import HyperABI
import Hypervisor

/// The xl-like verbs: create, list, destroy, shutdown, reboot, pause, unpause, memory, vCPUs, scheduling,
/// info, dmesg, top and console.
extension ControlVerbs {
    static let domainVerbs: [ControlVerb] = [
        ControlVerb("create", "CONFIG [-c]", "Build a domain from an xl.cfg-style file and start it.",
                    detail: "Keys as xl's: name, kernel, ramdisk, cmdline (or root/extra), memory (MiB), maxmem, vcpus, disk, vif,\non_poweroff/on_reboot/on_crash/on_watchdog, weight, cap (and privileged = \"xen\"|\"emulate\").\nThe file is checked before anything boots; an error names the file, line, key and what is accepted.\n-c  attach to the console once it runs (Ctrl-] detaches).",
                    flags: ["-c"], positional: 1...1) { call throws(VerbFailure) in
            let path = call.absolute(call.positional[0])
            let file: DomainConfigFile
            do { file = try DomainConfigFile(contentsOf: path) } catch { throw VerbFailure("\(error)") }
            var config = file.config
            config.ramdisk = file.ramdisk ?? config.ramdisk
            let policy = LifecyclePolicy(onPoweroff: file.onPoweroff, onReboot: file.onReboot, onCrash: file.onCrash, onWatchdog: file.onWatchdog)
            let d: Domain
            do { d = try call.manager.create(config, policy: policy) } catch { throw VerbFailure("cannot create a domain from \(path): \(error)") }
            struct Created: Encodable { let id: UInt16; let name: String }
            return call.reply("created \(d.label)", Created(id: d.id, name: d.name))
        },
        ControlVerb("list", "[-l] [DOM…]", "List the domains (-l: everything about each, and the ones that ended).",
                    detail: "State letters as xl's: r running, b blocked, p paused, s shutdown, c crashed, d dying.",
                    flags: ["-l", "--long"], positional: 0...64) { call throws(VerbFailure) in
            var managed = call.manager.domains
            if !call.positional.isEmpty {
                managed = try call.positional.map { (t) throws(VerbFailure) in try call.domain(t) }
            }
            let services = call.manager.toolstack.services
            let summaries = managed.map { DomainSummary($0, services: services) }
            let ended = call.manager.ended.map(EndedSummary.init)
            let preserved = ended.filter(\.preserved)
            var rows = summaries.map { s in
                [s.name, "\(s.id)", "\(s.memoryKiB / 1024)", "\(s.vcpus)", s.state, String(format: "%.1f", s.cpuSeconds)]
            }
            rows += preserved.map { [$0.name, "\($0.id)", "0", "0", $0.state.hasPrefix("crash") ? "c" : "s", "-"] }
            var text = textTable(["Name", "ID", "Mem", "VCPUs", "State", "Time(s)"], rows, rightAligned: [1, 2, 3, 5])
            if call.has("-l", "--long") {
                for s in summaries {
                    text += "\n\n" + longDescription(s)
                }
                if !ended.isEmpty {
                    text += "\n\nEnded:\n" + textTable(["ID", "Name", "State", "Action", "Ago", "Reason"], ended.map {
                        ["\($0.id)", $0.name, $0.state, $0.action, String(format: "%.0fs", $0.secondsAgo), $0.reason]
                    })
                }
            }
            struct Listing: Encodable { let domains: [DomainSummary]; let ended: [EndedSummary] }
            return call.reply(text, Listing(domains: summaries, ended: call.has("-l", "--long") ? ended : preserved))
        },
        ControlVerb("destroy", "DOM", "End a domain at once and free everything it held.", positional: 1...1) { call throws(VerbFailure) in
            do {
                let text = try call.manager.destroy(call.positional[0])
                return call.reply(text, ["destroyed": call.positional[0]])
            } catch { throw VerbFailure("\(error)") }
        },
        ControlVerb("shutdown", "DOM [-w]", "Ask a guest to power off (control/shutdown = poweroff); -w waits until it has.",
                    flags: ["-w", "--wait"], positional: 1...1) { call throws(VerbFailure) in
            try requestShutdown(call, "poweroff")
        },
        ControlVerb("reboot", "DOM [-w]", "Ask a guest to reboot (control/shutdown = reboot); its on_reboot action follows.",
                    flags: ["-w", "--wait"], positional: 1...1) { call throws(VerbFailure) in
            try requestShutdown(call, "reboot")
        },
        ControlVerb("pause", "DOM", "Stop running a domain's vCPUs (they keep their state).", positional: 1...1) { call throws(VerbFailure) in
            let m = try call.domain(call.positional[0])
            guard !m.domain.isPaused else { throw VerbFailure("\(m.domain.label) is already paused") }
            do { try call.manager.control.pause(m.domain) } catch { throw VerbFailure("\(error)") }
            call.manager.log.add("\(m.domain.label): paused")
            return call.reply("paused \(m.domain.label)", ["paused": m.domain.id])
        },
        ControlVerb("unpause", "DOM", "Let a paused domain run again.", positional: 1...1) { call throws(VerbFailure) in
            let m = try call.domain(call.positional[0])
            do { try call.manager.control.unpause(m.domain) } catch { throw VerbFailure("\(error)") }
            call.manager.log.add("\(m.domain.label): unpaused")
            return call.reply("unpaused \(m.domain.label)", ["unpaused": m.domain.id])
        },
        ControlVerb("mem-set", "DOM SIZE", "Set the balloon target (memory/target): the guest's balloon driver gives memory back or takes it.",
                    detail: "SIZE in KiB, or with a suffix: b, k, m, g, t (as xl: 256m). At most the domain's maxmem.",
                    positional: 2...2) { call throws(VerbFailure) in
            let m = try call.domain(call.positional[0])
            let bytes = try size(call, call.positional[1])
            guard bytes >= 4096, bytes <= m.domain.maxPages << 12 else {
                throw VerbFailure("\(call.positional[1]) is outside 4 KiB … maxmem (\(m.domain.maxPages >> 8) MiB) of \(m.domain.label); raise it with mem-max")
            }
            do {
                try call.manager.toolstack.services.store.write("/local/domain/\(m.domain.id)/memory/target", "\(bytes >> 10)")
            } catch { throw VerbFailure("\(m.domain.label): cannot write memory/target: \(error)") }
            call.manager.log.add("\(m.domain.label): balloon target \(bytes >> 10) KiB")
            return call.reply("\(m.domain.label): memory/target = \(bytes >> 10) KiB (it holds \(m.domain.populatedPages * 4) KiB now)",
                              ["targetKiB": bytes >> 10])
        },
        ControlVerb("mem-max", "DOM SIZE", "Set the most memory a domain may hold (its maxmem).",
                    detail: "SIZE in KiB, or with a suffix: b, k, m, g, t. Not below what it holds now.",
                    positional: 2...2) { call throws(VerbFailure) in
            let m = try call.domain(call.positional[0])
            let bytes = try size(call, call.positional[1])
            do { try call.manager.control.setMaxMemory(m.domain, pages: bytes >> 12) } catch { throw VerbFailure("\(error)") }
            try? call.manager.toolstack.services.store.write("/local/domain/\(m.domain.id)/memory/static-max", "\(bytes >> 10)")
            call.manager.log.add("\(m.domain.label): maxmem \(bytes >> 10) KiB")
            return call.reply("\(m.domain.label): maxmem = \(bytes >> 10) KiB", ["maxKiB": bytes >> 10])
        },
        ControlVerb("vcpu-list", "[DOM]", "Each vCPU: its state, time run, hypercalls and exits.", positional: 0...1) { call throws(VerbFailure) in
            let managed = try call.positional.first.map { (t) throws(VerbFailure) in [try call.domain(t)] } ?? call.manager.domains
            struct Row: Encodable { let domain: UInt16; let name: String; let vcpu: Int; let state: String; let seconds: Double
                let hypercalls: UInt64; let exits: UInt64 }
            let rows = managed.flatMap { m in
                m.domain.vcpus.map { v in
                    let (state, times) = v.runstateTimes
                    return Row(domain: m.domain.id, name: m.domain.name, vcpu: v.id, state: m.domain.isPaused ? "paused" : "\(state)",
                               seconds: Double(times[0]) / 1e9, hypercalls: v.hypercallTotal, exits: v.exits.load(ordering: .relaxed))
                }
            }
            let text = textTable(["Name", "ID", "VCPU", "State", "Time(s)", "Hypercalls", "Exits"], rows.map {
                [$0.name, "\($0.domain)", "\($0.vcpu)", $0.state, String(format: "%.2f", $0.seconds), "\($0.hypercalls)", "\($0.exits)"]
            }, rightAligned: [1, 2, 4, 5, 6])
            return call.reply(text, rows)
        },
        ControlVerb("vcpu-set", "DOM COUNT", "Ask the guest to run COUNT vCPUs (cpu/N/availability = online/offline).",
                    positional: 2...2) { call throws(VerbFailure) in
            let m = try call.domain(call.positional[0])
            let count = try call.integer(call.positional[1], "COUNT", in: 1...m.domain.vcpus.count)
            let store = call.manager.toolstack.services.store
            for i in 0..<m.domain.vcpus.count {
                do { try store.write("/local/domain/\(m.domain.id)/cpu/\(i)/availability", i < count ? "online" : "offline") } catch {
                    throw VerbFailure("\(m.domain.label): cannot write cpu/\(i)/availability: \(error)")
                }
            }
            call.manager.log.add("\(m.domain.label): asked for \(count) online vcpu(s)")
            return call.reply("\(m.domain.label): asked the guest for \(count) of its \(m.domain.vcpus.count) vcpu(s) online", ["online": count])
        },
        ControlVerb("sched-credit", "[-d DOM] [-w WEIGHT] [-c CAP]", "Show or set credit-scheduler weights and caps.",
                    detail: "Without -d: every domain. WEIGHT 1–65535 (default 256); CAP in percent of one CPU, 0 = none.",
                    options: ["-d", "--domain", "-w", "--weight", "-c", "--cap"]) { call throws(VerbFailure) in
            let control = call.manager.control
            let weight = try call.option("-w", "--weight").map { (t) throws(VerbFailure) in try call.integer(t, "WEIGHT", in: 1...65535) }
            let cap = try call.option("-c", "--cap").map { (t) throws(VerbFailure) in try call.integer(t, "CAP", in: 0...3200) }
            var managed = call.manager.domains
            if let t = call.option("-d", "--domain") { managed = [try call.domain(t)] }
            if weight != nil || cap != nil {
                guard call.option("-d", "--domain") != nil else { throw .usage(call.verb, "-w and -c need -d DOM") }
                do { try control.setSchedulerCredit(managed[0].domain, weight: weight, cap: cap) } catch { throw VerbFailure("\(error)") }
                call.manager.log.add("\(managed[0].domain.label): weight \(control.schedulerCredit(managed[0].domain).weight), cap \(control.schedulerCredit(managed[0].domain).cap)")
            }
            struct Row: Encodable { let id: UInt16; let name: String; let weight: Int; let cap: Int }
            let rows = managed.map { m in let s = control.schedulerCredit(m.domain); return Row(id: m.domain.id, name: m.domain.name, weight: s.weight, cap: s.cap) }
            let text = textTable(["Name", "ID", "Weight", "Cap"], rows.map { [$0.name, "\($0.id)", "\($0.weight)", "\($0.cap)"] }, rightAligned: [1, 2, 3])
            return call.reply(text, rows)
        },
        ControlVerb("info", "", "The host and the hypervisor: CPUs, machine memory, domains, Dom0's ports, XenStore.") { call throws(VerbFailure) in
            let c = call.manager.control.counters
            let xs = call.manager.toolstack.services.store.statistics()
            struct Info: Encodable {
                let host: String; let hypervisor: String; let protocolVersion: Int; let pcpus: Int
                let totalFrames: Int; let freeFrames: Int; let hypervisorFrames: Int
                let domains: Int; let endedDomains: Int; let dom0Ports: Int; let orphanFrames: Int; let activeGrants: Int; let grantMappings: Int
                let xenstoreNodes: Int; let xenstoreWatches: Int; let uptimeSeconds: Double
            }
            let info = Info(host: ProcessInfo.processInfo.hostName, hypervisor: ControlProtocol.hypervisorVersion, protocolVersion: ControlProtocol.version,
                            pcpus: c.pcpus, totalFrames: c.totalFrames, freeFrames: c.freeFrames, hypervisorFrames: c.hypervisorFrames,
                            domains: c.domains, endedDomains: call.manager.ended.count, dom0Ports: c.dom0Ports, orphanFrames: c.orphanFrames,
                            activeGrants: c.activeGrants, grantMappings: c.grantMappings,
                            xenstoreNodes: xs.nodes, xenstoreWatches: xs.watches.values.reduce(0, +),
                            uptimeSeconds: -call.manager.startedAt.timeIntervalSinceNow)
            let text = [
                ("host", info.host), ("hypervisor", info.hypervisor), ("control protocol", "\(info.protocolVersion)"),
                ("physical cpus", "\(info.pcpus) (the credit scheduler's)"),
                ("machine memory", "\(info.totalFrames >> 8) MiB (\(info.totalFrames) frames)"),
                ("free memory", "\(info.freeFrames >> 8) MiB (\(info.freeFrames) frames)"),
                ("hypervisor memory", "\(info.hypervisorFrames) frames (the M2P table)"),
                ("domains", "\(info.domains) running, \(info.endedDomains) ended on record"),
                ("dom0 event channels", "\(info.dom0Ports)"), ("orphaned frames", "\(info.orphanFrames)"),
                ("grants", "\(info.activeGrants) in use, \(info.grantMappings) mappings held by guests"),
                ("xenstore", "\(info.xenstoreNodes) nodes, \(info.xenstoreWatches) watches"),
                ("uptime", String(format: "%.0f s", info.uptimeSeconds)),
            ].map { $0.0.padding(toLength: 20, withPad: " ", startingAt: 0) + ": " + $0.1 }.joined(separator: "\n")
            return call.reply(text, info)
        },
        ControlVerb("dmesg", "[-c]", "The hypervisor's log: domains created, ended (with why), back-end failures (-c: then clear it).",
                    flags: ["-c", "--clear"]) { call throws(VerbFailure) in
            let entries = call.manager.log.all
            if call.has("-c", "--clear") { call.manager.log.clear() }          // after reading, as dmesg -c
            return call.reply(entries.map(HypervisorLog.format).joined(separator: "\n"), entries)
        },
        ControlVerb("top", "[-b] [-d SECONDS] [-n ITERATIONS]", "Live per-domain CPU, memory, vCPUs, block and network I/O, hypercalls/s (as xentop).",
                    detail: "-b  batch mode: print, do not redraw. -d  delay between updates (default 1). -n  updates before exiting.\nq or Ctrl-C quits.",
                    flags: ["-b", "--batch"], options: ["-d", "--delay", "-n", "--iterations"]) { call throws(VerbFailure) in
            let sample = call.manager.topSample()
            return call.reply(renderTop(sample), sample)
        },
        ControlVerb("console", "DOM [--log]", "Attach to a domain's console: its log so far, then live output; keys go to the guest. Ctrl-] detaches.",
                    detail: "Several readers may watch one console. --log prints what it has written so far and exits (also for a domain that ended).",
                    flags: ["--log"], positional: 1...1) { call throws(VerbFailure) in
            // The streaming part is the server's; here only a domain that ended (its log, once).
            if call.manager.find(call.positional[0]) == nil, let e = call.manager.findEnded(call.positional[0]) {
                return call.reply(String(decoding: e.consoleLog, as: UTF8.self), ["log": String(decoding: e.consoleLog, as: UTF8.self)])
            }
            let m = try call.domain(call.positional[0])
            return call.reply(m.domain.console.text, ["log": m.domain.console.text])
        },
    ]

    /// `list -l`'s block for one domain.
    static func longDescription(_ s: DomainSummary) -> String {
        var lines = [
            "(domain \(s.id) \(s.name))",
            "  uuid        \(s.uuid)",
            "  state       \(s.state), up \(String(format: "%.1f", s.uptimeSeconds)) s, \(String(format: "%.2f", s.cpuSeconds)) s CPU, \(s.hypercalls) hypercalls",
            "  memory      \(s.memoryKiB) KiB of max \(s.maxMemoryKiB) KiB: \(s.pages.populated) pages populated, \(s.pages.balloonedOut) ballooned out, \(s.pages.pageTables) page tables, \(s.pages.shared) shared",
            "  vcpus       \(s.onlineVCPUs) of \(s.vcpus) online; weight \(s.weight), cap \(s.cap)",
            "  kernel      \(s.kernel)" + (s.cmdline.isEmpty ? "" : "  cmdline \"\(s.cmdline)\""),
            "  on_poweroff \(s.onPoweroff), on_reboot \(s.onReboot), on_crash \(s.onCrash)",
        ]
        lines += s.disks.map { "  disk        \($0.vdev) \($0.path) \($0.writable ? "w" : "r"), \($0.connected ? "connected" : "not connected"), \($0.requests) requests" }
        lines += s.vifs.map { "  vif         \($0.mac) on \($0.bridge), \($0.connected ? "connected" : "not connected"), tx \($0.transmitted) rx \($0.received) dropped \($0.dropped)" }
        lines += s.failures.map { "  failure     \($0)" }
        return lines.joined(separator: "\n")
    }

    /// xl's size syntax: a number in KiB, or with b/k/m/g/t.
    static func size(_ call: VerbCall, _ text: String) throws(VerbFailure) -> Int {
        let lower = text.lowercased()
        let units: [Character: Int] = ["b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40]
        let (digits, unit) = lower.last.flatMap { units[$0] }.map { (String(lower.dropLast()), $0) } ?? (lower, 1 << 10)
        guard let n = Int(digits), n > 0, n <= (1 << 50) / unit else {
            throw .usage(call.verb, "size \"\(text)\" is not a positive number of KiB or a number with b, k, m, g or t")
        }
        return n * unit
    }

    /// shutdown/reboot: write control/shutdown, and with -w wait for the domain to end.
    static func requestShutdown(_ call: VerbCall, _ reason: String) throws(VerbFailure) -> ControlReply {
        let m = try call.domain(call.positional[0])
        do { try call.manager.requestShutdown(m, reason: reason) } catch { throw VerbFailure("\(error)") }
        if call.has("-w", "--wait") {
            guard m.domain.waitUntilFinished(seconds: 60) else {
                throw VerbFailure("\(m.domain.label) did not \(reason) within 60 s (does its kernel watch control/shutdown? hv destroy ends it)")
            }
            return call.reply("\(m.domain.label): \(m.domain.state)", ["state": "\(m.domain.state)"])
        }
        return call.reply("asked \(m.domain.label) to \(reason)", ["requested": reason])
    }
}
