import HyperABI

extension Domain {
    /// `grant_table_op(cmd, uop, count)` (20): grant table v1. Each operation of the batch writes its own
    /// GNTST_* status; the call itself fails only for an unreadable batch, a bad count or an unknown cmd.
    func grantTableOp(_ vcpu: VCPU, command: UInt64, list: UInt64, count: UInt64) throws(XenErrno) -> UInt64 {
        guard count <= UInt64(GrantLayout.maximumBatch) else { throw .EINVAL }
        let space = vcpu.addressSpace
        switch GrantTableCommand(rawValue: command) {
        case .setupTable:
            for i in 0..<count { try setupTable(space, list &+ i * UInt64(GrantLayout.setupSize)) }
        case .querySize:
            for i in 0..<count { try querySize(space, list &+ i * UInt64(GrantLayout.querySize)) }
        case .mapGrantRef:
            for i in 0..<count { try mapGrantRef(vcpu, space, list &+ i * UInt64(GrantLayout.mapSize)) }
        case .unmapGrantRef:
            for i in 0..<count { try unmapGrantRef(vcpu, space, list &+ i * UInt64(GrantLayout.unmapSize)) }
        case .copy:
            for i in 0..<count { try grantCopy(space, list &+ i * UInt64(GrantLayout.copySize)) }
        case .setVersion:
            // Version 1 only: v2 is answered -ENOSYS, as XTF's selftest allows, and the table stays v1.
            let version = try space.load(UInt32.self, at: list)
            try space.store(UInt32(1), at: list)
            switch version {
            case 1: return 0
            case 2: throw .ENOSYS
            default: throw .EINVAL
            }
        case .getVersion:
            let dom = try space.load(UInt16.self, at: list)
            guard dom == DomainID.this || dom == id else { throw .EPERM }
            try space.store(UInt32(1), at: list + UInt64(GrantLayout.getVersionVersion))
        default:
            throw .ENOSYS
        }
        return 0
    }

    /// The table a grant operation names by `dom`: only the caller's own (Xen lets the control domain name others).
    private func ownTable(_ dom: UInt16) throws(GrantStatus) {
        guard dom == DomainID.this || dom == id else {
            throw hypervisor?.liveDomain(dom) == nil ? .badDomain : .permissionDenied
        }
    }

    /// GNTTABOP_setup_table: grows the table to nr_frames and lists its frames (MFNs) for the guest to map.
    private func setupTable(_ space: GuestAddressSpace, _ op: UInt64) throws(XenErrno) {
        let dom = try space.load(UInt16.self, at: op)
        let count = try space.load(UInt32.self, at: op + UInt64(GrantLayout.setupNrFrames))
        let list = try space.load(UInt64.self, at: op + UInt64(GrantLayout.setupFrameList))
        var status = GrantStatus.okay
        do throws(GrantStatus) {
            try ownTable(dom)
            try growGrantTable(to: max(Int(count), GrantLayout.initialFrames))
            let frames = grants.withLock { $0.frames }
            for i in 0..<Int(count) {
                do throws(XenErrno) { try space.store(frames[i], at: list &+ UInt64(i * 8)) } catch { throw .badVirtAddr }
            }
        } catch { status = error }
        try space.store(status.rawValue, at: op + UInt64(GrantLayout.setupStatus))
    }

    /// GNTTABOP_query_size: frames in use and the most allowed.
    private func querySize(_ space: GuestAddressSpace, _ op: UInt64) throws(XenErrno) {
        let dom = try space.load(UInt16.self, at: op)
        var status = GrantStatus.okay
        do throws(GrantStatus) {
            try ownTable(dom)
            try growGrantTable(to: GrantLayout.initialFrames)
        } catch { status = error }
        let frames = grants.withLock { $0.frames.count }
        try space.store(UInt32(frames), at: op + UInt64(GrantLayout.queryNrFrames))
        try space.store(UInt32(GrantLayout.maxFrames), at: op + UInt64(GrantLayout.queryMaxNrFrames))
        try space.store(status.rawValue, at: op + UInt64(GrantLayout.queryStatus))
    }

    /// GNTTABOP_map_grant_ref: pins the granter's frame and, for GNTMAP_host_map, writes the L1 entry that
    /// maps it at `host_addr` in the caller's current page tables (the same machine frame: writes are seen
    /// both ways). Whatever was mapped there before is dropped, as Xen replaces it.
    private func mapGrantRef(_ vcpu: VCPU, _ space: GuestAddressSpace, _ op: UInt64) throws(XenErrno) {
        let host = try space.load(UInt64.self, at: op)
        let flags = try space.load(UInt32.self, at: op + UInt64(GrantLayout.mapFlags))
        let ref = try space.load(UInt32.self, at: op + UInt64(GrantLayout.mapRef))
        let dom = try space.load(UInt16.self, at: op + UInt64(GrantLayout.mapDom))
        var handle: UInt32 = 0, mfn: UInt64 = 0
        var status = GrantStatus.okay
        do throws(GrantStatus) {
            (handle, mfn) = try mapGrant(vcpu, granterID: dom, ref: ref, flags: flags, hostAddress: host)
        } catch { status = error }
        try space.store(status.rawValue, at: op + UInt64(GrantLayout.mapStatus))
        if status == .okay {
            try space.store(handle, at: op + UInt64(GrantLayout.mapHandle))
            try space.store(mfn << 12, at: op + UInt64(GrantLayout.mapDevBusAddr))
        }
    }

