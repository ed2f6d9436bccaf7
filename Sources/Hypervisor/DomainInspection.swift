import HyperABI

/// One event-channel port of a domain, as Dom0's tools show it (Xen's EVTCHNOP_status plus the bits).
public struct PortStatus: Sendable, Equatable {
    public enum Binding: Sendable, Equatable {
        case unbound(remote: UInt16)
        case interdomain(remoteDomain: UInt16, remotePort: UInt32)
        case virq(UInt32, vcpu: Int)
        case ipi(vcpu: Int)
    }
    public var port: UInt32
    public var binding: Binding
    /// The vCPU the port notifies.
    public var notifyVCPU: Int
    public var pending: Bool
    public var masked: Bool
}

/// A grant entry in use: the guest's entry and who has it mapped now.
public struct GrantEntryStatus: Sendable, Equatable {
    public var ref: UInt32
    /// `GTF_*` flags, the domain it is granted to and the frame (a PFN for PV guests).
    public var flags: UInt16
    public var grantee: UInt16
    public var frame: UInt32
    /// Who holds it (mapped or being copied) and how many pins, nil when nobody does.
    public var mapper: UInt16?
    public var pins: Int
    public var writers: Int
}

/// A grant of another domain this domain has mapped (its maptrack).
public struct GrantMappingStatus: Sendable, Equatable {
    public var handle: UInt32
    public var granter: UInt16
    public var ref: UInt32
    public var mfn: UInt64
    public var readonly: Bool
    public var hostAddress: UInt64?
}

/// What the hypervisor knows about one machine frame (Xen's page_info).
public struct FrameStatus: Sendable, Equatable {
    public var mfn: UInt64
    public var owner: UInt16?
    /// The guest PFN the M2P gives, if any.
    public var pfn: UInt64?
    public var type: PageType
    public var typeCount: UInt32
    public var mapCount: UInt32
    public var pinned: Bool
    /// The hypervisor's page given to the domain (shared_info, grant-table frames).
    public var special: Bool
}

/// One level of a page-table walk: the table frame, the index used and the entry found there.
public struct PageWalkStep: Sendable, Equatable {
    public var level: Int
    public var table: FrameStatus
    public var index: Int
    public var entry: UInt64
}

/// A run of virtual pages mapped to consecutive frames with the same flags.
public struct MappedRange: Sendable, Equatable {
    public var virtualStart: UInt64
    public var pages: Int
    public var firstMFN: UInt64
    /// The low 12 bits and NX of the leaf entries (present, writable, user …), and the leaf level (1, or 2/3 for large pages).
    public var flags: UInt64
    public var leafLevel: Int
}

/// One run of the P2M: PFNs [start, start+count) and what is behind them.
public struct MemoryMapRun: Sendable, Equatable {
    public enum Kind: String, Sendable { case ram, pageTable = "page-table", descriptors = "descriptor-table", shared, ballooned }
    public var firstPFN: Int
    public var count: Int
    /// The first machine frame (runs are contiguous in MFN too), nil for ballooned-out PFNs.
    public var firstMFN: UInt64?
    public var kind: Kind
}

/// Hypervisor-wide counters, for `hv info` and leak checks.
public struct HypervisorCounters: Sendable, Equatable {
    public var totalFrames: Int
    public var freeFrames: Int
    /// Frames held by the hypervisor itself (the M2P table).
    public var hypervisorFrames: Int
    public var domains: Int
    /// Dom0's event-channel ends in use.
    public var dom0Ports: Int
    /// Frames of dead domains still mapped by others.
    public var orphanFrames: Int
    /// Grant entries in use (mapped or being copied) and grant mappings held, over all live domains.
    public var activeGrants: Int
    public var grantMappings: Int
    public var pcpus: Int
}

/// Dom0's read-only view into the hypervisor's structures (what `hv` inspects): ports, grants, page
/// tables, the P2M, hypercall statistics. Everything is copied out under the owner's lock.
extension DomainControl {
    /// A live domain by id.
    public func domain(_ id: UInt16) -> Domain? { hypervisor.liveDomain(id) }

