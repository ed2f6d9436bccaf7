import Glibc
import HyperABI

/// Dom0's privileged interface (Xen's domctl and foreign-memory access): everything the toolstack
/// needs to build and steer a domain, with the same checks a hypercall would make.
public struct DomainControl: Sendable {
    let hypervisor: Hypervisor

    /// Creates an empty domain with `pages` of RAM (allocated now), `vcpus` vCPUs (all down until started:
    /// vCPU 0 by `unpause`, the others by the guest with VCPUOP_initialise/up) and a VM on the platform.
    public func createDomain(name: String, pages: Int, maxPages: Int? = nil, vcpus: Int = 1, handle: [UInt8]? = nil,
                             emulatePrivileged: Bool = false) throws(HypervisorError) -> Domain {
        guard pages > 0, (1...SharedInfoLayout.legacyMaxVCPUs).contains(vcpus) else {
            throw HypervisorError(.EINVAL, "domain \"\(name)\"", "create",
                                  pages <= 0 ? "memory must be at least one page"
                                             : "\(vcpus) vCPUs: a domain has 1–\(SharedInfoLayout.legacyMaxVCPUs) (one vcpu_info each in shared_info)")
        }
        let frames = hypervisor.frames
        let domain = try hypervisor.register { (id) throws(HypervisorError) -> Domain in
            let mfns = try frames.allocate(pages + 1, for: id)
            let p2m = Array(mfns.dropLast())
            for (pfn, mfn) in p2m.enumerated() { frames.setM2P(mfn: mfn, pfn: UInt64(pfn)) }
            let shared = mfns.last!
            frames.pages.special[Int(shared)] = true
            let d = Domain(id: id, name: name, handle: handle ?? DomainControl.randomHandle(), memory: frames.memory,
                           p2m: p2m, sharedInfoMFN: shared, vcpuCount: vcpus, emulatePrivileged: emulatePrivileged,
                           maxPages: maxPages)
            d.hypervisor = hypervisor
            // Xen's builder leaves every vCPU's events masked at entry.
            for v in 0..<SharedInfoLayout.legacyMaxVCPUs {
                var one: UInt8 = 1
                withUnsafeBytes(of: &one) {
                    _ = frames.memory.write(mfn: shared, offset: v * VCPUInfoLayout.size + VCPUInfoLayout.upcallMask, bytes: $0)
                }
            }
            return d
        }
        do {
            let vm = try hypervisor.platform.createVM(for: domain)
            domain.vm = vm
            domain.systemTimeOffset = vm.systemTimeOffset
            for v in domain.vcpus { v.setRunstate(.offline) }     // offline time counts from creation, as on Xen
            domain.writeWallClock()
        } catch {
            domain.release()
            throw error
        }
        return domain
    }

    /// Writes bytes into a domain's pseudo-physical page `pfn` (Dom0's foreign mapping).
    public func write(_ domain: Domain, pfn: Int, offset: Int = 0, bytes: UnsafeRawBufferPointer) throws(HypervisorError) {
        let mfn = try frame(domain, pfn: pfn, "write")
        guard offset >= 0, offset + bytes.count <= 4096, domain.memory.write(mfn: mfn, offset: offset, bytes: bytes) else {
            throw HypervisorError(.EINVAL, domain.label, "write \(bytes.count) bytes at pfn \(pfn)+\(offset)", "crosses the page")
        }
    }

    /// Writes an array into page `pfn` of `domain`.
    public func write(_ domain: Domain, pfn: Int, offset: Int = 0, bytes: [UInt8]) throws(HypervisorError) {
        let failure = bytes.withUnsafeBytes { raw -> HypervisorError? in
            do throws(HypervisorError) { try write(domain, pfn: pfn, offset: offset, bytes: raw); return nil } catch { return error }
        }
        if let failure { throw failure }
    }

    /// Reads bytes from a domain's pseudo-physical page `pfn`.
    public func read(_ domain: Domain, pfn: Int, offset: Int = 0, into buffer: UnsafeMutableRawBufferPointer) throws(HypervisorError) {
        let mfn = try frame(domain, pfn: pfn, "read")
        guard domain.memory.read(mfn: mfn, offset: offset, into: buffer) else {
            throw HypervisorError(.EINVAL, domain.label, "read \(buffer.count) bytes at pfn \(pfn)+\(offset)", "crosses the page")
        }
    }

