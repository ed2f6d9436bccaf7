import HyperABI

extension Domain {
    /// `memory_op(cmd, arg)` (12): the domain's reservation of machine memory.
    func memoryOp(_ vcpu: VCPU, command: UInt64, argument arg: UInt64) throws(XenErrno) -> UInt64 {
        let space = vcpu.addressSpace
        typealias L = MemoryOpLayout
        switch MemoryOpCommand(rawValue: command & 0xf) {
        case .increaseReservation, .decreaseReservation, .populatePhysmap:
            let list = try space.load(UInt64.self, at: arg + UInt64(L.extentStart))
            let count = try space.load(UInt64.self, at: arg + UInt64(L.nrExtents))
            let order = try space.load(UInt32.self, at: arg + UInt64(L.extentOrder))
            let domid = try space.load(UInt16.self, at: arg + UInt64(L.domid))
            guard domid == DomainID.this || domid == id else { throw .EPERM }
            guard order <= L.maximumOrder, count <= UInt64(maxPages) else { throw .EINVAL }
            let pages = 1 << Int(order)
            var done: UInt64 = 0
            // Xen's partial success: the result is the number of extents handled before the first failure.
            for i in 0..<count {
                let slot = list &+ i * 8
                do throws(XenErrno) {
                    switch MemoryOpCommand(rawValue: command & 0xf)! {
                    case .increaseReservation:
                        try space.checkWritable(slot, count: 8)
                        let mfns = try grow(pages, at: nil)
                        try space.store(mfns[0], at: slot)
                    case .populatePhysmap:
                        let gpfn = try space.load(UInt64.self, at: slot)
                        try space.checkWritable(slot, count: 8)
                        let mfns = try grow(pages, at: gpfn)
                        try space.store(mfns[0], at: slot)
                    default:
                        try shrink(try space.load(UInt64.self, at: slot), pages: pages)
                    }
                } catch {
                    if done == 0 && error == .EFAULT { throw error }
                    break
                }
                done += 1
            }
            return done
        case .currentReservation, .maximumReservation:
            let domid = try space.load(UInt16.self, at: arg)
            guard domid == DomainID.this || domid == id else { throw .EPERM }
            return UInt64(command & 0xf == MemoryOpCommand.currentReservation.rawValue ? populatedPages : maxPages)
        case .maximumRAMPage:
            return UInt64(memory.frameCount)
        case .memoryMap:
            // One RAM range covering the pseudo-physical space the domain may populate.
            let capacity = try space.load(UInt32.self, at: arg)
            let buffer = try space.load(UInt64.self, at: arg + 8)
            guard capacity >= 1 else { throw .EINVAL }
            var entry = [UInt8](repeating: 0, count: L.e820EntrySize)
            let size = UInt64(maxPages) << 12
            for b in 0..<8 { entry[8 + b] = UInt8(truncatingIfNeeded: size >> (8 * UInt64(b))) }
            entry[16] = UInt8(L.e820RAM)
            try space.copyToGuest(buffer, bytes: entry)
            try space.store(UInt32(1), at: arg)
            return 0
        case .addToPhysmap:
            let domid = try space.load(UInt16.self, at: arg)
            let mapSpace = try space.load(UInt32.self, at: arg + 4)
            let idx = try space.load(UInt64.self, at: arg + 8)
            let gpfn = try space.load(UInt64.self, at: arg + 16)
            guard domid == DomainID.this || domid == id else { throw .EPERM }
            switch mapSpace {
            case L.spaceSharedInfo:
                guard idx == 0 else { throw .EINVAL }
                try place(sharedInfoMFN, at: gpfn)
            case L.spaceGrantTable:
                // idx = the table frame (growing the table to it); bit 31 asks for a v2 status frame.
                guard idx < UInt64(GrantLayout.maxFrames) else { throw .EINVAL }
                do throws(GrantStatus) { try growGrantTable(to: Int(idx) + 1) } catch { throw .ENOMEM }
                try place(grants.withLock { $0.frames[Int(idx)] }, at: gpfn)
            default:
                throw .EINVAL
            }
            return 0
        case .machphysMapping:
            let start = hypervisor?.platform.machphysVirtualAddress ?? PVLayout.machphysVirtStart
            try space.store(start, at: arg)
            try space.store(start + (PVLayout.machphysVirtEnd - PVLayout.machphysVirtStart), at: arg + 8)
            try space.store(UInt64(memory.frameCount - 1), at: arg + 16)
            return 0
        default:
            throw .ENOSYS
        }
    }