    /// Every port of the domain that is not free.
    public func eventChannels(_ domain: Domain) -> [PortStatus] {
        let table = domain.events.withLock { $0 }
        var out: [PortStatus] = []
        for (i, b) in table.ports.enumerated() where i > 0 {
            let binding: PortStatus.Binding
            switch b {
            case .free: continue
            case .unbound(let remote): binding = .unbound(remote: remote)
            case .interdomain(let d, let p): binding = .interdomain(remoteDomain: d, remotePort: p)
            case .virq(let v, let vcpu): binding = .virq(v.rawValue, vcpu: vcpu)
            case .ipi(let vcpu): binding = .ipi(vcpu: vcpu)
            }
            let word = i / 64 * 8, bit = i % 64
            out.append(PortStatus(port: UInt32(i), binding: binding, notifyVCPU: table.notify[i],
                                  pending: domain.memory.testBit(mfn: domain.sharedInfoMFN, offset: SharedInfoLayout.evtchnPending + word, bit: bit),
                                  masked: domain.memory.testBit(mfn: domain.sharedInfoMFN, offset: SharedInfoLayout.evtchnMask + word, bit: bit)))
        }
        return out
    }

    /// The domain's grant entries that grant something (or are in use), and the grants it maps from others.
    public func grants(_ domain: Domain) -> (entries: [GrantEntryStatus], mappings: [GrantMappingStatus]) {
        domain.grants.withLock { g in
            var entries: [GrantEntryStatus] = []
            for ref in 0..<UInt32(g.entries) {
                let (mfn, offset) = g.location(ref)
                let flags = UInt16(truncatingIfNeeded: domain.memory.loadWord32(mfn: mfn, offset: offset))
                let active = g.active[ref]
                guard flags & GrantLayout.typeMask != 0 || active != nil else { continue }
                let word = domain.memory.readWord(mfn: mfn, offset: offset) ?? 0
                entries.append(GrantEntryStatus(ref: ref, flags: flags, grantee: UInt16(truncatingIfNeeded: word >> 16),
                                                frame: UInt32(truncatingIfNeeded: word >> 32), mapper: active?.mapper,
                                                pins: active?.pins ?? 0, writers: active?.writers ?? 0))
            }
            let mappings = g.maptrack.enumerated().compactMap { (h, m) in
                m.map { GrantMappingStatus(handle: UInt32(h), granter: $0.granter, ref: $0.ref, mfn: $0.mfn, readonly: $0.readonly,
                                           hostAddress: $0.hostAddress) }
            }
            return (entries, mappings)
        }
    }

    /// Type, counts and owner of a machine frame; nil outside machine memory.
    public func frameStatus(_ mfn: UInt64) -> FrameStatus? {
        let frames = hypervisor.frames
        guard mfn < UInt64(frames.pages.count) else { return nil }
        let owner = frames.owner(of: mfn)
        let m2p = frames.m2p(mfn)
        let i = Int(mfn)
        return FrameStatus(mfn: mfn, owner: owner == FrameTable.free ? nil : owner,
                           pfn: m2p.flatMap { $0 == PVLayout.invalidM2PEntry ? nil : $0 },
                           type: PageType(rawValue: frames.pages.type[i]) ?? .none, typeCount: frames.pages.typeCount[i],
                           mapCount: frames.pages.mapCount[i], pinned: frames.pages.pinned[i], special: frames.pages.special[i])
    }

    /// The L4 a vCPU of the domain uses now (its kernel L4 unless it is in guest user mode).
    public func currentL4(_ domain: Domain, vcpu: Int = 0) -> UInt64? {
        guard vcpu >= 0, vcpu < domain.vcpus.count else { return nil }
        let v = domain.vcpus[vcpu]
        return v.context.kernelL4 == 0 ? nil : v.currentL4
    }

    /// Walks the page tables under `l4` for `va`: one step per level until a non-present entry or the leaf.
    /// Only the domain's own frames are read.
    public func walk(_ domain: Domain, l4: UInt64, va: UInt64) -> [PageWalkStep] {
        var steps: [PageWalkStep] = []
        var table = l4
        for level in stride(from: 4, through: 1, by: -1) {
            guard hypervisor.frames.owner(of: table) == domain.id, let status = frameStatus(table) else { break }
            let index = Int(va >> (12 + 9 * UInt64(level - 1)) & 511)
            let entry = domain.memory.readWord(mfn: table, offset: index * 8) ?? 0
            steps.append(PageWalkStep(level: level, table: status, index: index, entry: entry))
            guard entry & PTE.present != 0, level > 1, !(level <= 3 && entry & PTE.pageSize != 0) else { break }
            table = (entry & PTE.addressMask) >> 12
        }
        return steps
    }

