import Foundation
import HyperABI

/// Saving a paused domain and rebuilding it on fresh frames (Xen's domain save/restore for PV guests):
/// every machine frame number the hypervisor knows about — in page tables, grant entries, base pointers,
/// GDT frames, vcpu_info — is written as the PFN it stands for and translated back on restore.
extension DomainControl {
    /// Captures a paused, quiescent domain: the image, and each populated RAM page (canonical form)
    /// handed to `page` in PFN order. Refuses what cannot be rebuilt yet: devices other than the
    /// console and store, grants mapped between guests, interdomain channels to other guests.
    public func captureImage(_ d: Domain, page: (Int, UnsafeRawBufferPointer) throws -> Void) throws -> DomainImage {
        func refuse(_ why: String) -> HypervisorError { HypervisorError(.EOPNOTSUPP, d.label, "save", why) }
        guard d.state == .running, d.isPaused, d.isQuiescent else {
            throw HypervisorError(.EBUSY, d.label, "save", "the domain must be running, paused and quiescent")
        }
        let frames = hypervisor.frames
        let p2m = d.p2m
        let (grantTable, active, maptrack) = d.grants.withLock { g in (g.frames, g.active, g.maptrack.compactMap { $0 }) }
        guard maptrack.isEmpty else { throw refuse("it maps \(maptrack.count) grant(s) of other domains") }
        guard active.values.allSatisfy({ $0.mapper == DomainID.dom0 }), active.count <= 2 else {
            throw refuse("its grants are in use by back-ends or other domains (disks and vifs cannot be saved yet)")
        }
        guard d.mmuLock.withLock({ _ in d.pendingRelease.isEmpty }) else { throw refuse("frames it gave back are still mapped") }
        let table = d.events.withLock { $0 }
        var ports: [DomainImage.PortImage] = []
        var dom0Ports = 0
        for (i, b) in table.ports.enumerated() where i > 0 {
            switch b {
            case .free: continue
            case .interdomain(let remote, _):
                guard remote == DomainID.dom0 else { throw refuse("port \(i) is bound to domain \(remote)") }
                dom0Ports += 1
            case .unbound(let remote): ports.append(.init(port: UInt32(i), kind: "unbound", remote: remote, notify: table.notify[i]))
            case .virq(let v, let vcpu): ports.append(.init(port: UInt32(i), kind: "virq", virq: v.rawValue, vcpu: vcpu, notify: table.notify[i]))
            case .ipi(let vcpu): ports.append(.init(port: UInt32(i), kind: "ipi", vcpu: vcpu, notify: table.notify[i]))
            }
        }
        guard dom0Ports <= 2 else { throw refuse("it has \(dom0Ports) channels to Dom0 (disks and vifs cannot be saved yet)") }

        // MFN → canonical value.
        var canonical: [UInt64: UInt64] = [d.sharedInfoMFN: DomainImage.sharedInfoMarker]
        for (i, mfn) in grantTable.enumerated() { canonical[mfn] = DomainImage.grantFrameMarker + UInt64(i) }
        for (pfn, mfn) in p2m.enumerated() where mfn != PVLayout.invalidMFN && canonical[mfn] == nil { canonical[mfn] = UInt64(pfn) }
        func canon(_ mfn: UInt64) throws(HypervisorError) -> UInt64 {
            guard let c = canonical[mfn] else { throw refuse("it references frame 0x\(String(mfn, radix: 16)), which is not its own") }
            return c
        }
        func pfn(_ mfn: UInt64) throws(HypervisorError) -> Int {
            let c = try canon(mfn)
            guard c < DomainImage.grantFrameMarker else { throw refuse("a page table or base pointer is a hypervisor page") }
            return Int(c)
        }

        var tables: [DomainImage.TableImage] = [], pinned: [DomainImage.TableImage] = []
        var populated = [Bool](repeating: false, count: p2m.count)
        var buffer = [UInt8](repeating: 0, count: 4096)
        for (p, mfn) in p2m.enumerated() where mfn != PVLayout.invalidMFN {
            guard canonical[mfn] == UInt64(p) else { continue }     // shared_info or a grant frame placed in the P2M
            populated[p] = true
            let type = PageType(rawValue: frames.pages.type[Int(mfn)]) ?? .none
            buffer.withUnsafeMutableBytes { _ = d.memory.read(mfn: mfn, offset: 0, into: $0) }
            if let level = type.level {
                tables.append(.init(pfn: p, level: level))
                if frames.pages.pinned[Int(mfn)] { pinned.append(.init(pfn: p, level: level)) }
                for slot in 0..<512 {
                    var e = buffer.withUnsafeBytes { $0.load(fromByteOffset: slot * 8, as: UInt64.self) }
                    if level == 4 && Domain.isHypervisorSlot(slot) { e = 0 }
                    if e & PTE.present != 0 {
                        let c = try canon((e & PTE.addressMask) >> 12)
                        e = (e & ~PTE.addressMask) | (c << 12)
                    }
                    buffer.withUnsafeMutableBytes { $0.storeBytes(of: e, toByteOffset: slot * 8, as: UInt64.self) }
                }
            }
            try buffer.withUnsafeBytes { try page(p, $0) }
        }

        var grantPages: [Data] = []
        for mfn in grantTable {
            buffer.withUnsafeMutableBytes { _ = d.memory.read(mfn: mfn, offset: 0, into: $0) }
            for i in 0..<GrantLayout.entriesPerFrame {
                let w = buffer.withUnsafeBytes { $0.load(fromByteOffset: i * 8, as: UInt64.self) }
                guard UInt16(truncatingIfNeeded: w) & GrantLayout.typeMask != 0 else { continue }
                let c = try canon(w >> 32)
                buffer.withUnsafeMutableBytes { $0.storeBytes(of: (w & 0xffff_ffff) | c << 32, toByteOffset: i * 8, as: UInt64.self) }
            }
            grantPages.append(Data(buffer))
        }
        buffer.withUnsafeMutableBytes { _ = d.memory.read(mfn: d.sharedInfoMFN, offset: 0, into: $0) }
        let shared = Data(buffer)

        var vcpus: [DomainImage.VCPUImage] = []
        for v in d.vcpus {
            let r = v.registersAtPark
            let pv = v.pv
            let initialised = d.lifecycleLock.withLock { _ in v.initialised }
            let info = v.vcpuInfo
            let timer = v.timer.settings
            vcpus.append(DomainImage.VCPUImage(
                registers: [r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rip, r.rflags],
                extendedState: d.vm?.extendedState(v) ?? Data(), online: !v.down.load(ordering: .acquiring), initialised: initialised,
                kernelL4PFN: initialised ? try pfn(v.context.kernelL4) : nil, userL4PFN: pv.userL4 == 0 ? nil : try pfn(pv.userL4),
                kernelMode: pv.kernelMode,
                traps: pv.trapTable.enumerated().compactMap { (i, t) in t.address == 0 ? nil : .init(vector: i, address: t.address, dpl: t.dpl, disablesEvents: t.disablesEvents) },
                eventCallback: pv.eventCallback.address, failsafeCallback: pv.failsafeCallback.address,
                failsafeMasksEvents: pv.failsafeCallback.masksEvents, syscallCallback: pv.syscallCallback.address,
                syscallMasksEvents: pv.syscallCallback.masksEvents, kernelSS: pv.kernelSS, kernelSP: pv.kernelSP, fsBase: pv.fsBase,
                gsBaseKernel: pv.gsBaseKernel, gsBaseUser: pv.gsBaseUser, taskSwitched: pv.taskSwitched,
                gdtPFNs: try pv.gdtFrames.map { (m) throws(HypervisorError) in try pfn(m) }, runstateArea: pv.runstateArea,
                vcpuInfoPFN: info.mfn == d.sharedInfoMFN ? nil : try pfn(info.mfn), vcpuInfoOffset: info.offset,
                singleshotDeadline: timer.singleshot, timerPeriod: timer.period))
        }
        return DomainImage(name: d.name, handle: d.handle, nrPages: p2m.count, maxPages: d.maxPages, emulatePrivileged: d.emulatePrivileged,
                           weight: d.weight.load(ordering: .relaxed), cap: d.cap.load(ordering: .relaxed),
                           vmAssist: d.vmAssist.load(ordering: .relaxed), systemTime: d.systemTime(),
                           balloonedOut: d.balloonedOut.load(ordering: .relaxed), populated: populated, pinned: pinned,
                           pageTables: tables, sharedInfo: shared, grantFrames: grantPages, ports: ports, vcpus: vcpus)
    }