    /// Takes `pages` new frames (not beyond `maxmem`), at PFN `gpfn…` (populate_physmap) or at the
    /// first free PFNs (increase_reservation), makes them reachable and records them in the P2M and M2P.
    func grow(_ pages: Int, at gpfn: UInt64?) throws(XenErrno) -> [UInt64] {
        guard let frames = hypervisor?.frames else { throw .ENOMEM }
        return try withMMU { (_) throws(XenErrno) -> [UInt64] in
            let limit = maxPages
            // Read in place: a copy of the P2M alive across the update below would be copied again by it.
            let pfns = try p2mState.withLock { (p2m) throws(XenErrno) -> [Int] in
                guard p2m.reduce(0, { $1 == PVLayout.invalidMFN ? $0 : $0 + 1 }) + pages <= limit else { throw .ENOMEM }
                var pfns: [Int] = []
                if let gpfn {
                    guard gpfn < UInt64(limit), Int(gpfn) + pages <= limit else { throw .EINVAL }
                    pfns = (Int(gpfn)..<Int(gpfn) + pages).map { $0 }
                    for pfn in pfns where pfn < p2m.count && p2m[pfn] != PVLayout.invalidMFN { throw .EBUSY }
                } else {
                    var pfn = 0
                    while pfns.count < pages && pfn < limit {
                        if pfn >= p2m.count || p2m[pfn] == PVLayout.invalidMFN { pfns.append(pfn) }
                        pfn += 1
                    }
                    guard pfns.count == pages else { throw .ENOMEM }
                }
                return pfns
            }
            let mfns: [UInt64]
            do { mfns = try frames.allocate(pages, for: id) } catch { throw .ENOMEM }
            do { try vm?.mapFrames(mfns) } catch {
                frames.release(mfns, from: id)
                throw .ENOMEM
            }
            _ = balloonedOut.subtract(min(pages, balloonedOut.load(ordering: .relaxed)), ordering: .relaxed)
            p2mState.withLock { p in
                let needed = (pfns.max() ?? 0) + 1
                if p.count < needed { p += [UInt64](repeating: PVLayout.invalidMFN, count: needed - p.count) }
                for (pfn, mfn) in zip(pfns, mfns) {
                    p[pfn] = mfn
                    frames.setM2P(mfn: mfn, pfn: UInt64(pfn))
                }
            }
            return mfns
        }
    }

    /// Gives back the frames `mfn…mfn+pages-1` (decrease_reservation): they leave the P2M and M2P at once
    /// and return to the host (unmapped from the guest's window, punched out of the memfd) when nothing
    /// references them any more — at once if they are neither mapped nor typed, as is the case for a
    /// guest that unmapped them first.
    func shrink(_ first: UInt64, pages: Int) throws(XenErrno) {
        guard let frames = hypervisor?.frames else { throw .EINVAL }
        try withMMU { (mmu) throws(XenErrno) in
            let range = (0..<UInt64(pages)).map { first &+ $0 }
            for m in range {
                guard mmu.owns(m), !mmu.info.special[Int(m)], let pfn = frames.m2p(m), pfn != PVLayout.invalidM2PEntry,
                      mfn(forPFNUnlocked: Int(pfn)) == m, !mmu.info.pinned[Int(m)] else { throw .EINVAL }
            }
            for m in range {
                let pfn = Int(frames.m2p(m)!)
                p2mState.withLock { $0[pfn] = PVLayout.invalidMFN }
                frames.setM2P(mfn: m, pfn: PVLayout.invalidM2PEntry)
                pendingRelease.insert(m)
                balloonedOut.add(1, ordering: .relaxed)
                frameMaybeFree(m)
            }
        }
    }

    private func mfn(forPFNUnlocked pfn: Int) -> UInt64? {
        p2mState.withLock { p in pfn >= 0 && pfn < p.count ? p[pfn] : nil }
    }

    /// XENMEM_add_to_physmap of one of the hypervisor's pages (shared_info, a grant-table frame): it appears
    /// at PFN `gpfn`; the RAM frame that was there (if any) is given back.
    func place(_ special: UInt64, at gpfn: UInt64) throws(XenErrno) {
        guard gpfn < UInt64(maxPages) else { throw .EINVAL }
        if let old = mfn(forPFN: Int(gpfn)), old != special {
            guard hypervisor?.frames.pages.special[Int(old)] != true else { throw .EBUSY }
            try shrink(old, pages: 1)
        }
        p2mState.withLock { p in
            if p.count <= Int(gpfn) { p += [UInt64](repeating: PVLayout.invalidMFN, count: Int(gpfn) + 1 - p.count) }
            p[Int(gpfn)] = special
        }
        hypervisor?.frames.setM2P(mfn: special, pfn: gpfn)
    }
}
