import HyperABI

/// Xen's rules for guest segment descriptors (`check_descriptor`, 64-bit PV) and the hypercalls that
/// install them: `set_gdt` (2) and `update_descriptor` (10).
enum SegmentDescriptor {
    /// Validates (and, as Xen does, fixes up) one 8-byte descriptor. Returns nil if it must be refused.
    /// Not-present → fine. DPL below 3 → raised to 3 (the guest kernel runs at CPL 3). Code and data →
    /// fine, no base/limit checks; their accessed bit is set here, because the GDT is mapped read-only and
    /// the CPU would otherwise write it while loading a selector. System type 0 → fine (the upper half of a 16-byte call gate).
    /// Call gates (type 0xC) → only to a guest GDT selector, 0xe033 or an LDT selector, with DPL forced
    /// to 0 and the original DPL kept in the target selector's RPL. Anything else (TSS, LDT, interrupt
    /// and trap gates) → refused.
    static func check(_ d: UInt64) -> UInt64? {
        var low = UInt32(truncatingIfNeeded: d), high = UInt32(truncatingIfNeeded: d >> 32)
        guard high & (1 << 15) != 0 else { return d }                          // not present
        if (high >> 13) & 3 < 3 { high |= 3 << 13 }
        if high & (1 << 12) != 0 { return UInt64(high | 1 << 8) << 32 | UInt64(low) }  // code or data
        let type = (high >> 8) & 0xf
        if type == 0 { return UInt64(high) << 32 | UInt64(low) }
        guard type == 0xc else { return nil }
        guard high & 0xe0 == 0 else { return nil }                             // reserved bits of the gate
        let selector = UInt16(truncatingIfNeeded: low >> 16)
        let index = Int(selector >> 3)
        guard selector & 4 != 0 || index < PVLayout.firstReservedGDTEntry || selector & ~3 == PVLayout.flatKernelCS & ~3 else { return nil }
        let dpl = (high >> 13) & 3
        low = (low & 0xffff) | UInt32(selector & ~3 | UInt16(dpl)) << 16
        high &= ~(3 << 13)
        return UInt64(high) << 32 | UInt64(low)
    }
}

extension Domain {
    /// `set_gdt(frame_list, entries)` (2): the guest's own GDT entries, 0 ≤ entries ≤ 7168, in
    /// ceil(entries / 512) frames. Each frame takes the seg_desc type, which it can only do if it is the
    /// domain's RAM mapped nowhere writable and not a page table; every one of its 512 descriptors must
    /// pass `check_descriptor`. The frames then sit below Xen's reserved GDT page; the previous ones are
    /// released.
    func setGDT(_ vcpu: VCPU, list: UInt64, entries: UInt64) throws(XenErrno) -> UInt64 {
        guard entries <= UInt64(PVLayout.firstReservedGDTEntry) else { throw .EINVAL }
        let count = Int((entries + 511) / 512)
        var frames: [UInt64] = []
        for i in 0..<count { frames.append(try vcpu.addressSpace.load(UInt64.self, at: list &+ UInt64(i * 8))) }
        let old = vcpu.pv.gdtFrames
        try withMMU { (mmu) throws(XenErrno) in
            var typed: [UInt64] = []
            do throws(XenErrno) {
                for mfn in frames {
                    try mmu.getType(mfn, .segmentDescriptors)
                    typed.append(mfn)
                }
                // Validate everything before changing anything.
                var fixed: [(UInt64, Int, UInt64)] = []
                for mfn in frames {
                    for i in 0..<512 {
                        guard let d = memory.readWord(mfn: mfn, offset: i * 8), let ok = SegmentDescriptor.check(d) else { throw .EINVAL }
                        if ok != d { fixed.append((mfn, i * 8, ok)) }
                    }
                }
                for (mfn, offset, d) in fixed { memory.writeWord(mfn: mfn, offset: offset, d) }
            } catch {
                for mfn in typed { mmu.putType(mfn) }
                throw error
            }
            for mfn in old { mmu.putType(mfn) }
        }
        vcpu.pv.gdtFrames = frames
        vcpu.pv.dirty.insert(.descriptorTables)
        return 0
    }

    /// `update_descriptor(maddr, desc)` (10): writes one validated descriptor at machine address `maddr`
    /// (8-aligned) in a GDT frame in use, or in any of the domain's frames that is not a page table.
    func updateDescriptor(_ vcpu: VCPU, machineAddress: UInt64, descriptor: UInt64) throws(XenErrno) -> UInt64 {
        guard machineAddress & 7 == 0 else { throw .EINVAL }
        let mfn = machineAddress >> 12
        guard let d = SegmentDescriptor.check(descriptor) else { throw .EINVAL }
        try withMMU { (mmu) throws(XenErrno) in
            guard mmu.owns(mfn), mfn != sharedInfoMFN, mmu.type(mfn).level == nil else { throw .EINVAL }
            memory.writeWord(mfn: mfn, offset: Int(machineAddress & 4095), d)
        }
        return 0
    }
}
