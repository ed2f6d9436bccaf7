import Foundation
import HyperABI
import Hypervisor

/// `hv save` and `hv restore`: a domain to a file and back, also across daemon restarts.
extension DomainManager {
    /// Pauses a domain, writes it to `path` and destroys it (or, with `keepRunning`, lets it run on).
    /// `progress` gets a line now and then for large domains. Returns the header written.
    public func save(_ m: Managed, to path: String, keepRunning: Bool, progress: (String) -> Void) throws(ToolstackError) -> SaveHeader {
        let d = m.domain
        guard m.config.disks.isEmpty, m.config.vifs.isEmpty else {
            throw .invalid(object: d.label, problem: "has disks or vifs: their back-end connections cannot be saved yet")
        }
        guard let rings = toolstack.services.rings(d.id) else { throw .invalid(object: d.label, problem: "is not connected to Dom0's services") }
        // Our guests do not offer control/feature-suspend, so the guest is not told: it is paused, as xl
        // does for a guest without the PV suspend protocol.
        let stopped: Bool
        do throws(HypervisorError) { stopped = try control.pause(d) } catch { throw .hypervisor(error) }
        guard stopped else {
            try? control.unpause(d)
            throw .invalid(object: d.label, problem: "did not stop within 5 s")
        }
        var paused = true
        defer { if paused { try? control.unpause(d) } }
        let tmp = path + ".partial"
        let writer = try SaveFileWriter(path: tmp)
        let total = d.populatedPages
        let step = max(16384, total / 10)       // a line per 64 MiB or per tenth
        let started = Date()
        let image: DomainImage
        do {
            image = try control.captureImage(d) { (_, raw) in
                try writer.page(raw)
                if writer.pages % step == 0 { progress("saving \(d.label): \(writer.pages >> 8) of \(total >> 8) MiB") }
            }
        } catch let e as ToolstackError {
            unlink(tmp)
            throw e
        } catch let e as HypervisorError {
            unlink(tmp)
            throw .hypervisor(e)
        } catch {
            unlink(tmp)
            throw .invalid(object: d.label, problem: "\(error)")
        }
        let header = SaveHeader(formatVersion: SaveFile.formatVersion, hypervisorVersion: ControlProtocol.hypervisorVersion, savedAt: Date(),
                                stoppedBy: "paused", config: SavedConfig(m.config, policy: m.policy), image: image,
                                storePFN: rings.storePFN, consolePFN: rings.consolePFN, storePort: rings.storePort, consolePort: rings.consolePort,
                                xenstore: storeSubtree(d.id),
                                watches: toolstack.services.store.watches(of: d.id).map { .init(path: $0.path, token: Data($0.token)) },
                                domid: d.id, consoleLog: Data(d.console.log), pages: writer.pages)
        do {
            try writer.finish(header)
        } catch {
            unlink(tmp)
            throw error
        }
        guard rename(tmp, path) == 0 else {
            unlink(tmp)
            throw .invalid(object: path, problem: "cannot put the file in place: \(String(cString: strerror(errno)))")
        }
        log.add("\(d.label): saved to \(path) (\(writer.pages >> 8) MiB in \(String(format: "%.2f", -started.timeIntervalSinceNow)) s)")
        if !keepRunning {
            paused = false
            destroyQuietly(d)
        }
        return header
    }