    /// Rebuilds a domain from an image on fresh frames: `page` fills each populated PFN's canonical
    /// contents (in PFN order). The domain is left built, not running: connect Dom0's services, then
    /// `resumeRestored`. Anything inconsistent destroys the half-built domain and throws.
    public func restoreImage(_ image: DomainImage, name: String, page: (Int, UnsafeMutableRawBufferPointer) throws -> Void) throws -> Domain {
        guard image.vcpus.count >= 1, image.populated.count == image.nrPages else {
            throw HypervisorError(.EINVAL, "domain \"\(name)\"", "restore", "the image's vCPU or page counts are inconsistent")
        }
        let d = try createDomain(name: name, pages: image.nrPages, maxPages: image.maxPages, vcpus: image.vcpus.count,
                                 handle: image.handle, emulatePrivileged: image.emulatePrivileged)
        do {
            try rebuild(d, image, page: page)
        } catch {
            destroy(d)
            throw error
        }
        return d
    }

    private func rebuild(_ d: Domain, _ image: DomainImage, page: (Int, UnsafeMutableRawBufferPointer) throws -> Void) throws {
        func bad(_ why: String) -> HypervisorError { HypervisorError(.EINVAL, d.label, "restore", why) }
        let frames = hypervisor.frames
        // Frames: the grant table first (entries and PTEs may point at it), then RAM where the image has it.
        do throws(GrantStatus) { try d.growGrantTable(to: image.grantFrames.count) } catch {
            throw bad("cannot create \(image.grantFrames.count) grant-table frames: GNTST_\(error.xenName)")
        }
        let grantTable = d.grants.withLock { $0.frames }
        let absent = image.populated.indices.filter { !image.populated[$0] }
        let released = d.p2mState.withLock { p in absent.map { pfn in defer { p[pfn] = PVLayout.invalidMFN }; return p[pfn] } }
        for m in released { frames.setM2P(mfn: m, pfn: PVLayout.invalidM2PEntry) }
        d.vm?.unmapFrames(released)
        frames.release(released, from: d.id)
        d.balloonedOut.store(image.balloonedOut, ordering: .relaxed)
        let p2m = d.p2m
        func machine(_ c: UInt64) throws(HypervisorError) -> UInt64 {
            if c == DomainImage.sharedInfoMarker { return d.sharedInfoMFN }
            if c >= DomainImage.grantFrameMarker, c < DomainImage.sharedInfoMarker {
                let i = Int(c - DomainImage.grantFrameMarker)
                guard i < grantTable.count else { throw bad("grant frame \(i) of \(grantTable.count)") }
                return grantTable[i]
            }
            guard c < UInt64(p2m.count), p2m[Int(c)] != PVLayout.invalidMFN else { throw bad("PFN 0x\(String(c, radix: 16)) is not populated") }
            return p2m[Int(c)]
        }
        func mfn(_ pfn: Int?) throws(HypervisorError) -> UInt64 { try machine(UInt64(pfn ?? -1)) }

        var levels: [Int: Int] = [:]
        for t in image.pageTables { levels[t.pfn] = t.level }
        var buffer = [UInt8](repeating: 0, count: 4096)
        for pfn in image.populated.indices where image.populated[pfn] {
            try buffer.withUnsafeMutableBytes { try page(pfn, $0) }
            if let level = levels[pfn] {
                for slot in 0..<512 {
                    var e = buffer.withUnsafeBytes { $0.load(fromByteOffset: slot * 8, as: UInt64.self) }
                    guard e & PTE.present != 0 else { continue }
                    e = (e & ~PTE.addressMask) | (try machine((e & PTE.addressMask) >> 12) << 12)
                    if level == 4 && Domain.isHypervisorSlot(slot) { e = 0 }
                    buffer.withUnsafeMutableBytes { $0.storeBytes(of: e, toByteOffset: slot * 8, as: UInt64.self) }
                }
            }
            let failure = buffer.withUnsafeBytes { raw -> HypervisorError? in
                do throws(HypervisorError) { try write(d, pfn: pfn, bytes: raw); return nil } catch { return error }
            }
            if let failure { throw failure }
        }
        for (i, data) in image.grantFrames.enumerated() {
            guard data.count == 4096 else { throw bad("grant frame \(i) is \(data.count) bytes") }
            buffer = Array(data)
            for e in 0..<GrantLayout.entriesPerFrame {
                let w = buffer.withUnsafeBytes { $0.load(fromByteOffset: e * 8, as: UInt64.self) }
                guard UInt16(truncatingIfNeeded: w) & GrantLayout.typeMask != 0 else { continue }
                let m = try machine(w >> 32)
                buffer.withUnsafeMutableBytes { $0.storeBytes(of: (w & 0xffff_ffff) | m << 32, toByteOffset: e * 8, as: UInt64.self) }
            }
            buffer.withUnsafeBytes { _ = d.memory.write(mfn: grantTable[i], offset: 0, bytes: $0) }
        }
        guard image.sharedInfo.count == 4096 else { throw bad("shared_info is \(image.sharedInfo.count) bytes") }
        image.sharedInfo.withUnsafeBytes { _ = d.memory.write(mfn: d.sharedInfoMFN, offset: 0, bytes: $0) }

        // Types: pinning validates every table reachable from the pinned ones, as when the guest pinned them.
        for t in image.pinned {
            let m = try mfn(t.pfn)
            do throws(XenErrno) {
                try d.withMMU { (mmu) throws(XenErrno) in
                    try mmu.getType(m, .table(t.level))
                    mmu.info.pinned[Int(m)] = true
                }
            } catch { throw HypervisorError(error, d.label, "restore", "the L\(t.level) table at PFN 0x\(String(t.pfn, radix: 16)) does not validate") }
        }

        for (i, s) in image.vcpus.enumerated() {
            let v = d.vcpus[i]
            guard s.registers.count == 18 else { throw bad("vcpu \(i) has \(s.registers.count) registers") }
            var c = VCPUContext()
            let r = s.registers
            c.registers.rax = r[0]; c.registers.rbx = r[1]; c.registers.rcx = r[2]; c.registers.rdx = r[3]
            c.registers.rsi = r[4]; c.registers.rdi = r[5]; c.registers.rbp = r[6]; c.registers.rsp = r[7]
            c.registers.r8 = r[8]; c.registers.r9 = r[9]; c.registers.r10 = r[10]; c.registers.r11 = r[11]
            c.registers.r12 = r[12]; c.registers.r13 = r[13]; c.registers.r14 = r[14]; c.registers.r15 = r[15]
            // RFLAGS as VCPUOP_initialise takes it: architectural bits only, IF on, no IOPL.
            c.registers.rip = r[16]; c.registers.rflags = (r[17] & 0x3f_7fd5 & ~0x2_3000) | 0x202
            var pv = PVState()
            for t in s.traps where (0..<256).contains(t.vector) {
                pv.trapTable[t.vector].address = t.address
                pv.trapTable[t.vector].dpl = t.dpl
                pv.trapTable[t.vector].disablesEvents = t.disablesEvents
            }
            pv.eventCallback = Callback(address: s.eventCallback, masksEvents: true)
            pv.failsafeCallback = Callback(address: s.failsafeCallback, masksEvents: s.failsafeMasksEvents)
            pv.syscallCallback = Callback(address: s.syscallCallback, masksEvents: s.syscallMasksEvents)
            pv.kernelSS = s.kernelSS; pv.kernelSP = s.kernelSP; pv.fsBase = s.fsBase
            pv.gsBaseKernel = s.gsBaseKernel; pv.gsBaseUser = s.gsBaseUser; pv.taskSwitched = s.taskSwitched
            pv.kernelMode = s.kernelMode; pv.runstateArea = s.runstateArea
            pv.dirty = [.segmentBases, .baseTable]
            if s.initialised {
                c.kernelL4 = try mfn(s.kernelL4PFN)
                pv.userL4 = try s.userL4PFN.map { (p) throws(HypervisorError) in try mfn(p) } ?? 0
                let gdt = try s.gdtPFNs.map { (p) throws(HypervisorError) in try mfn(p) }
                do throws(XenErrno) {
                    try d.withMMU { (mmu) throws(XenErrno) in
                        try mmu.getType(c.kernelL4, .l4)
                        if pv.userL4 != 0 { try mmu.getType(pv.userL4, .l4) }
                        for g in gdt { try mmu.getType(g, .segmentDescriptors) }
                    }
                } catch { throw HypervisorError(error, d.label, "restore", "vcpu \(i)'s base pointers or GDT frames do not validate") }
                pv.gdtFrames = gdt
                if !gdt.isEmpty { pv.dirty.insert(.descriptorTables) }
            }
            if let p = s.vcpuInfoPFN {
                v.vcpuInfoLocation.store(try mfn(p) << 12 | UInt64(s.vcpuInfoOffset & 4095), ordering: .releasing)
            }
            v.context = c
            v.pv = pv
            d.lifecycleLock.withLock { _ in v.initialised = s.initialised }
            if !s.extendedState.isEmpty { try d.vm?.setExtendedState(v, s.extendedState) }
        }

        try d.events.withLock { (t) throws(HypervisorError) in
            for p in image.ports {
                guard p.port > 0, Int(p.port) < EventChannelLayout.maxPorts else { throw bad("port \(p.port)") }
                while t.ports.count <= Int(p.port) { t.ports.append(.free); t.notify.append(0) }
                switch p.kind {
                case "unbound": t.ports[Int(p.port)] = .unbound(remote: p.remote ?? DomainID.dom0)
                case "virq":
                    guard let raw = p.virq, let virq = VIRQ(rawValue: raw), let vcpu = p.vcpu, vcpu < d.vcpus.count else { throw bad("port \(p.port)'s VIRQ") }
                    t.ports[Int(p.port)] = .virq(virq, vcpu: vcpu)
                    t.virqPorts[PortTable.virqKey(virq, vcpu)] = p.port
                case "ipi":
                    guard let vcpu = p.vcpu, vcpu < d.vcpus.count else { throw bad("port \(p.port)'s IPI") }
                    t.ports[Int(p.port)] = .ipi(vcpu: vcpu)
                default: throw bad("port \(p.port) is \(p.kind)")
                }
                t.notify[Int(p.port)] = min(max(p.notify, 0), d.vcpus.count - 1)
            }
        }
        d.vmAssist.store(image.vmAssist, ordering: .relaxed)
        try setSchedulerCredit(d, weight: image.weight, cap: image.cap)
        // The clock continues from the moment of the save: deadlines the guest set still mean the same.
        if let vm = d.vm { d.systemTimeOffset = try vm.setSystemTime(image.systemTime) }
        for (i, s) in image.vcpus.enumerated() {
            d.vcpus[i].timer.setSingleshot(s.singleshotDeadline)
            d.vcpus[i].timer.setPeriodic(s.timerPeriod)
        }
    }

    /// Starts a restored domain's vCPUs that were online when it was saved. Each one that was blocked
    /// returns from its SCHEDOP_block (with 0), as after any wake-up.
    public func resumeRestored(_ d: Domain, _ image: DomainImage) throws(HypervisorError) {
        guard d.markRunning() else { throw HypervisorError(.EINVAL, d.label, "resume", "domain is \(d.state), not freshly restored") }
        for (i, s) in image.vcpus.enumerated() where s.online && s.initialised {
            do throws(XenErrno) { try d.bringUp(d.vcpus[i]) } catch {
                throw HypervisorError(error, d.label, "resume", "could not start vcpu \(i)")
            }
        }
    }
}
