import HyperABI
import Synchronization

/// One of a domain's grants in use by another domain: how many mappings (or copies in flight) pin it.
struct ActiveGrant: Sendable {
    var mapper: UInt16
    var mfn: UInt64
    var pins = 0
    var writers = 0
}

/// A grant of another domain that this domain has mapped (Xen's maptrack entry).
struct GrantMapping: Sendable {
    var granter: UInt16
    var ref: UInt32
    var mfn: UInt64
    var readonly: Bool
    /// The virtual address of the PTE the hypervisor wrote (nil for a device-only mapping).
    var hostAddress: UInt64?
}

/// A domain's grant table v1 (the entries live in `frames`, written by the guest) and its maptrack.
/// Guarded by the domain's own `grants` lock; a domain's MMU lock may be taken inside it, never the reverse.
struct GrantState: Sendable {
    var frames: [UInt64] = []
    var active: [UInt32: ActiveGrant] = [:]
    var maptrack: [GrantMapping?] = []
    var freeHandles: [UInt32] = []
    /// Foreign frames this domain's VM window maps for its grant mappings, with how many mappings use each.
    var windowFrames: [UInt64: Int] = [:]
    /// Set when the domain is released: pins still held by others move to the hypervisor's orphans.
    var dead = false

    /// Maptrack entries a domain may hold (Xen's default limit is of the same order).
    static let maximumHandles = 65536

    var entries: Int { frames.count * GrantLayout.entriesPerFrame }

    /// Machine frame and offset of entry `ref`.
    func location(_ ref: UInt32) -> (mfn: UInt64, offset: Int) {
        (frames[Int(ref) / GrantLayout.entriesPerFrame], Int(ref) % GrantLayout.entriesPerFrame * GrantLayout.entrySize)
    }

    mutating func allocateHandle(_ m: GrantMapping) -> UInt32? {
        if let h = freeHandles.popLast() { maptrack[Int(h)] = m; return h }
        guard maptrack.count < GrantState.maximumHandles else { return nil }
        maptrack.append(m)
        return UInt32(maptrack.count - 1)
    }

    mutating func freeHandle(_ h: UInt32) {
        maptrack[Int(h)] = nil
        freeHandles.append(h)
    }
}

extension Domain {
    /// Grows the grant table to `count` frames (fresh frames of this domain, outside its P2M, reachable by
    /// its VM and mappable by it, as Xen shares its table pages with the guest).
    func growGrantTable(to count: Int) throws(GrantStatus) {
        guard count <= GrantLayout.maxFrames, let hv = hypervisor else { throw .generalError }
        let have = grants.withLock { $0.frames.count }
        guard count > have else { return }
        let added: [UInt64]
        do { added = try hv.frames.allocate(count - have, for: id) } catch { throw .noSpace }
        for mfn in added { hv.frames.pages.special[Int(mfn)] = true }
        do { try vm?.mapFrames(added) } catch {
            hv.frames.release(added, from: id)
            throw .generalError
        }
        grants.withLock { $0.frames += added }
    }

    /// Pins grant `ref` of this domain for `mapper` (Xen's map_grant_ref granter half): checks the entry,
    /// sets GTF_reading (and GTF_writing) in it, and holds the granted frame as a mapping would (a writable
    /// pin takes a writable type, so a page table can never be mapped writable). Returns the frame.
    func pinGrant(_ ref: UInt32, mapper: UInt16, readonly: Bool) throws(GrantStatus) -> UInt64 {
        try grants.withLock { (g) throws(GrantStatus) -> UInt64 in
            guard !g.dead else { throw .badDomain }
            guard Int(ref) < g.entries else { throw .badGntref }
            let (table, offset) = g.location(ref)
            var active = g.active[ref]
            if let a = active, a.mapper != mapper { throw .generalError }
            if active == nil || (!readonly && active!.writers == 0) {
                try setInUse(table: table, offset: offset, mapper: mapper, readonly: readonly, firstPin: active == nil)
            }
            let mfn: UInt64
            if let a = active {
                mfn = a.mfn
            } else {
                mfn = UInt64(memory.loadWord32(mfn: table, offset: offset + GrantLayout.entryFrame))
            }
            do throws(XenErrno) {
                try withMMU { (mmu) throws(XenErrno) in
                    guard mmu.owns(mfn), !mmu.info.special[Int(mfn)] else { throw .EINVAL }
                    if !readonly { try mmu.getType(mfn, .writable) }
                    mmu.info.mapCount[Int(mfn)] += 1
                }
            } catch {
                if active == nil { memory.clearBits16(mfn: table, offset: offset, GrantLayout.reading | GrantLayout.writing) }
                else if !readonly && active!.writers == 0 { memory.clearBits16(mfn: table, offset: offset, GrantLayout.writing) }
                throw .generalError
            }
            if active == nil { active = ActiveGrant(mapper: mapper, mfn: mfn) }
            active!.pins += 1
            if !readonly { active!.writers += 1 }
            g.active[ref] = active
            return mfn
        }
    }