    private func mapGrant(_ vcpu: VCPU, granterID: UInt16, ref: UInt32, flags: UInt32, hostAddress: UInt64) throws(GrantStatus) -> (UInt32, UInt64) {
        guard flags & (GrantLayout.mapDevice | GrantLayout.mapHost) != 0 else { throw .badGntref }
        guard flags & GrantLayout.mapContainsPTE == 0 else { throw .generalError }     // PTE-address form: not provided
        guard let granter = hypervisor?.liveDomain(granterID), !granter.state.isFinal else { throw .badDomain }
        let readonly = flags & GrantLayout.mapReadonly != 0
        let hostMap = flags & GrantLayout.mapHost != 0
        let va = hostAddress & ~0xfff
        if hostMap {
            guard PVLayout.isCanonical(va), va < PVLayout.hypervisorVirtStart || va >= PVLayout.hypervisorVirtEnd else { throw .generalError }
        }
        let mfn = try granter.pinGrant(ref, mapper: id, readonly: readonly)
        let mapping = GrantMapping(granter: granterID, ref: ref, mfn: mfn, readonly: readonly, hostAddress: hostMap ? va : nil)
        guard let handle = grants.withLock({ $0.allocateHandle(mapping) }) else {
            granter.unpinGrant(ref, mfn: mfn, readonly: readonly)
            throw .noDeviceSpace
        }
        guard hostMap else { return (handle, mfn) }
        do throws(GrantStatus) {
            try reachForeignFrame(mfn)
            do throws(XenErrno) {
                try installGrantPTE(vcpu, va: va, mfn: mfn, readonly: readonly)
            } catch {
                dropForeignFrame(mfn)
                throw GrantStatus.generalError
            }
        } catch {
            grants.withLock { $0.freeHandle(handle) }
            granter.unpinGrant(ref, mfn: mfn, readonly: readonly)
            throw error
        }
        return (handle, mfn)
    }

    /// Writes the grant PTE for `va` (the L1 must exist and be typed as one, as Xen's create_grant_va_mapping).
    private func installGrantPTE(_ vcpu: VCPU, va: UInt64, mfn: UInt64, readonly: Bool) throws(XenErrno) {
        try withMMU { (mmu) throws(XenErrno) in
            guard let l1 = l1Table(mmu, l4: vcpu.currentL4, for: va) else { throw .EINVAL }
            let slot = Int((va >> 12) & 511)
            let old = memory.readWord(mfn: l1, offset: slot * 8) ?? 0
            guard old & PTE.grantMapping == 0 else { throw .EINVAL }        // one grant over another: unmap first
            var entry = mfn << 12 | PTE.present | PTE.user | PTE.accessed | PTE.noExecute | PTE.grantMapping
            if !readonly { entry |= PTE.writable | PTE.dirty }
            memory.writeWord(mfn: l1, offset: slot * 8, entry)
            mmu.putEntry(old, level: 1)
        }
        vcpu.pv.dirty.insert(.translations)
    }

    /// Maps a foreign frame into this domain's VM window (counted: several grants may share a frame).
    private func reachForeignFrame(_ mfn: UInt64) throws(GrantStatus) {
        let first = grants.withLock { g -> Bool in
            g.windowFrames[mfn, default: 0] += 1
            return g.windowFrames[mfn] == 1
        }
        guard first else { return }
        do { try vm?.mapFrames([mfn]) } catch {
            grants.withLock { g in g.windowFrames[mfn] = nil }
            throw .generalError
        }
    }

    private func dropForeignFrame(_ mfn: UInt64) {
        let last = grants.withLock { g -> Bool in
            guard let n = g.windowFrames[mfn] else { return false }
            if n <= 1 { g.windowFrames[mfn] = nil; return true }
            g.windowFrames[mfn] = n - 1
            return false
        }
        if last && hypervisor?.frames.owner(of: mfn) != id { vm?.unmapFrames([mfn]) }
    }

    /// GNTTABOP_unmap_grant_ref: `handle` must be a live mapping of the caller and `host_addr` must still map
    /// its frame; the PTE is cleared and the granter's pin dropped.
    private func unmapGrantRef(_ vcpu: VCPU, _ space: GuestAddressSpace, _ op: UInt64) throws(XenErrno) {
        let host = try space.load(UInt64.self, at: op)
        let handle = try space.load(UInt32.self, at: op + UInt64(GrantLayout.unmapHandle))
        var status = GrantStatus.okay
        do throws(GrantStatus) { try unmapGrant(vcpu, handle: handle, hostAddress: host) } catch { status = error }
        try space.store(status.rawValue, at: op + UInt64(GrantLayout.unmapStatus))
    }

