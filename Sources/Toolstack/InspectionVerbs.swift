import HyperABI
import Hypervisor

/// The verbs no other tool has: the hypervisor's own view of a domain's ports, grants, page tables,
/// P2M, hypercalls and registers.
extension ControlVerbs {
    static let inspectionVerbs: [ControlVerb] = [
        ControlVerb("evtchn", "DOM", "A domain's event-channel ports: what each is bound to, pending and masked bits.",
                    positional: 1...1) { call throws(VerbFailure) in
            let m = try call.domain(call.positional[0])
            struct Row: Encodable { let port: UInt32; let kind: String; let remoteDomain: UInt16?; let remotePort: UInt32?
                let virq: String?; let vcpu: Int?; let notifyVCPU: Int; let pending: Bool; let masked: Bool }
            let rows = call.manager.control.eventChannels(m.domain).map { p -> Row in
                switch p.binding {
                case .unbound(let r): Row(port: p.port, kind: "unbound", remoteDomain: r, remotePort: nil, virq: nil, vcpu: nil, notifyVCPU: p.notifyVCPU, pending: p.pending, masked: p.masked)
                case .interdomain(let d, let rp): Row(port: p.port, kind: "interdomain", remoteDomain: d, remotePort: rp, virq: nil, vcpu: nil, notifyVCPU: p.notifyVCPU, pending: p.pending, masked: p.masked)
                case .virq(let v, let vcpu): Row(port: p.port, kind: "virq", remoteDomain: nil, remotePort: nil, virq: virqName(v), vcpu: vcpu, notifyVCPU: p.notifyVCPU, pending: p.pending, masked: p.masked)
                case .ipi(let vcpu): Row(port: p.port, kind: "ipi", remoteDomain: nil, remotePort: nil, virq: nil, vcpu: vcpu, notifyVCPU: p.notifyVCPU, pending: p.pending, masked: p.masked)
                }
            }
            let text = textTable(["Port", "Bound to", "Notifies", "Pending", "Masked"], rows.map { r in
                let to: String = switch r.kind {
                case "interdomain": "domain \(r.remoteDomain!) port \(r.remotePort!)" + (r.remoteDomain == 0 ? " (Dom0)" : "")
                case "unbound": "unbound, for domain \(r.remoteDomain!)"
                case "virq": "\(r.virq!) on vcpu \(r.vcpu!)"
                default: "ipi on vcpu \(r.vcpu!)"
                }
                return ["\(r.port)", to, "vcpu \(r.notifyVCPU)", r.pending ? "yes" : "no", r.masked ? "yes" : "no"]
            }, rightAligned: [0])
            return call.reply(rows.isEmpty ? "\(m.domain.label) has no ports bound" : text, rows)
        },
        ControlVerb("grants", "DOM", "A domain's grant entries in use (who may map what, who has it mapped) and the grants it maps.",
                    positional: 1...1) { call throws(VerbFailure) in
            let m = try call.domain(call.positional[0])
            let (entries, mappings) = call.manager.control.grants(m.domain)
            struct Entry: Encodable { let ref: UInt32; let flags: [String]; let grantee: UInt16; let frame: UInt32; let mappedBy: UInt16?; let pins: Int }
            struct Mapping: Encodable { let handle: UInt32; let granter: UInt16; let ref: UInt32; let mfn: String; let readonly: Bool; let hostAddress: String? }
            let e = entries.map { Entry(ref: $0.ref, flags: grantFlags($0.flags), grantee: $0.grantee, frame: $0.frame, mappedBy: $0.mapper, pins: $0.pins) }
            let mp = mappings.map { Mapping(handle: $0.handle, granter: $0.granter, ref: $0.ref, mfn: hex($0.mfn), readonly: $0.readonly, hostAddress: $0.hostAddress.map(hex)) }
            var text = "Granted by \(m.domain.label):\n" + (e.isEmpty ? "  none" : textTable(["Ref", "Flags", "To", "Frame (pfn)", "Mapped by", "Pins"], e.map {
                ["\($0.ref)", $0.flags.joined(separator: ","), "domain \($0.grantee)", hex(UInt64($0.frame)), $0.mappedBy.map { "domain \($0)" } ?? "-", "\($0.pins)"]
            }, rightAligned: [0, 5]))
            text += "\n\nMapped by \(m.domain.label) from others:\n" + (mp.isEmpty ? "  none" : textTable(["Handle", "From", "Ref", "MFN", "Access", "At"], mp.map {
                ["\($0.handle)", "domain \($0.granter)", "\($0.ref)", $0.mfn, $0.readonly ? "ro" : "rw", $0.hostAddress ?? "device"]
            }, rightAligned: [0, 2]))
            struct Out: Encodable { let entries: [Entry]; let mappings: [Mapping] }
            return call.reply(text, Out(entries: e, mappings: mp))
        },
        ControlVerb("pagetable", "DOM [VA] [--vcpu N]", "Walk a domain's page tables: the path to VA level by level with frame types, or every mapping.",
                    detail: "Without VA: the guest half's mappings as runs of consecutive frames. The L4 is the one vCPU N (default 0) uses now.",
                    options: ["--vcpu"], positional: 1...2) { call throws(VerbFailure) in
            let m = try call.domain(call.positional[0])
            let vcpu = try call.option("--vcpu").map { (t) throws(VerbFailure) in try call.integer(t, "vcpu", in: 0...(m.domain.vcpus.count - 1)) } ?? 0
            let control = call.manager.control
            guard let l4 = control.currentL4(m.domain, vcpu: vcpu) else { throw VerbFailure("vcpu \(vcpu) of \(m.domain.label) has no page tables yet") }
            if call.positional.count == 2 {
                let text = call.positional[1].lowercased()
                guard let va = UInt64(text.hasPrefix("0x") ? String(text.dropFirst(2)) : text, radix: 16) else {
                    throw .usage(call.verb, "VA \"\(call.positional[1])\" is not a hex address")
                }
                struct Step: Encodable { let level: Int; let tableMFN: String; let tablePFN: String?; let tableType: String; let typeCount: UInt32
                    let pinned: Bool; let index: Int; let entry: String; let flags: [String]; let target: String? }
                let steps = control.walk(m.domain, l4: l4, va: va).map { s in
                    Step(level: s.level, tableMFN: hex(s.table.mfn), tablePFN: s.table.pfn.map(hex), tableType: "\(s.table.type)",
                         typeCount: s.table.typeCount, pinned: s.table.pinned, index: s.index, entry: hex(s.entry), flags: pteFlags(s.entry),
                         target: s.entry & PTE.present != 0 ? hex((s.entry & PTE.addressMask) >> 12) : nil)
                }
                var lines = ["\(m.domain.label), vcpu \(vcpu), VA \(hex(va)), L4 at mfn \(hex(l4)):"]
                for s in steps {
                    lines.append("  L\(s.level) table mfn \(s.tableMFN) (pfn \(s.tablePFN ?? "-"), type \(s.tableType), count \(s.typeCount)\(s.pinned ? ", pinned" : ""))"
                                 + " [\(s.index)] = \(s.entry) \(s.flags.joined(separator: " "))" + (s.target.map { " → mfn \($0)" } ?? ""))
                }
                if let last = steps.last {
                    if last.flags.contains("P") {
                        let leaf = (UInt64(last.entry.dropFirst(2), radix: 16)! & PTE.addressMask) >> 12
                        let offset = va & ((1 << (12 + 9 * UInt64(last.level - 1))) - 1)
                        let frame = control.frameStatus(leaf + (offset >> 12))
                        lines.append("  maps \(hex(va)) to machine address \(hex(leaf << 12 + offset))"
                                     + (frame.map { " (mfn \(hex($0.mfn)), pfn \($0.pfn.map(hex) ?? "-"), type \($0.type), mapped \($0.mapCount)×)" } ?? ""))
                    } else {
                        lines.append("  not mapped (L\(last.level) entry not present)")
                    }
                }
                return call.reply(lines.joined(separator: "\n"), steps)
            }
            struct Run: Encodable { let start: String; let end: String; let pages: Int; let mfn: String; let pfn: String?; let flags: [String]; let pageSize: String }
            let runs = control.mappings(m.domain, l4: l4).map { r in
                Run(start: hex(r.virtualStart), end: hex(r.virtualStart &+ UInt64(r.pages) << 12 &- 1), pages: r.pages, mfn: hex(r.firstMFN),
                    pfn: r.firstMFN == m.domain.sharedInfoMFN ? "shared_info" : control.frameStatus(r.firstMFN)?.pfn.map(hex), flags: pteFlags(r.flags),
                    pageSize: r.leafLevel == 1 ? "4K" : (r.leafLevel == 2 ? "2M" : "1G"))
            }
            let text = "\(m.domain.label), vcpu \(vcpu), L4 at mfn \(hex(l4)): \(runs.count) runs\n" + textTable(["Virtual start", "Virtual end", "Pages", "MFN", "PFN", "Flags", "Page"], runs.map {
                [$0.start, $0.end, "\($0.pages)", $0.mfn, $0.pfn ?? "-", $0.flags.joined(separator: " "), $0.pageSize]
            }, rightAligned: [2])
            return call.reply(text, runs)
        },
        ControlVerb("memmap", "DOM", "A domain's P2M: which PFNs have frames, which are page tables, shared or ballooned out.",
                    positional: 1...1) { call throws(VerbFailure) in
            let m = try call.domain(call.positional[0])
            struct Run: Encodable { let firstPFN: String; let lastPFN: String; let pages: Int; let firstMFN: String?; let kind: String }
            // shared_info is the domain's but in no PFN: the walk shows it by its frame.
            let runs = call.manager.control.memoryMap(m.domain).map {
                Run(firstPFN: hex(UInt64($0.firstPFN)), lastPFN: hex(UInt64($0.firstPFN + $0.count - 1)), pages: $0.count,
                    firstMFN: $0.firstMFN.map(hex), kind: $0.kind.rawValue)
            }
            let stats = m.domain.memoryStats
            let text = "\(m.domain.label): \(m.domain.nrPages) PFNs, \(stats); shared_info at mfn \(hex(m.domain.sharedInfoMFN))\n"
                + textTable(["PFNs", "Pages", "MFNs from", "Kind"], runs.map {
                    ["\($0.firstPFN)–\($0.lastPFN)", "\($0.pages)", $0.firstMFN ?? "-", $0.kind]
                }, rightAligned: [1])
            return call.reply(text, runs)
        },
        ControlVerb("hypercalls", "[DOM]", "Hypercalls made, by number: count, total time and mean (time includes blocking in sched_op).",
                    positional: 0...1) { call throws(VerbFailure) in
            let managed = try call.positional.first.map { (t) throws(VerbFailure) in [try call.domain(t)] } ?? call.manager.domains
            var sums: [UInt64?: (UInt64, UInt64)] = [:]
            for m in managed {
                for (n, c, t) in call.manager.control.hypercallStatistics(m.domain) { let s = sums[n] ?? (0, 0); sums[n] = (s.0 + c, s.1 + t) }
            }
            struct Row: Encodable { let number: UInt64?; let name: String; let count: UInt64; let totalMilliseconds: Double; let meanMicroseconds: Double }
            let rows = sums.sorted { $0.value.0 > $1.value.0 }.map { (n, v) in
                Row(number: n, name: n.map { Hypercall(rawValue: $0)?.xenName ?? "#\($0)" } ?? "≥64", count: v.0,
                    totalMilliseconds: Double(v.1) / 1e6, meanMicroseconds: v.0 == 0 ? 0 : Double(v.1) / Double(v.0) / 1e3)
            }
            let scope = call.positional.isEmpty ? "all \(managed.count) domains" : managed[0].domain.label
            let text = "Hypercalls of \(scope):\n" + textTable(["Nr", "Name", "Count", "Total ms", "Mean µs"], rows.map {
                [$0.number.map { "\($0)" } ?? "-", $0.name, "\($0.count)", String(format: "%.3f", $0.totalMilliseconds), String(format: "%.2f", $0.meanMicroseconds)]
            }, rightAligned: [0, 2, 3, 4])
            return call.reply(text, rows)
        },
        ControlVerb("vcpu-regs", "DOM VCPU", "A vCPU's registers and PV state (the domain is paused for the moment it takes to read them).",
                    positional: 2...2) { call throws(VerbFailure) in
            let m = try call.domain(call.positional[0])
            let index = try call.integer(call.positional[1], "VCPU", in: 0...(m.domain.vcpus.count - 1))
            let control = call.manager.control
            let wasPaused = m.domain.isPaused
            if !wasPaused {
                let stopped: Bool
                do throws(HypervisorError) { stopped = try control.pause(m.domain) } catch { throw VerbFailure("\(error)") }
                guard stopped else {
                    try? control.unpause(m.domain)
                    throw VerbFailure("\(m.domain.label) did not stop within 5 s to have its registers read")
                }
            }
            defer { if !wasPaused { try? control.unpause(m.domain) } }
            let v = m.domain.vcpus[index]
            let r = v.registersAtPark
            let pv = v.pv
            struct Regs: Encodable { let registers: [String: String]; let kernelMode: Bool; let cr3: String; let fsBase: String; let gsBaseKernel: String
                let gsBaseUser: String; let kernelSP: String; let eventCallback: String; let online: Bool; let runstate: String }
            let names = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"]
            let values = [r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rip, r.rflags]
            let online = !v.down.load(ordering: .relaxed)
            let out = Regs(registers: Dictionary(uniqueKeysWithValues: zip(names, values.map(hex))), kernelMode: pv.kernelMode,
                           cr3: hex(v.currentL4 << 12), fsBase: hex(pv.fsBase), gsBaseKernel: hex(pv.gsBaseKernel), gsBaseUser: hex(pv.gsBaseUser),
                           kernelSP: hex(pv.kernelSP), eventCallback: hex(pv.eventCallback.address), online: online, runstate: "\(v.runstateTimes.state)")
            var lines = ["\(m.domain.label) vcpu \(index): \(online ? "online" : "down"), guest \(pv.kernelMode ? "kernel" : "user") mode"]
            for row in stride(from: 0, to: names.count, by: 3) {
                lines.append((row..<min(row + 3, names.count)).map { names[$0].padding(toLength: 7, withPad: " ", startingAt: 0) + String(format: "%016lx", values[$0]) }.joined(separator: "  "))
            }
            lines.append("cr3   \(out.cr3)  fs.base \(out.fsBase)  gs.base kernel \(out.gsBaseKernel) user \(out.gsBaseUser)")
            lines.append("kernel sp \(out.kernelSP)  event callback \(out.eventCallback)")
            return call.reply(lines.joined(separator: "\n"), out)
        },
    ]

