// Memory.swift - frames, the frame allocator, page tables, address spaces
// and the balloon, over GuestKit's C mm layer (mmu_update, mmuext_op,
// update_va_mapping, memory_op).

import CGuestKit

public enum Memory {
    public static var pageSize: UInt { 4096 }

    /// Page-table entry flags (`GK_PTE_*`).
    public struct Flags: OptionSet {
        public let rawValue: UInt64
        public init(rawValue: UInt64) { self.rawValue = rawValue }

        public static var present: Flags { Flags(rawValue: 1 << 0) }
        public static var writable: Flags { Flags(rawValue: 1 << 1) }
        public static var user: Flags { Flags(rawValue: 1 << 2) }
        public static var accessed: Flags { Flags(rawValue: 1 << 5) }
        public static var dirty: Flags { Flags(rawValue: 1 << 6) }
        public static var noExecute: Flags { Flags(rawValue: 1 << 63) }

        /// Read-write data (`GK_PAGE_RW`) and read-only data (`GK_PAGE_RO`).
        public static var readWrite: Flags { [.present, .writable, .user, .accessed, .dirty] }
        public static var readOnly: Flags { [.present, .user, .accessed] }
    }

    /// The machine frame of `pfn`, nil if it has none (out of range or ballooned out).
    public static func mfn(ofPFN pfn: UInt) -> UInt? {
        let m = gk_pfn_to_mfn(pfn)
        return m == ~0 ? nil : m
    }

    /// The PFN of machine frame `mfn`, nil if it is not this domain's RAM.
    public static func pfn(ofMFN mfn: UInt) -> UInt? {
        let p = gk_mfn_to_pfn(mfn)
        return p == ~0 ? nil : p
    }

    /// A free PFN; `mapped` asks for one inside the bootstrap mapping.
    public static func allocateFrame(mapped: Bool = false) throws(XenError) -> UInt {
        UInt(try XenError.check(gk_alloc_pfn(mapped ? UInt32(GK_ALLOC_MAPPED) : 0)))
    }

    /// Returns a PFN to the allocator (unmap it first).
    public static func freeFrame(_ pfn: UInt) {
        gk_free_pfn(pfn)
    }

    /// Maps page `va` to frame `mfn`.
    public static func map(_ va: UInt, mfn: UInt, flags: Flags = .readWrite) throws(XenError) {
        _ = try XenError.check(Int(gk_map(va, mfn, flags.rawValue)))
    }

    /// Maps `mfns.count` pages from `va` in one batch.
    public static func map(_ va: UInt, mfns: [UInt], flags: Flags = .readWrite) throws(XenError) {
        let rc = mfns.withUnsafeBufferPointer { gk_map_range(va, $0.baseAddress, UInt($0.count), flags.rawValue) }
        _ = try XenError.check(Int(rc))
    }

    /// Unmaps `pages` pages from `va` (one batch when more than one).
    public static func unmap(_ va: UInt, pages: UInt = 1) throws(XenError) {
        _ = try XenError.check(Int(pages == 1 ? gk_unmap(va) : gk_unmap_range(va, pages)))
    }

    /// New flags for `pages` mapped pages from `va`.
    public static func protect(_ va: UInt, pages: UInt = 1, flags: Flags) throws(XenError) {
        _ = try XenError.check(Int(pages == 1 ? gk_protect(va, flags.rawValue) : gk_protect_range(va, pages, flags.rawValue)))
    }

    /// The L1 entry for `va` (0 if nothing is mapped there).
    public static func lookup(_ va: UInt) -> UInt64 {
        var pte: UInt64 = 0
        _ = gk_lookup(va, &pte)
        return pte
    }

    /// An L4: the kernel's (bootstrap) one or one from `AddressSpace.create()`.
    public struct AddressSpace: Equatable {
        public let l4: UInt

        public static var kernel: AddressSpace { AddressSpace(l4: gk_kernel_l4()) }
        public static var current: AddressSpace { AddressSpace(l4: gk_current_l4()) }

        /// A new pinned L4 sharing the kernel's mappings.
        public static func create() throws(XenError) -> AddressSpace {
            AddressSpace(l4: UInt(try XenError.check(gk_new_address_space())))
        }

        /// Loads it (MMUEXT_NEW_BASEPTR).
        public func activate() throws(XenError) {
            _ = try XenError.check(Int(gk_switch_address_space(l4)))
        }

        /// Unpins and frees it (it must not be loaded).
        public func destroy() throws(XenError) {
            _ = try XenError.check(Int(gk_destroy_address_space(l4)))
        }
    }

    /// Pages the domain holds now (XENMEM_current_reservation).
    public static func currentReservation() throws(XenError) -> Int {
        try XenError.check(gk_current_reservation())
    }

    /// Gives back up to `pages` free pages; returns how many went.
    public static func balloonOut(pages: UInt) throws(XenError) -> Int {
        try XenError.check(gk_balloon_out(pages))
    }

    /// Gets back up to `pages` of the pages given back; returns how many came.
    public static func balloonIn(pages: UInt) throws(XenError) -> Int {
        try XenError.check(gk_balloon_in(pages))
    }
}
