import HyperABI

/// `mmuext_op` commands (hypercall 26).
enum MMUExtCommand: UInt32 {
    case pinL1 = 0, pinL2 = 1, pinL3 = 2, pinL4 = 3, unpin = 4, newBasePtr = 5, tlbFlushLocal = 6, invlpgLocal = 7
    case tlbFlushMulti = 8, invlpgMulti = 9, tlbFlushAll = 10, invlpgAll = 11, flushCache = 12, setLDT = 13
    case newUserBasePtr = 15, clearPage = 16, copyPage = 17, flushCacheGlobal = 18, markSuper = 19, unmarkSuper = 20
}

extension Domain {
    /// `mmuext_op(ops, count, pdone, foreigndom)` (26), the part that exists before the PV MMU:
    /// MMUEXT_NEW_USER_BASEPTR with the kernel's own L4 (or 0 for none: guest user mode then shares the
    /// kernel's page tables, as XTF runs), and the TLB flushes (the host drops stale translations).
    /// Other commands answer -ENOSYS until page types and pinning exist. Processing stops at the first
    /// error; `pdone` (if not NULL) receives the number done.
    func mmuextOp(_ vcpu: VCPU, list: UInt64, count: UInt64, done: UInt64, foreignDomain: UInt64) throws(XenErrno) -> UInt64 {
        let space = vcpu.addressSpace
        let n = count & 0x7fff_ffff
        guard foreignDomain & 0xffff == UInt64(DomainID.this) || foreignDomain & 0xffff == UInt64(id) else { throw .EPERM }
        var completed: UInt32 = 0
        defer { if done != 0 { try? space.store(completed, at: done) } }
        for i in 0..<n {
            let op = list &+ i * 24
            let raw = try space.load(UInt32.self, at: op)
            let arg1 = try space.load(UInt64.self, at: op + 8)
            switch MMUExtCommand(rawValue: raw) {
            case .newUserBasePtr:
                guard arg1 == 0 || arg1 == vcpu.context.kernelL4 else { throw .EINVAL }
                vcpu.pv.userL4 = arg1
            case .tlbFlushLocal, .invlpgLocal, .tlbFlushAll, .invlpgAll:
                vcpu.pv.dirty.insert(.translations)
            case .markSuper, .unmarkSuper:
                throw .EOPNOTSUPP
            default:
                throw .ENOSYS
            }
            completed += 1
        }
        return 0
    }
}