    /// Every present mapping under `l4` in the guest's half (L4 slots outside 256–271), coalesced into runs.
    /// `limit` bounds the runs returned (a huge address space still answers quickly).
    public func mappings(_ domain: Domain, l4: UInt64, limit: Int = 4096) -> [MappedRange] {
        var out: [MappedRange] = []
        func owned(_ mfn: UInt64) -> Bool { hypervisor.frames.owner(of: mfn) == domain.id }
        func add(_ va: UInt64, _ entry: UInt64, level: Int) {
            let mfn = (entry & PTE.addressMask) >> 12
            let pages = 1 << (9 * (level - 1))
            let flags = entry & (0xfff | PTE.noExecute) & ~(PTE.accessed | PTE.dirty)
            if var last = out.last, last.flags == flags, last.leafLevel == level,
               last.virtualStart &+ UInt64(last.pages) << 12 == va, last.firstMFN + UInt64(last.pages) == mfn {
                last.pages += pages
                out[out.count - 1] = last
            } else {
                out.append(MappedRange(virtualStart: va, pages: pages, firstMFN: mfn, flags: flags, leafLevel: level))
            }
        }
        func visit(_ table: UInt64, level: Int, base: UInt64) {
            guard owned(table) else { return }
            for i in 0..<512 {
                if out.count > limit { return }
                if level == 4, (PVLayout.firstReservedL4Slot...PVLayout.lastReservedL4Slot).contains(i) { continue }
                guard let e = domain.memory.readWord(mfn: table, offset: i * 8), e & PTE.present != 0 else { continue }
                var va = base | UInt64(i) << (12 + 9 * UInt64(level - 1))
                if level == 4, i >= 256 { va |= 0xffff_0000_0000_0000 }     // canonical upper half
                if level == 1 || (level <= 3 && e & PTE.pageSize != 0) {
                    add(va, e, level: level)
                } else {
                    visit((e & PTE.addressMask) >> 12, level: level - 1, base: va)
                }
            }
        }
        visit(l4, level: 4, base: 0)
        return out
    }

    /// The P2M in runs: consecutive PFNs on consecutive frames of the same kind.
    public func memoryMap(_ domain: Domain) -> [MemoryMapRun] {
        let p2m = domain.p2m
        let shared = Set(domain.grants.withLock { g in g.active.values.map(\.mfn) })
        var out: [MemoryMapRun] = []
        for (pfn, mfn) in p2m.enumerated() {
            let kind: MemoryMapRun.Kind
            if mfn == PVLayout.invalidMFN {
                kind = .ballooned
            } else if shared.contains(mfn) {
                kind = .shared
            } else {
                switch PageType(rawValue: hypervisor.frames.pages.type[Int(mfn)]) {
                case .l1, .l2, .l3, .l4: kind = .pageTable
                case .segmentDescriptors: kind = .descriptors
                default: kind = .ram
                }
            }
            let machine: UInt64? = mfn == PVLayout.invalidMFN ? nil : mfn
            if var last = out.last, last.kind == kind, last.firstPFN + last.count == pfn,
               (machine == nil) == (last.firstMFN == nil), machine.map({ $0 == last.firstMFN! + UInt64(last.count) }) ?? true {
                last.count += 1
                out[out.count - 1] = last
            } else {
                out.append(MemoryMapRun(firstPFN: pfn, count: 1, firstMFN: machine, kind: kind))
            }
        }
        return out
    }

    /// Hypercalls of every vCPU of the domain summed by number: count and time spent (including time blocked).
    public func hypercallStatistics(_ domain: Domain) -> [(number: UInt64?, count: UInt64, nanos: UInt64)] {
        var sums: [UInt64?: (UInt64, UInt64)] = [:]
        for v in domain.vcpus {
            for (n, c, t) in v.hypercallCounts { let s = sums[n] ?? (0, 0); sums[n] = (s.0 + c, s.1 + t) }
        }
        return sums.map { ($0.key, $0.value.0, $0.value.1) }.sorted { ($0.number ?? .max) < ($1.number ?? .max) }
    }

    /// Counters of the whole hypervisor.
    public var counters: HypervisorCounters {
        let domains = hypervisor.domains
        let grants = domains.map { d in d.grants.withLock { g in (g.active.count, g.maptrack.count - g.freeHandles.count) } }
        return HypervisorCounters(totalFrames: hypervisor.memory.frameCount, freeFrames: hypervisor.frames.freeFrames,
                                  hypervisorFrames: hypervisor.frames.m2pFrames, domains: domains.count,
                                  dom0Ports: hypervisor.dom0Ports.withLock { $0.count },
                                  orphanFrames: hypervisor.orphans.withLock { $0.count },
                                  activeGrants: grants.reduce(0) { $0 + $1.0 }, grantMappings: grants.reduce(0) { $0 + $1.1 },
                                  pcpus: hypervisor.scheduler.pcpus)
    }
}