    /// GTF_* flags by name.
    static func grantFlags(_ f: UInt16) -> [String] {
        var out: [String] = []
        switch f & GrantLayout.typeMask { case 1: out.append("permit_access"); case 2: out.append("accept_transfer"); case 3: out.append("transitive"); default: out.append("invalid") }
        if f & GrantLayout.readonly != 0 { out.append("readonly") }
        if f & GrantLayout.reading != 0 { out.append("reading") }
        if f & GrantLayout.writing != 0 { out.append("writing") }
        return out
    }

    /// The letters of a PTE's flags: P W U PWT PCD A D PS G NX.
    static func pteFlags(_ e: UInt64) -> [String] {
        [(PTE.present, "P"), (PTE.writable, "W"), (PTE.user, "U"), (PTE.writeThrough, "PWT"), (PTE.cacheDisable, "PCD"),
         (PTE.accessed, "A"), (PTE.dirty, "D"), (PTE.pageSize, "PS"), (PTE.global, "G"), (PTE.noExecute, "NX")]
            .filter { e & $0.0 != 0 }.map(\.1)
    }

    static func virqName(_ v: UInt32) -> String {
        VIRQ(rawValue: v).map { "VIRQ_\($0)".uppercased() } ?? "VIRQ \(v)"
    }
}
