import HyperABI

/// A machine frame's type as Xen keeps it (`PGT_*`): a frame has one type at a time.
public enum PageType: UInt8, Sendable, CustomStringConvertible {
    case none = 0
    case l1 = 1, l2 = 2, l3 = 3, l4 = 4
    /// Holds segment descriptors (a GDT frame).
    case segmentDescriptors = 5
    /// Mapped writable somewhere.
    case writable = 7

    /// The page-table level, for L1–L4.
    var level: Int? { (1...4).contains(Int(rawValue)) ? Int(rawValue) : nil }

    static func table(_ level: Int) -> PageType { PageType(rawValue: UInt8(level))! }

    public var description: String {
        switch self {
        case .none: "none"
        case .l1, .l2, .l3, .l4: "L\(rawValue)"
        case .segmentDescriptors: "seg_desc"
        case .writable: "writable"
        }
    }
}

/// Per-frame type and reference counts for all machine memory (Xen's `type_info` and `count_info`).
/// A frame is only ever referenced by its owner's page tables, so every entry is guarded by the
/// owning domain's MMU lock; this storage itself takes no lock.
final class PageInfo: @unchecked Sendable {
    let count: Int
    let type: UnsafeMutablePointer<UInt8>
    /// Typed references: each present L2–L4 entry pointing at the frame, each writable L1 mapping,
    /// each pin, each use as a base pointer or GDT frame.
    let typeCount: UnsafeMutablePointer<UInt32>
    /// Mappings by present L1 entries (read-only or writable): the frame cannot be freed while mapped.
    let mapCount: UnsafeMutablePointer<UInt32>
    let pinned: UnsafeMutablePointer<Bool>
    /// The hypervisor's pages given to a domain (shared_info, grant-table frames): the domain may map
    /// them writable, but they never take another type and cannot be granted.
    let special: UnsafeMutablePointer<Bool>

    init(frames: Int) {
        count = frames
        type = .allocate(capacity: frames); type.initialize(repeating: 0, count: frames)
        typeCount = .allocate(capacity: frames); typeCount.initialize(repeating: 0, count: frames)
        mapCount = .allocate(capacity: frames); mapCount.initialize(repeating: 0, count: frames)
        pinned = .allocate(capacity: frames); pinned.initialize(repeating: false, count: frames)
        special = .allocate(capacity: frames); special.initialize(repeating: false, count: frames)
    }

    deinit { type.deallocate(); typeCount.deallocate(); mapCount.deallocate(); pinned.deallocate(); special.deallocate() }

    /// Forgets everything about a frame (it returns to the free pool).
    func reset(_ mfn: UInt64) {
        guard mfn < UInt64(count) else { return }
        let i = Int(mfn)
        type[i] = 0; typeCount[i] = 0; mapCount[i] = 0; pinned[i] = false; special[i] = false
    }
}

/// Entry bits a guest may not set at each level (Xen's disallow masks for a domain without I/O
/// privilege): PWT, PCD and PAT/PSE everywhere; global only in L1.
enum EntryRules {
    static let l1Disallowed: UInt64 = PTE.writeThrough | PTE.cacheDisable | PTE.pageSize | PTE.grantMapping
    static let upperDisallowed: UInt64 = PTE.writeThrough | PTE.cacheDisable | PTE.pageSize | PTE.global
    /// Address bits above the 48-bit physical range (bits 48–51) are reserved here.
    static let reservedAddressBits: UInt64 = 0x000f_0000_0000_0000
}

extension Domain {
    /// The domain's own page-type view: all calls are made with `mmuLock` held.
    struct MMU {
        let domain: Domain
        var info: PageInfo { domain.hypervisor!.frames.pages }

        func owns(_ mfn: UInt64) -> Bool {
            domain.hypervisor?.frames.owner(of: mfn) == domain.id
        }

        func type(_ mfn: UInt64) -> PageType { PageType(rawValue: info.type[Int(mfn)]) ?? .none }
        func typeCount(_ mfn: UInt64) -> UInt32 { info.typeCount[Int(mfn)] }

        /// Takes a typed reference (Xen's get_page_type). The first reference to a page-table type
        /// validates every entry of the frame, taking the references those entries need; if any entry
        /// is refused, every reference taken is given back and the frame is left untyped.
        func getType(_ mfn: UInt64, _ wanted: PageType) throws(XenErrno) {
            guard owns(mfn), !info.special[Int(mfn)] || wanted == .writable else { throw .EINVAL }
            let i = Int(mfn)
            if info.typeCount[i] > 0 {
                guard info.type[i] == wanted.rawValue else { throw .EINVAL }   // one type at a time
                info.typeCount[i] += 1
                return
            }
            // Count first: a table that (directly or not) references itself while being validated then
            // meets its own type in progress and is refused instead of looping.
            info.type[i] = wanted.rawValue
            info.typeCount[i] = 1
            guard let level = wanted.level else { return }
            var done = 0
            do throws(XenErrno) {
                for slot in 0..<512 {
                    if level == 4 && Domain.isHypervisorSlot(slot) { done = slot + 1; continue }
                    let e = domain.memory.readWord(mfn: mfn, offset: slot * 8) ?? 0
                    try getEntry(e, level: level)
                    done = slot + 1
                }
            } catch {
                for slot in 0..<done where !(level == 4 && Domain.isHypervisorSlot(slot)) {
                    putEntry(domain.memory.readWord(mfn: mfn, offset: slot * 8) ?? 0, level: level)
                }
                info.type[i] = 0
                info.typeCount[i] = 0
                throw error
            }
            if level == 4 { domain.installHypervisorSlots(mfn) }
        }