    /// Rebuilds a saved domain (under its saved name, or `name`) and lets it run on.
    public func restore(from path: String, name: String? = nil, progress: (String) -> Void) throws(ToolstackError) -> Domain {
        let reader = try SaveFileReader(path: path)
        let h = reader.header
        let newName = name ?? h.config.name
        guard find(newName) == nil else {
            throw .invalid(object: "domain \"\(newName)\"", problem: "a domain of that name is running; destroy it or restore under another name")
        }
        var config = h.config.config
        config.name = newName
        let started = Date()
        let step = max(16384, h.pages / 10)
        var done = 0
        let d: Domain
        do {
            d = try control.restoreImage(h.image, name: newName) { (_, buffer) in
                try reader.page(into: buffer)
                done += 1
                if done % step == 0 { progress("restoring \(newName): \(done >> 8) of \(h.pages >> 8) MiB") }
            }
        } catch let e as ToolstackError { throw e } catch let e as HypervisorError { throw .hypervisor(e) } catch {
            throw .invalid(object: path, problem: "\(error)")
        }
        try adopt(d, config: config, policy: h.config.policy) { () throws(ToolstackError) in
            let ports = try toolstack.services.attach(d, config: config, storePFN: h.storePFN, consolePFN: h.consolePFN)
            guard ports.store == h.storePort, ports.console == h.consolePort else {
                throw .invalid(object: d.label, problem: "Dom0's channels came back as ports \(ports.store)/\(ports.console), not \(h.storePort)/\(h.consolePort)")
            }
            try rewriteBootInfo(d, startInfoPFN: h.storePFN - 1, storePFN: h.storePFN, consolePFN: h.consolePFN)
            restoreSubtree(d.id, h.xenstore)
            let oldHome = "/local/domain/\(h.domid)/", newHome = "/local/domain/\(d.id)/"
            for w in h.watches {
                let path = w.path.hasPrefix(oldHome) ? newHome + w.path.dropFirst(oldHome.count) : w.path
                do { try toolstack.services.store.watch(for: d.id, path: path, token: Array(w.token)) } catch {
                    throw .invalid(object: d.label, problem: "cannot set its watch on \(path) again: \(error)")
                }
            }
            h.consoleLog.withUnsafeBytes { d.console.output($0) }
            do throws(HypervisorError) { try control.resumeRestored(d, h.image) } catch { throw .hypervisor(error) }
        }
        log.add("\(d.label): restored from \(path) (saved \(h.savedAt), \(h.pages >> 8) MiB in \(String(format: "%.2f", -started.timeIntervalSinceNow)) s)")
        return d
    }

