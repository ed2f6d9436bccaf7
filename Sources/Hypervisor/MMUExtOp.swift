import HyperABI

/// `mmuext_op` commands (hypercall 26).
enum MMUExtCommand: UInt32 {
    case pinL1 = 0, pinL2 = 1, pinL3 = 2, pinL4 = 3, unpin = 4, newBasePtr = 5, tlbFlushLocal = 6, invlpgLocal = 7
    case tlbFlushMulti = 8, invlpgMulti = 9, tlbFlushAll = 10, invlpgAll = 11, flushCache = 12, setLDT = 13
    case newUserBasePtr = 15, clearPage = 16, copyPage = 17, flushCacheGlobal = 18, markSuper = 19, unmarkSuper = 20
}

extension Domain {
    /// MMUEXT_NEW_BASEPTR (and a trapped `mov %cr3` in emulate mode): the guest cannot load CR3 itself,
    /// this is the only way, and only to a pinned L4. The base holds a type reference of its own.
    func switchBase(_ vcpu: VCPU, to l4: UInt64) throws(XenErrno) {
        try withMMU { (mmu) throws(XenErrno) in
            guard mmu.owns(l4), l4 < UInt64(mmu.info.count), mmu.info.pinned[Int(l4)], mmu.type(l4) == .l4 else { throw .EINVAL }
            try mmu.getType(l4, .l4)
            mmu.putType(vcpu.context.kernelL4)
        }
        vcpu.context.kernelL4 = l4
        vcpu.pv.dirty.insert(.baseTable)
    }

    /// `mmuext_op(ops, count, pdone, foreigndom)` (26): pinning, base pointers and TLB flushes, in order,
    /// stopping at the first error. `pdone` (if not NULL) receives the number done.
    func mmuextOp(_ vcpu: VCPU, list: UInt64, count rawCount: UInt64, done: UInt64, foreignDomain: UInt64) throws(XenErrno) -> UInt64 {
        try forEachRequest(vcpu, list: list, count: rawCount, done: done, foreign: foreignDomain,
                           size: MMULayout.extSize) { (space, op) throws(XenErrno) in
            let raw = try space.load(UInt32.self, at: op)
            let arg1 = try space.load(UInt64.self, at: op + 8)
            switch MMUExtCommand(rawValue: raw) {
            case .pinL1, .pinL2, .pinL3, .pinL4:
                // Pinning takes a type reference and keeps it, validating the table (recursively) now.
                try withMMU { (mmu) throws(XenErrno) in
                    guard mmu.owns(arg1), arg1 < UInt64(mmu.info.count), !mmu.info.pinned[Int(arg1)] else { throw .EINVAL }
                    try mmu.getType(arg1, .table(Int(raw) + 1))
                    mmu.info.pinned[Int(arg1)] = true
                }
            case .unpin:
                try withMMU { (mmu) throws(XenErrno) in
                    guard mmu.owns(arg1), arg1 < UInt64(mmu.info.count), mmu.info.pinned[Int(arg1)] else { throw .EINVAL }
                    mmu.info.pinned[Int(arg1)] = false
                    mmu.putType(arg1)
                }
                vcpu.pv.dirty.insert(.translations)
            case .newBasePtr:
                try switchBase(vcpu, to: arg1)
            case .newUserBasePtr:
                try withMMU { (mmu) throws(XenErrno) in
                    if arg1 != 0 {
                        guard mmu.owns(arg1), arg1 < UInt64(mmu.info.count), mmu.info.pinned[Int(arg1)], mmu.type(arg1) == .l4 else { throw .EINVAL }
                        try mmu.getType(arg1, .l4)
                    }
                    if vcpu.pv.userL4 != 0 { mmu.putType(vcpu.pv.userL4) }
                }
                vcpu.pv.userL4 = arg1
            case .tlbFlushLocal, .invlpgLocal, .tlbFlushAll, .invlpgAll:
                vcpu.pv.dirty.insert(.translations)
            case .markSuper, .unmarkSuper:
                throw .EOPNOTSUPP
            default:
                throw .ENOSYS
            }
        }
        return 0
    }
}
