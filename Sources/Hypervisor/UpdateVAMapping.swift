import HyperABI

extension Domain {
    /// `update_va_mapping(va, pte, flags)` (14): replaces the L1 entry that maps `va` in the current
    /// kernel page tables, validated exactly as `mmu_update` would (Xen: `mod_l1_entry`). The walk needs
    /// every level present and the L1 typed as one; `flags` (UVMF_*) ask for a flush, and the new
    /// translation is in force before the guest runs again whatever they say.
    func updateVAMapping(_ vcpu: VCPU, va: UInt64, pte: UInt64, flags: UInt64) throws(XenErrno) -> UInt64 {
        guard PVLayout.isCanonical(va), va < PVLayout.hypervisorVirtStart || va >= PVLayout.hypervisorVirtEnd else { throw .EINVAL }
        try withMMU { (mmu) throws(XenErrno) in
            guard let l1 = l1Table(mmu, l4: vcpu.context.kernelL4, for: va) else { throw .EINVAL }
            try mmu.updateEntry(table: l1, level: 1, slot: Int((va >> 12) & 511), new: pte)
        }
        vcpu.pv.dirty.insert(.translations)
        _ = flags
        return 0
    }

    /// The L1 table mapping `va` under `l4`, if every level is present and typed as Xen requires.
    func l1Table(_ mmu: MMU, l4: UInt64, for va: UInt64) -> UInt64? {
        var table = l4
        for level in stride(from: 4, to: 1, by: -1) {
            let index = Int((va >> UInt64(12 + 9 * (level - 1))) & 511)
            guard let e = memory.readWord(mfn: table, offset: index * 8), e & PTE.present != 0 else { return nil }
            table = (e & PTE.addressMask) >> 12
            guard table < UInt64(mmu.info.count), mmu.type(table) == .table(level - 1) else { return nil }
        }
        return table
    }
}