    /// Xen's _set_status_v1: the entry must permit access to `mapper` (and writing, unless read-only);
    /// GTF_reading/GTF_writing go in with a compare-and-exchange, as the guest may change the entry meanwhile.
    private func setInUse(table: UInt64, offset: Int, mapper: UInt16, readonly: Bool, firstPin: Bool) throws(GrantStatus) {
        var found = memory.loadWord32(mfn: table, offset: offset)
        for _ in 0..<5 {
            let flags = UInt16(truncatingIfNeeded: found), domid = UInt16(truncatingIfNeeded: found >> 16)
            if firstPin {
                guard flags & (GrantLayout.typeMask | GrantLayout.subPage) == GrantLayout.permitAccess, domid == mapper else {
                    throw .generalError
                }
            }
            guard readonly || flags & GrantLayout.readonly == 0 else { throw .generalError }
            let wanted = flags | GrantLayout.reading | (readonly ? 0 : GrantLayout.writing)
            let desired = UInt32(domid) << 16 | UInt32(wanted)
            let seen = memory.compareExchangeWord32(mfn: table, offset: offset, expected: found, desired: desired)
            if seen == found { return }
            found = seen
        }
        throw .generalError                                   // the guest keeps changing it
    }

    /// Drops one pin of grant `ref` (taken by `pinGrant`); the last one clears GTF_reading, the last
    /// writable one GTF_writing. If this domain is gone, the frame is one of the hypervisor's orphans.
    func unpinGrant(_ ref: UInt32, mfn: UInt64, readonly: Bool) {
        guard hypervisor != nil else { return }          // the whole hypervisor is gone: nothing left to count
        let released = grants.withLock { g -> Bool in
            guard !g.dead, var a = g.active[ref] else { return false }
            let (table, offset) = g.location(ref)
            a.pins -= 1
            if !readonly {
                a.writers -= 1
                if a.writers == 0 { memory.clearBits16(mfn: table, offset: offset, GrantLayout.writing) }
            }
            if a.pins == 0 {
                memory.clearBits16(mfn: table, offset: offset, GrantLayout.reading | GrantLayout.writing)
                g.active[ref] = nil
            } else {
                g.active[ref] = a
            }
            try? withMMU { (mmu) throws(XenErrno) in
                if mmu.info.mapCount[Int(mfn)] > 0 { mmu.info.mapCount[Int(mfn)] -= 1 }
                if !readonly { mmu.putType(mfn) } else { frameMaybeFree(mfn) }
            }
            return true
        }
        if !released { hypervisor?.releaseOrphanPin(mfn) }
    }

    /// At this domain's release: its grant-table frames, and the frames others still have mapped (which
    /// stay allocated, owned by Xen, until the last mapping goes: the mappers do not crash). Returns the
    /// frames to keep out of the free pool, and drops every mapping this domain made of others' grants.
    func releaseGrants() -> (tables: [UInt64], held: Set<UInt64>) {
        let (tables, pinned, mine) = grants.withLock { g -> ([UInt64], [UInt64: Int], [GrantMapping]) in
            g.dead = true
            var pinned: [UInt64: Int] = [:]
            for a in g.active.values where a.mapper != id { pinned[a.mfn, default: 0] += a.pins }
            g.active = [:]
            let mine = g.maptrack.compactMap { $0 }
            g.maptrack = []
            return (g.frames, pinned, mine)
        }
        for (mfn, pins) in pinned { hypervisor?.adoptOrphan(mfn, from: id, pins: pins) }
        for m in mine {
            if let granter = hypervisor?.liveDomain(m.granter), granter !== self {
                granter.unpinGrant(m.ref, mfn: m.mfn, readonly: m.readonly)
            } else if m.granter != id {
                hypervisor?.releaseOrphanPin(m.mfn)
            }
        }
        return (tables, Set(pinned.keys))
    }
}

extension Hypervisor {
    /// A dead domain's frame that others still map: it now belongs to Xen until its last pin goes.
    func adoptOrphan(_ mfn: UInt64, from owner: UInt16, pins: Int) {
        frames.reassign(mfn, from: owner, to: DomainID.xen)
        orphans.withLock { $0[mfn, default: 0] += pins }
    }

    /// Drops a pin on an orphaned frame; the last one frees it.
    func releaseOrphanPin(_ mfn: UInt64) {
        let last = orphans.withLock { o -> Bool in
            guard let n = o[mfn] else { return false }
            if n <= 1 { o[mfn] = nil; return true }
            o[mfn] = n - 1
            return false
        }
        if last { frames.release([mfn], from: DomainID.xen) }
    }

    /// Frames kept alive only because another domain still maps them.
    public var orphanedFrames: Int { orphans.withLock { $0.count } }
}