    private func unmapGrant(_ vcpu: VCPU, handle: UInt32, hostAddress: UInt64) throws(GrantStatus) {
        guard let m = grants.withLock({ g in Int(handle) < g.maptrack.count ? g.maptrack[Int(handle)] : nil }) else { throw .badHandle }
        if let va = m.hostAddress {
            guard hostAddress & ~0xfff == va else { throw .generalError }
            do throws(XenErrno) {
                try withMMU { (mmu) throws(XenErrno) in
                    guard let l1 = l1Table(mmu, l4: vcpu.currentL4, for: va) else { throw .EINVAL }
                    let slot = Int((va >> 12) & 511)
                    let e = memory.readWord(mfn: l1, offset: slot * 8) ?? 0
                    guard e & PTE.grantMapping != 0, (e & PTE.addressMask) >> 12 == m.mfn else { throw .EINVAL }
                    memory.writeWord(mfn: l1, offset: slot * 8, 0)
                }
            } catch { throw .generalError }
            vcpu.pv.dirty.insert(.translations)
            dropForeignFrame(m.mfn)
        }
        grants.withLock { $0.freeHandle(handle) }
        releasePin(m)
    }

    /// Gives a mapping's pin back to its granter (or to the orphans, if the granter is gone).
    func releasePin(_ m: GrantMapping) {
        if let granter = hypervisor?.liveDomain(m.granter) {
            granter.unpinGrant(m.ref, mfn: m.mfn, readonly: m.readonly)
        } else {
            hypervisor?.releaseOrphanPin(m.mfn)
        }
    }

    /// GNTTABOP_copy: up to a page between (domain, grant ref) or (the caller, own frame) on each side.
    private func grantCopy(_ space: GuestAddressSpace, _ op: UInt64) throws(XenErrno) {
        func side(_ at: Int) throws(XenErrno) -> (value: UInt64, domid: UInt16, offset: UInt16) {
            (try space.load(UInt64.self, at: op + UInt64(at)),
             try space.load(UInt16.self, at: op + UInt64(at + GrantLayout.copyPtrDomid)),
             try space.load(UInt16.self, at: op + UInt64(at + GrantLayout.copyPtrOffset)))
        }
        let source = try side(GrantLayout.copySource), dest = try side(GrantLayout.copyDest)
        let length = try space.load(UInt16.self, at: op + UInt64(GrantLayout.copyLen))
        let flags = try space.load(UInt16.self, at: op + UInt64(GrantLayout.copyFlags))
        var status = GrantStatus.okay
        do throws(GrantStatus) {
            guard Int(source.offset) + Int(length) <= 4096, Int(dest.offset) + Int(length) <= 4096 else { throw .badCopyArg }
            let from = try acquireForCopy(source, gref: flags & GrantLayout.copySourceGref != 0, writable: false)
            defer { from.release() }
            let to = try acquireForCopy(dest, gref: flags & GrantLayout.copyDestGref != 0, writable: true)
            defer { to.release() }
            guard memory.copy(from: from.mfn, offset: Int(source.offset), to: to.mfn, offset: Int(dest.offset), count: Int(length)) else {
                throw .badCopyArg
            }
        } catch { status = error }
        try space.store(status.rawValue, at: op + UInt64(GrantLayout.copyStatus))
    }

    /// One side of a copy, pinned for its duration.
    private struct CopyFrame {
        let mfn: UInt64
        let release: () -> Void
    }

    private func acquireForCopy(_ side: (value: UInt64, domid: UInt16, offset: UInt16), gref: Bool, writable: Bool) throws(GrantStatus) -> CopyFrame {
        if gref {
            let ref = UInt32(truncatingIfNeeded: side.value)
            guard let granter = hypervisor?.liveDomain(side.domid), !granter.state.isFinal else { throw .badDomain }
            let mfn = try granter.pinGrant(ref, mapper: id, readonly: !writable)
            return CopyFrame(mfn: mfn) { granter.unpinGrant(ref, mfn: mfn, readonly: !writable) }
        }
        // A raw frame: only the caller's own (Xen lets only a privileged domain name another's).
        guard side.domid == DomainID.this || side.domid == id else { throw .permissionDenied }
        let mfn = side.value
        do throws(XenErrno) {
            try withMMU { (mmu) throws(XenErrno) in
                guard mfn < UInt64(mmu.info.count), mmu.owns(mfn), !mmu.info.special[Int(mfn)] else { throw .ESRCH }
                if writable { try mmu.getType(mfn, .writable) }
                mmu.info.mapCount[Int(mfn)] += 1
            }
        } catch { throw error == .ESRCH ? .badPage : .generalError }
        return CopyFrame(mfn: mfn) { [self] in
            try? withMMU { (mmu) throws(XenErrno) in
                mmu.info.mapCount[Int(mfn)] -= 1
                if writable { mmu.putType(mfn) } else { frameMaybeFree(mfn) }
            }
        }
    }
}
