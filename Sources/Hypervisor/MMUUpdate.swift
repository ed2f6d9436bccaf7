import HyperABI

/// `mmu_update` commands (low 3 bits of `ptr`).
enum MMUUpdateCommand: UInt64 {
    case normalPTUpdate = 0
    case machphysUpdate = 1
    case ptUpdatePreserveAD = 2
    case ptUpdateNoTranslate = 3
}

extension Domain {
    /// Checks `foreigndom`: this version manages only the caller's own frames (DOMID_SELF or its id).
    func checkForeignDomain(_ foreign: UInt64) throws(XenErrno) {
        let fd = UInt16(truncatingIfNeeded: foreign), pfd = foreign >> 16 & 0xffff
        guard fd == DomainID.this || fd == id, pfd == 0 else { throw .EPERM }
    }

    /// `mmu_update(reqs, count, pdone, foreigndom)` (1): checked writes of page-table entries (and M2P
    /// updates), in order, stopping at the first error, which is returned. `pdone` (if not NULL) receives
    /// the number done. An entry in a page-table frame is validated for its level (Xen's mod_lN_entry);
    /// a frame with no page-table type is written plainly, as Xen does for ordinary pages of the owner.
    func mmuUpdate(_ vcpu: VCPU, list: UInt64, count rawCount: UInt64, done: UInt64, foreign: UInt64) throws(XenErrno) -> UInt64 {
        try forEachRequest(vcpu, list: list, count: rawCount, done: done, foreign: foreign,
                           size: MMULayout.updateSize) { (space, req) throws(XenErrno) in
            let ptr = try space.load(UInt64.self, at: req)
            let val = try space.load(UInt64.self, at: req + 8)
            let address = ptr & ~7, mfn = address >> 12, slot = Int(address & 4095) / 8
            switch MMUUpdateCommand(rawValue: ptr & 7) {
            case .normalPTUpdate, .ptUpdateNoTranslate, .ptUpdatePreserveAD:
                try withMMU { (mmu) throws(XenErrno) in
                    guard mmu.owns(mfn), mfn != sharedInfoMFN else { throw .EINVAL }
                    switch mmu.type(mfn) {
                    case .l1, .l2, .l3, .l4:
                        try mmu.updateEntry(table: mfn, level: mmu.type(mfn).level!, slot: slot, new: val,
                                            preserveAD: ptr & 7 == MMUUpdateCommand.ptUpdatePreserveAD.rawValue)
                    case .none, .writable:
                        memory.writeWord(mfn: mfn, offset: slot * 8, val)
                    case .segmentDescriptors:
                        throw .EINVAL
                    }
                }
            case .machphysUpdate:
                try withMMU { (mmu) throws(XenErrno) in
                    guard mmu.owns(mfn), val < UInt64(maxPages) else { throw .EINVAL }
                    hypervisor?.frames.setM2P(mfn: mfn, pfn: val)
                }
            case nil:
                throw .ENOSYS
            }
            vcpu.pv.dirty.insert(.translations)
        }
        return 0
    }

    /// The batch loop mmu_update and mmuext_op share: the foreign-domain check, the request limit, one
    /// `body` per request of `size` bytes at `list`, in order, stopping at the first error (which is
    /// thrown), and the number done written to `done` (if not NULL) either way.
    func forEachRequest(_ vcpu: VCPU, list: UInt64, count rawCount: UInt64, done: UInt64, foreign: UInt64, size: Int,
                        _ body: (GuestAddressSpace, UInt64) throws(XenErrno) -> Void) throws(XenErrno) {
        try checkForeignDomain(foreign)
        let count = rawCount & ~MMULayout.preemptedFlag
        guard count <= MMULayout.maximumRequests else { throw .EINVAL }
        let space = vcpu.addressSpace
        var completed: UInt32 = 0
        defer { if done != 0 { try? space.store(completed, at: done) } }
        for i in 0..<count {
            try body(space, list &+ i * UInt64(size))
            completed += 1
        }
    }
}
