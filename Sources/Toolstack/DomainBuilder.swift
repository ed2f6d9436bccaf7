import Foundation
import ELFImage
import HyperABI
import Hypervisor

/// What to boot: Xen's `xl` names where they exist.
public struct DomainConfig: Sendable {
    /// How privileged instructions in the guest kernel are handled.
    public enum Privileged: String, Sendable {
        /// As Xen: emulate Xen's set for PV guests, bounce the rest as #GP.
        case xen
        /// Trap-and-emulate: also cli/sti (on the virtual interrupt flag) and hlt (as block).
        case emulate
    }
    public var name: String
    public var kernel: String
    /// An initial ramdisk, loaded after the kernel and handed over as start_info's module.
    public var ramdisk: String?
    public var memoryBytes: Int
    public var cmdline: String
    public var privileged: Privileged
    /// The most memory the domain may balloon up to (`maxmem`); nil = `memoryBytes`.
    public var maxMemoryBytes: Int?
    /// Credit-scheduler weight (1–65535, default 256) and cap (percent of one CPU, 0 = none).
    public var weight: Int
    public var cap: Int
    /// vCPUs (1–32): vCPU 0 starts at the kernel's entry, the guest brings up the others (VCPUOP_initialise/up).
    public var vcpus: Int
    /// Disks, served by Dom0's block back-end over Xen's blkif protocol.
    public var disks: [DiskSpec] = []
    /// Network interfaces (vif 0, 1 …), each joined to Dom0's software switch of its bridge.
    public var vifs: [VifSpec] = []
    public init(name: String, kernel: String, memoryBytes: Int = 64 << 20, cmdline: String = "", privileged: Privileged = .xen,
                maxMemoryBytes: Int? = nil, weight: Int = 256, cap: Int = 0, vcpus: Int = 1, disks: [DiskSpec] = [],
                vifs: [VifSpec] = [], ramdisk: String? = nil) {
        self.name = name; self.kernel = kernel; self.ramdisk = ramdisk; self.memoryBytes = memoryBytes; self.cmdline = cmdline; self.privileged = privileged
        self.maxMemoryBytes = maxMemoryBytes; self.weight = weight; self.cap = cap; self.vcpus = vcpus; self.disks = disks; self.vifs = vifs
    }
}

/// Dom0's services a new domain is connected to (XenStore, the console back-end): given the domain and
/// its store and console pages, they return the guest ports of their event channels for start_info.
public protocol DomainServices: Sendable {
    func attach(_ domain: Domain, config: DomainConfig, storePFN: Int, consolePFN: Int) throws(ToolstackError) -> (store: UInt32, console: UInt32)
}

/// Xen's x86-64 PV domain builder: loads the kernel, builds the bootstrap page tables, start_info and
/// p2m list, fills the hypercall page and sets the first vCPU's entry state — all through Dom0's
/// control interface, never by reaching into the hypervisor's structures.
public struct DomainBuilder {
    public let control: DomainControl
    /// Dom0's services to connect each domain to (none: start_info says there is no store or console ring).
    public let services: (any DomainServices)?

    public init(control: DomainControl, services: (any DomainServices)? = nil) { self.control = control; self.services = services }

    /// Loads and validates the image, creates the domain and builds it. The domain is left paused.
    public func build(_ config: DomainConfig) throws(ToolstackError) -> Domain {
        let limits = ELFLimits(memoryBytes: UInt64(config.memoryBytes))
        let image: ELFImage
        do { image = try ELFImage.load(path: config.kernel, limits: limits) } catch { throw .image(error) }
        return try build(config, image: image)
    }