        /// Drops a typed reference; the last one of a page table drops the references of its entries.
        func putType(_ mfn: UInt64) {
            let i = Int(mfn)
            guard mfn < UInt64(info.count), info.typeCount[i] > 0 else { return }
            info.typeCount[i] -= 1
            guard info.typeCount[i] == 0 else { return }
            if let level = PageType(rawValue: info.type[i])?.level {
                for slot in 0..<512 where !(level == 4 && Domain.isHypervisorSlot(slot)) {
                    putEntry(domain.memory.readWord(mfn: mfn, offset: slot * 8) ?? 0, level: level)
                }
            }
            info.type[i] = 0
            domain.frameMaybeFree(mfn)
        }

        /// Checks one entry of a table at `level` and takes what it needs: an L1 entry maps a frame
        /// (writable → a writable type reference); an L2–L4 entry references a table of the level below.
        func getEntry(_ e: UInt64, level: Int) throws(XenErrno) {
            guard e & PTE.present != 0 else {
                guard e == 0 else { throw .EINVAL }     // non-present entries stay zero (Xen's L1TF rule)
                return
            }
            let mfn = (e & PTE.addressMask) >> 12
            guard e & EntryRules.reservedAddressBits == 0, mfn < UInt64(info.count) else { throw .EINVAL }
            if level == 1 {
                guard e & EntryRules.l1Disallowed == 0 else { throw .EINVAL }
                if e & PTE.writable != 0 { try getType(mfn, .writable) } else { guard owns(mfn) else { throw .EINVAL } }
                info.mapCount[Int(mfn)] += 1
            } else {
                guard e & EntryRules.upperDisallowed == 0 else { throw .EINVAL }
                try getType(mfn, .table(level - 1))
            }
        }

        /// Drops what `getEntry` took. A grant mapping's references belong to the maptrack, not to the entry.
        func putEntry(_ e: UInt64, level: Int) {
            guard e & PTE.present != 0, !(level == 1 && e & PTE.grantMapping != 0) else { return }
            let mfn = (e & PTE.addressMask) >> 12
            guard mfn < UInt64(info.count) else { return }
            if level == 1 {
                if info.mapCount[Int(mfn)] > 0 { info.mapCount[Int(mfn)] -= 1 }
                if e & PTE.writable != 0 { putType(mfn) } else { domain.frameMaybeFree(mfn) }
            } else {
                putType(mfn)
            }
        }

        /// Replaces entry `slot` of table `table` (of `level`) with `new`, validated as Xen's mod_lN_entry:
        /// the new entry's references are taken before the old one's are dropped.
        func updateEntry(table: UInt64, level: Int, slot: Int, new: UInt64, preserveAD: Bool = false) throws(XenErrno) {
            guard !(level == 4 && Domain.isHypervisorSlot(slot)) else { throw .EINVAL }
            let old = domain.memory.readWord(mfn: table, offset: slot * 8) ?? 0
            // A grant mapping goes only through unmap_grant_ref (Xen crashes a domain that overwrites one).
            guard !(level == 1 && old & PTE.grantMapping != 0) else { throw .EINVAL }
            var value = new
            if level == 1 && value & PTE.present != 0 { value |= PTE.user }        // the guest kernel runs at CPL 3
            if preserveAD { value |= old & (PTE.accessed | PTE.dirty) }
            guard value != old else { return }
            try getEntry(value, level: level)
            domain.memory.writeWord(mfn: table, offset: slot * 8, value)
            putEntry(old, level: level)
        }
    }

    /// L4 slots 256–271 belong to the hypervisor (Xen's reserved range).
    static func isHypervisorSlot(_ slot: Int) -> Bool {
        slot >= PVLayout.firstReservedL4Slot && slot <= PVLayout.lastReservedL4Slot
    }

    /// Writes the platform's entries into slots 256–271 of a freshly validated L4.
    func installHypervisorSlots(_ l4: UInt64) {
        for slot in PVLayout.firstReservedL4Slot...PVLayout.lastReservedL4Slot { memory.writeWord(mfn: l4, offset: slot * 8, 0) }
        for (slot, entry) in hypervisor?.platform.hypervisorL4Entries() ?? [] { memory.writeWord(mfn: l4, offset: slot * 8, entry) }
    }

    /// Runs `body` with the domain's MMU lock held.
    func withMMU<T>(_ body: (MMU) throws(XenErrno) -> T) throws(XenErrno) -> T {
        try mmuLock.withLock { (_: inout Void) throws(XenErrno) -> T in try body(MMU(domain: self)) }
    }
}