    /// Fills page `pfn` of `domain` with Xen's 64-bit PV hypercall stubs (XEN_DOMCTL_hypercall_init).
    /// Slot i: push %rcx; push %r11; mov $i,%eax; syscall; pop %r11; pop %rcx; ret.
    /// Slot 23 (iret) is jumped to with the frame already pushed: push %rcx; push %r11; push %rax; mov $23,%eax; syscall.
    public func initHypercallPage(_ domain: Domain, pfn: Int) throws(HypervisorError) {
        var page = [UInt8](repeating: 0xcc, count: 4096)
        for i in 0..<Hypercall.pageSlots {
            let n = UInt8(i)
            let stub: [UInt8] = i == Int(Hypercall.iret.rawValue)
                ? [0x51, 0x41, 0x53, 0x50, 0xb8, n, 0, 0, 0, 0x0f, 0x05]
                : [0x51, 0x41, 0x53, 0xb8, n, 0, 0, 0, 0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3]
            page.replaceSubrange(i * Hypercall.slotSize..<i * Hypercall.slotSize + stub.count, with: stub)
        }
        try write(domain, pfn: pfn, bytes: page)
    }

    /// Sets vCPU state before the domain first runs (XEN_DOMCTL_setvcpucontext). The kernel L4 must be
    /// one of the domain's frames; the hypervisor installs its own slots (256–271) in it.
    public func setVCPUContext(_ domain: Domain, vcpu: Int, _ context: VCPUContext) throws(HypervisorError) {
        guard vcpu >= 0, vcpu < domain.vcpus.count else {
            throw HypervisorError(.EINVAL, domain.label, "set vcpu \(vcpu) context", "no such vcpu")
        }
        guard domain.state == .created else {
            throw HypervisorError(.EBUSY, domain.label, "set vcpu \(vcpu) context", "domain already started")
        }
        let l4 = context.kernelL4
        guard hypervisor.frames.owner(of: l4) == domain.id, l4 != domain.sharedInfoMFN else {
            throw HypervisorError(.EINVAL, domain.label, "set vcpu \(vcpu) context", "L4 frame 0x\(String(l4, radix: 16)) is not the domain's RAM")
        }
        guard PVLayout.isCanonical(context.registers.rip), PVLayout.isCanonical(context.registers.rsp) else {
            throw HypervisorError(.EINVAL, domain.label, "set vcpu \(vcpu) context", "non-canonical rip or rsp")
        }
        // As Xen's builder: the L4 is pinned (validating the whole bootstrap tree) and held as the base.
        do throws(XenErrno) {
            try domain.withMMU { (mmu) throws(XenErrno) in
                guard !mmu.info.pinned[Int(l4)] else { return }
                try mmu.getType(l4, .l4)
                mmu.info.pinned[Int(l4)] = true
                try mmu.getType(l4, .l4)
            }
        } catch {
            throw HypervisorError(error, domain.label, "set vcpu \(vcpu) context",
                                  "the page tables under L4 frame 0x\(String(l4, radix: 16)) do not validate")
        }
        domain.vcpus[vcpu].context = context
        domain.lifecycleLock.withLock { _ in domain.vcpus[vcpu].initialised = true }
    }

    /// Starts a freshly built domain (vCPU 0 runs from the context the builder set; the guest brings up the
    /// others), or lifts one of Dom0's pauses of a running one (XEN_DOMCTL_unpausedomain).
    public func unpause(_ domain: Domain) throws(HypervisorError) {
        if domain.state == .running {
            let resumed = try domain.pauseCount.withLock { (c) throws(HypervisorError) -> Bool in
                guard c > 0 else { throw HypervisorError(.EINVAL, domain.label, "unpause", "domain is not paused") }
                c -= 1
                if c == 0 { domain.paused.store(false, ordering: .releasing) }
                return c == 0
            }
            if resumed { for v in domain.vcpus { v.parker.wake() } }
            return
        }
        let first = domain.vcpus[0]
        guard domain.lifecycleLock.withLock({ _ in first.initialised }) else {
            throw HypervisorError(.EINVAL, domain.label, "unpause", "vcpu 0 has no context")
        }
        guard domain.markRunning() else {
            throw HypervisorError(.EINVAL, domain.label, "unpause", "domain is \(domain.state), not freshly built")
        }
        do throws(XenErrno) {
            try domain.bringUp(first)
        } catch {
            throw HypervisorError(error, domain.label, "unpause", "could not start vcpu 0")
        }
    }