    /// Builds a domain from an already loaded image.
    public func build(_ config: DomainConfig, image: ELFImage) throws(ToolstackError) -> Domain {
        guard config.memoryBytes >= 1 << 20, config.memoryBytes % 4096 == 0 else {
            throw .invalid(object: "domain \"\(config.name)\"", problem: "memory must be a whole number of pages, at least 1 MiB (got \(config.memoryBytes) bytes)")
        }
        guard config.cmdline.utf8.count < StartInfoLayout.cmdLineSize else {
            throw .invalid(object: "domain \"\(config.name)\"", problem: "command line is \(config.cmdline.utf8.count) bytes; at most \(StartInfoLayout.cmdLineSize - 1) fit in start_info")
        }
        let pages = config.memoryBytes >> 12
        var ramdisk: [UInt8] = []
        if let path = config.ramdisk {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw .invalid(object: "ramdisk \(path)", problem: "cannot be read")
            }
            guard data.count < config.memoryBytes / 2 else {
                throw .invalid(object: "ramdisk \(path)", problem: "\(data.count >> 20) MiB does not fit in half of the domain's \(config.memoryBytes >> 20) MiB")
            }
            ramdisk = Array(data)
        }
        let layout = try BootLayout(virtBase: image.virtBase, kernelStart: image.kernelStart, kernelEnd: image.kernelEnd, nrPages: pages,
                                    moduleBytes: ramdisk.count)
        guard (1...SharedInfoLayout.legacyMaxVCPUs).contains(config.vcpus) else {
            throw .invalid(object: "domain \"\(config.name)\"", problem: "vcpus = \(config.vcpus); a domain has 1–\(SharedInfoLayout.legacyMaxVCPUs)")
        }
        guard (config.maxMemoryBytes ?? config.memoryBytes) >= config.memoryBytes else {
            throw .invalid(object: "domain \"\(config.name)\"", problem: "maxmem (\(config.maxMemoryBytes ?? 0) bytes) is below memory (\(config.memoryBytes) bytes)")
        }
        let domain: Domain
        do {
            domain = try control.createDomain(name: config.name, pages: pages, maxPages: (config.maxMemoryBytes ?? config.memoryBytes) >> 12,
                                              vcpus: config.vcpus, emulatePrivileged: config.privileged == .emulate)
        } catch { throw .hypervisor(error) }
        var ports: (store: UInt32, console: UInt32)? = nil
        if let services {
            do { ports = try services.attach(domain, config: config, storePFN: layout.storePFN, consolePFN: layout.consolePFN) } catch {
                control.destroy(domain)
                throw error
            }
        }
        do throws(HypervisorError) {
            try control.setSchedulerCredit(domain, weight: config.weight, cap: config.cap)
            try load(image, into: domain, layout: layout)
            for (i, pfn) in layout.modulePFNs.enumerated() {
                try control.write(domain, pfn: pfn, bytes: Array(ramdisk[i * 4096..<min(ramdisk.count, (i + 1) * 4096)]))
            }
            try writeP2M(domain, layout: layout)
            try writePageTables(domain, layout: layout)
            try writeStartInfo(domain, layout: layout, cmdline: config.cmdline, ports: ports, moduleBytes: ramdisk.count)
            if let hypercallPage = image.notes.hypercallPage {
                try control.initHypercallPage(domain, pfn: Int((hypercallPage - image.virtBase) >> 12))
            }
            var context = VCPUContext()
            context.registers.rip = image.entry
            context.registers.rsp = layout.va(layout.stackPFN + 1)
            context.registers.rsi = layout.va(layout.startInfoPFN)
            context.registers.rflags = 0x202
            context.kernelL4 = domain.p2m[layout.ptPFN]
            try control.setVCPUContext(domain, vcpu: 0, context)
        } catch {
            control.destroy(domain)
            throw .hypervisor(error)
        }
        return domain
    }

    private func load(_ image: ELFImage, into domain: Domain, layout: BootLayout) throws(HypervisorError) {
        for segment in image.segments {
            var done = 0
            let bytes = segment.bytes
            while done < bytes.count {
                let va = segment.vaddr + UInt64(done)
                let pfn = Int((va - layout.virtBase) >> 12)
                let offset = Int(va & 4095)
                let n = min(4096 - offset, bytes.count - done)
                let failure = bytes[done..<done + n].withUnsafeBytes { raw -> HypervisorError? in
                    do throws(HypervisorError) { try control.write(domain, pfn: pfn, offset: offset, bytes: raw); return nil } catch { return error }
                }
                if let failure { throw failure }
                done += n
            }
            // memsz beyond filesz stays zero: the frames are fresh.
        }
    }

    private func writeP2M(_ domain: Domain, layout: BootLayout) throws(HypervisorError) {
        let perPage = 512
        for page in 0..<layout.p2mPages {
            let first = page * perPage
            let words = (first..<min(first + perPage, domain.nrPages)).map { domain.p2m[$0] }
            try control.write(domain, pfn: layout.p2mPFN + page, words: words)
        }
    }

    /// Maps [virt_base, mapped end) 1:1 onto PFNs: every page user-accessible (the guest kernel runs at
    /// CPL 3) and writable, except the page-table frames themselves, which are mapped read-only.
    private func writePageTables(_ domain: Domain, layout: BootLayout) throws(HypervisorError) {
        // Work in the 48-bit linear space so a kernel in the upper half (e.g. Linux's) indexes correctly.
        let mask48: UInt64 = (1 << 48) - 1
        let start = layout.virtBase & mask48
        let end = start + UInt64(layout.mappedPFNs) << 12
        // Tables in Xen's order: the L4, then L3s, L2s, L1s, each level by address.
        var tables: [(level: Int, base: UInt64, pfn: Int)] = [(4, 0, layout.ptPFN)]
        var nextPFN = layout.ptPFN + 1
        for level in stride(from: 3, through: 1, by: -1) {
            let shift = UInt64(12 + 9 * level)   // the span one table of this level covers
            var base = (start >> shift) << shift
            while base < end {
                tables.append((level, base, nextPFN))
                nextPFN += 1
                base += 1 << shift
            }
        }
        let ptPFNs = layout.ptPFN..<nextPFN
        let upper = PTE.present | PTE.writable | PTE.accessed | PTE.dirty | PTE.user
        for table in tables {
            var entries = [UInt64](repeating: 0, count: 512)
            let span: UInt64 = 1 << UInt64(12 + 9 * (table.level - 1))
            for i in 0..<512 {
                let va = table.base + UInt64(i) * span
                guard va + span > start, va < end else { continue }
                if table.level == 1 {
                    let pfn = Int((va - start) >> 12)
                    var flags = PTE.present | PTE.accessed | PTE.user
                    if !ptPFNs.contains(pfn) { flags |= PTE.writable }
                    entries[i] = domain.p2m[pfn] << 12 | flags
                } else if let child = tables.first(where: { $0.level == table.level - 1 && $0.base == va }) {
                    entries[i] = domain.p2m[child.pfn] << 12 | upper
                }
            }
            try control.write(domain, pfn: table.pfn, words: entries)
        }
    }

    private func writeStartInfo(_ domain: Domain, layout: BootLayout, cmdline: String,
                                ports: (store: UInt32, console: UInt32)?, moduleBytes: Int) throws(HypervisorError) {
        typealias L = StartInfoLayout
        var page = [UInt8](repeating: 0, count: 4096)
        func put(_ v: UInt64, _ off: Int, _ size: Int = 8) {
            for i in 0..<size { page[off + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
        }
        for (i, b) in L.magic64.utf8.enumerated() { page[L.magic + i] = b }
        put(UInt64(domain.nrPages), L.nrPages)
        put(domain.sharedInfoMFN << 12, L.sharedInfo)
        put(0, L.flags, 4)
        put(layout.va(layout.ptPFN), L.ptBase)
        put(UInt64(layout.ptFrames), L.nrPTFrames)
        put(layout.va(layout.p2mPFN), L.mfnList)
        if moduleBytes > 0 {
            put(layout.va(layout.modulePFNs.lowerBound), L.modStart)
            put(UInt64(moduleBytes), L.modLen)
        }
        if let ports {
            put(domain.p2m[layout.storePFN], L.storeMFN)
            put(UInt64(ports.store), L.storeEvtchn, 4)
            put(domain.p2m[layout.consolePFN], L.consoleMFN)
            put(UInt64(ports.console), L.consoleEvtchn, 4)
        }
        for (i, b) in cmdline.utf8.enumerated() { page[L.cmdLine + i] = b }
        try control.write(domain, pfn: layout.startInfoPFN, bytes: page)
    }
}

extension DomainControl {
    /// Writes little-endian 64-bit words (page-table entries, p2m entries) into page `pfn`.
    func write(_ domain: Domain, pfn: Int, words: [UInt64]) throws(HypervisorError) {
        // x86-64 is little-endian: the words' memory is already the guest's byte order.
        let failure = words.withUnsafeBytes { raw -> HypervisorError? in
            do throws(HypervisorError) { try write(domain, pfn: pfn, bytes: raw); return nil } catch { return error }
        }
        if let failure { throw failure }
    }
}