    /// What the builder handed the guest in machine frames, as Xen's restore does for a PV guest: the p2m
    /// list start_info points to gets the new frames, and start_info its new shared_info, store and console
    /// frames. (start_info sits right before the store page in the builder's layout.)
    func rewriteBootInfo(_ d: Domain, startInfoPFN: Int, storePFN: Int, consolePFN: Int) throws(ToolstackError) {
        typealias L = StartInfoLayout
        var page = [UInt8](repeating: 0, count: 4096)
        func word(_ off: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(page[off + $1]) << (8 * UInt64($1)) } }
        func put(_ v: UInt64, _ off: Int) { for i in 0..<8 { page[off + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
        let p2m = d.p2m
        let failed = page.withUnsafeMutableBytes { b -> HypervisorError? in
            do throws(HypervisorError) { try control.read(d, pfn: startInfoPFN, into: b); return nil } catch { return error }
        }
        if let failed { throw .hypervisor(failed) }
        let l4 = d.vcpus[0].context.kernelL4            // the kernel's tables map the p2m list, whatever mode it was in
        guard Array(page[0..<L.magic64.utf8.count]) == Array(L.magic64.utf8), l4 != 0 else {
            throw .invalid(object: d.label, problem: "start_info is not where the builder put it (PFN \(startInfoPFN)): cannot give the guest its new frames")
        }
        put(d.sharedInfoMFN << 12, L.sharedInfo)
        put(p2m[storePFN], L.storeMFN)
        put(p2m[consolePFN], L.consoleMFN)
        let list = word(L.mfnList), entries = min(Int(word(L.nrPages)), p2m.count)
        do throws(HypervisorError) {
            try control.write(d, pfn: startInfoPFN, bytes: page)
            for first in stride(from: 0, to: entries, by: 512) {
                guard let leaf = control.walk(d, l4: l4, va: list &+ UInt64(first * 8)).last, leaf.level == 1, leaf.entry & PTE.present != 0,
                      let pfn = control.frameStatus((leaf.entry & PTE.addressMask) >> 12)?.pfn else {
                    throw HypervisorError(.EFAULT, d.label, "restore", "its p2m list at 0x\(String(list, radix: 16)) is not mapped")
                }
                try control.write(d, pfn: Int(pfn), words: Array(p2m[first..<min(first + 512, entries)]))
            }
        } catch { throw .hypervisor(error) }
    }

    /// The guest's XenStore subtree, relative to its home, without the nodes Dom0's services write at connection.
    func storeSubtree(_ id: UInt16) -> [SaveHeader.SavedNode] {
        let store = toolstack.services.store
        let home = "/local/domain/\(id)"
        var out: [SaveHeader.SavedNode] = []
        func visit(_ relative: String) {
            let full = relative.isEmpty ? home : home + "/" + relative
            for child in (try? store.directory(full)) ?? [] {
                let rel = relative.isEmpty ? child : relative + "/" + child
                let path = home + "/" + rel
                let perms = ((try? store.permissions(path)) ?? []).map { p in
                    // The domain's own id becomes a placeholder: it has another one after restore.
                    p.domid == id ? String(UnicodeScalar(p.access.rawValue)) + "$self" : p.description
                }
                out.append(.init(path: rel, value: Data((try? store.read(path)) ?? []), permissions: perms))
                visit(rel)
            }
        }
        visit("")
        return out
    }

    /// Writes a saved subtree under a domain's new home, leaving what Dom0's services just wrote.
    func restoreSubtree(_ id: UInt16, _ nodes: [SaveHeader.SavedNode]) {
        let store = toolstack.services.store
        let home = "/local/domain/\(id)"
        let fresh = Set(storeSubtree(id).map(\.path))
        for node in nodes where !fresh.contains(node.path) && node.path != "domid" {
            let path = home + "/" + node.path
            try? store.write(path, Array(node.value))
            let perms = node.permissions.compactMap { text -> XenStorePermission? in
                XenStorePermission(Array(text.replacingOccurrences(of: "$self", with: String(id)).utf8))
            }
            if !perms.isEmpty { try? store.setPermissions(path, perms) }
        }
    }
}

extension ControlVerbs {
    static let saveVerbs: [ControlVerb] = [
        ControlVerb("save", "DOM FILE [-c]", "Pause a domain and write it to FILE (memory, vCPUs, channels, grants, XenStore); then destroy it.",
                    detail: "-c  keep it running after the save (a checkpoint).\nThe file is versioned and self-describing; `hv restore FILE` brings the domain back, also in another daemon.",
                    flags: ["-c"], positional: 2...2) { call throws(VerbFailure) in
            let m = try call.domain(call.positional[0])
            let path = call.absolute(call.positional[1])
            let started = Date()
            let header: SaveHeader
            do { header = try call.manager.save(m, to: path, keepRunning: call.has("-c"), progress: call.progress) } catch {
                throw VerbFailure("cannot save \(m.domain.label): \(error)")
            }
            struct Saved: Encodable { let file: String; let megabytes: Int; let seconds: Double; let formatVersion: UInt32 }
            let out = Saved(file: path, megabytes: header.pages >> 8, seconds: -started.timeIntervalSinceNow, formatVersion: header.formatVersion)
            return call.reply("saved \(m.domain.label) to \(path) (\(out.megabytes) MiB in \(String(format: "%.2f", out.seconds)) s)"
                              + (call.has("-c") ? "; it runs on" : ""), out)
        },
        ControlVerb("restore", "FILE [--name NAME]", "Bring a saved domain back from FILE and let it run on.",
                    options: ["--name"], positional: 1...1) { call throws(VerbFailure) in
            let path = call.absolute(call.positional[0])
            let started = Date()
            let d: Domain
            do { d = try call.manager.restore(from: path, name: call.option("--name"), progress: call.progress) } catch {
                throw VerbFailure("cannot restore \(path): \(error)")
            }
            struct Restored: Encodable { let id: UInt16; let name: String; let seconds: Double }
            let out = Restored(id: d.id, name: d.name, seconds: -started.timeIntervalSinceNow)
            return call.reply("restored \(d.label) from \(path) in \(String(format: "%.2f", out.seconds)) s", out)
        },
    ]
}
