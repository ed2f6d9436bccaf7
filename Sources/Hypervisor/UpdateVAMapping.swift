import HyperABI

extension Domain {
    /// `update_va_mapping(va, pte, flags)` (14): replaces the L1 entry that maps `va` in the current
    /// page tables. Until the PV MMU (page types and reference counts) exists, the checks are the part of
    /// Xen's that keeps isolation without them: the L1 must be reachable and one of the bootstrap tables;
    /// a present entry may point only at the domain's own RAM that is not a page table, or at its
    /// shared_info; cache-attribute and large-page bits are refused; `_PAGE_USER` is forced on (the guest
    /// kernel runs at CPL 3). The new translation is seen before the call returns.
    func updateVAMapping(_ vcpu: VCPU, va: UInt64, pte: UInt64, flags: UInt64) throws(XenErrno) -> UInt64 {
        guard PVLayout.isCanonical(va), va < PVLayout.hypervisorVirtStart || va >= PVLayout.hypervisorVirtEnd else { throw .EINVAL }
        guard let l1 = l1Table(vcpu, for: va) else { throw .EINVAL }
        var entry = pte
        if pte & PTE.present != 0 {
            // Xen's L1 rules for a domain without I/O privilege: no PWT, PCD or PAT (bit 7).
            guard pte & (PTE.writeThrough | PTE.cacheDisable | PTE.pageSize) == 0 else { throw .EINVAL }
            let mfn = (pte & PTE.addressMask) >> 12
            let own = hypervisor?.frames.owner(of: mfn) == id
            let readOnlyFrame = pageTableFrames.contains(mfn) || descriptorFrames.withLock { $0.contains(mfn) }
            guard mfn == sharedInfoMFN || (own && !(pte & PTE.writable != 0 && readOnlyFrame)) else { throw .EINVAL }
            entry |= PTE.user
        } else if pte != 0 {
            throw .EINVAL        // keep non-present entries all-zero (Xen's L1TF rule)
        }
        memory.writeWord(mfn: l1, offset: Int((va >> 12) & 511) * 8, entry)
        // A shadow-paging KVM does not see host writes to live page tables: the platform must drop its
        // cached translations before the guest runs again, whatever flush the guest asked for.
        vcpu.pv.dirty.insert(.translations)
        _ = flags
        return 0
    }

    /// The machine frame of the L1 table mapping `va`, if every level above is present.
    private func l1Table(_ vcpu: VCPU, for va: UInt64) -> UInt64? {
        var table = vcpu.context.kernelL4
        for level in stride(from: 4, to: 1, by: -1) {
            let index = Int((va >> UInt64(12 + 9 * (level - 1))) & 511)
            guard let e = memory.readWord(mfn: table, offset: index * 8), e & PTE.present != 0, e & PTE.pageSize == 0 else { return nil }
            table = (e & PTE.addressMask) >> 12
        }
        return pageTableFrames.contains(table) ? table : nil
    }
}
