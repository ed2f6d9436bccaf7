import HyperABI

extension Domain {
    /// `multicall(list, nr)` (13): runs `nr` hypercalls in order with one exit, storing each result in its
    /// entry. Returns 0 unless the list cannot be read (-EFAULT) or is refused (-EINVAL: nested multicall
    /// or iret, which Xen stops after; neither is accepted inside a batch here, the entry gets -EINVAL
    /// and the batch stops). A call that ends the domain (shutdown) stops the batch too.
    func multicall(_ vcpu: VCPU, list: UInt64, count: UInt64, _ regs: inout CPURegisters) throws(XenErrno) -> UInt64 {
        guard count <= UInt64(MulticallLayout.maximumEntries) else { throw .EINVAL }
        let space = vcpu.addressSpace
        for i in 0..<Int(count) {
            let entry = list &+ UInt64(i * MulticallLayout.size)
            let op = try space.load(UInt64.self, at: entry)
            var call = regs
            call.rdi = try space.load(UInt64.self, at: entry + 16)
            call.rsi = try space.load(UInt64.self, at: entry + 24)
            call.rdx = try space.load(UInt64.self, at: entry + 32)
            call.r10 = try space.load(UInt64.self, at: entry + 40)
            call.r8 = try space.load(UInt64.self, at: entry + 48)
            let result: UInt64
            if op == Hypercall.multicall.rawValue || op == Hypercall.iret.rawValue {
                try space.store(XenErrno.EINVAL.hypercallResult, at: entry + UInt64(MulticallLayout.result))
                return 0
            }
            do { result = try dispatch(op, vcpu, &call) } catch { result = error.hypercallResult }
            try space.store(result, at: entry + UInt64(MulticallLayout.result))
            if vcpu.stopRequested.load(ordering: .acquiring) { return 0 }
        }
        return 0
    }
}