    /// Stops every vCPU of a running domain at its next exit (XEN_DOMCTL_pausedomain); pauses nest.
    /// With `wait`, returns once no vCPU runs guest code (their registers are then current in
    /// `VCPU.registersAtPark`); false if that took longer than `timeout` seconds.
    @discardableResult
    public func pause(_ domain: Domain, wait: Bool = true, timeout: Double = 5) throws(HypervisorError) -> Bool {
        guard domain.state == .running else {
            throw HypervisorError(.EINVAL, domain.label, "pause", "domain is \(domain.state), not running")
        }
        let first = domain.pauseCount.withLock { c -> Bool in
            c += 1
            domain.paused.store(true, ordering: .releasing)
            return c == 1
        }
        if first {
            for v in domain.vcpus {
                v.preemptRequested.store(true, ordering: .releasing)
                v.parker.wake()                 // out of SCHEDOP_block/poll
                domain.vm?.kick(v)
            }
        }
        guard wait else { return true }
        let deadline = monotonicNanos() + UInt64(timeout * 1e9)
        while !domain.isQuiescent {
            guard monotonicNanos() < deadline else { return false }
            usleep(200)
        }
        return true
    }

    /// Sets the most pages a domain may hold (XEN_DOMCTL_max_mem): never below what it holds now.
    public func setMaxMemory(_ domain: Domain, pages: Int) throws(HypervisorError) {
        let held = domain.populatedPages
        guard pages >= held, pages <= hypervisor.memory.frameCount else {
            throw HypervisorError(.EINVAL, domain.label, "set maxmem to \(pages) pages",
                                  pages < held ? "it holds \(held) pages now; balloon it down first" : "more than machine memory")
        }
        domain.maxPagesLimit.store(pages, ordering: .relaxed)
    }

    /// The credit scheduler's parameters of a domain (XEN_DOMCTL_SCHEDOP_getinfo).
    public func schedulerCredit(_ domain: Domain) -> (weight: Int, cap: Int) {
        (domain.weight.load(ordering: .relaxed), domain.cap.load(ordering: .relaxed))
    }

    /// Sets a domain's weight (1–65535, Xen's range) and cap (percent of one CPU, 0 = none, at most
    /// 100 × its vCPUs), as XEN_DOMCTL_SCHEDOP_putinfo; nil leaves a value as it is.
    public func setSchedulerCredit(_ domain: Domain, weight: Int? = nil, cap: Int? = nil) throws(HypervisorError) {
        if let weight, !(1...65535).contains(weight) {
            throw HypervisorError(.EINVAL, domain.label, "set scheduler weight", "weight \(weight) is outside 1–65535")
        }
        if let cap, !(0...100 * domain.vcpus.count).contains(cap) {
            throw HypervisorError(.EINVAL, domain.label, "set scheduler cap", "cap \(cap)% is outside 0–\(100 * domain.vcpus.count)% for \(domain.vcpus.count) vcpu(s)")
        }
        if let weight { domain.weight.store(weight, ordering: .relaxed) }
        if let cap { domain.cap.store(cap, ordering: .relaxed) }
    }

    /// Ends a domain now, whatever it is doing; its memory returns to the host.
    public func destroy(_ domain: Domain) {
        if domain.destroyIfNeverStarted() {
            domain.release()     // no vCPU thread will ever call vcpuDidStop
        } else {
            domain.end(.destroyed)   // the last vCPU thread out releases it
        }
    }

    private func frame(_ domain: Domain, pfn: Int, _ op: String) throws(HypervisorError) -> UInt64 {
        guard let mfn = domain.mfn(forPFN: pfn) else {
            throw HypervisorError(.EINVAL, domain.label, "\(op) pfn \(pfn)", "outside its \(domain.nrPages) pages or not populated")
        }
        return mfn
    }

    static func randomHandle() -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        var h = (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }
        h[6] = (h[6] & 0x0f) | 0x40   // UUID version 4
        h[8] = (h[8] & 0x3f) | 0x80
        return h
    }
}
