import HyperABI

extension Domain {
    /// `vcpu_op(cmd, vcpuid, arg)` (24): bringing vCPUs up and down, timers, runstate and vcpu_info
    /// registration for the caller's vCPUs.
    func vcpuOp(_ vcpu: VCPU, command: UInt64, target: UInt64, argument: UInt64) throws(XenErrno) -> UInt64 {
        guard target < UInt64(vcpus.count) else { throw .ENOENT }
        let v = vcpus[Int(target)]
        let space = vcpu.addressSpace
        switch VCPUOpCommand(rawValue: command) {
        case .initialise:
            try initialiseVCPU(vcpu, v, context: argument)
            return 0
        case .up:
            try bringUp(v)
            return 0
        case .down:
            takeDown(vcpu, v)
            return 0
        case .isUp:
            return v.down.load(ordering: .acquiring) ? 0 : 1
        case .setSingleshotTimer:
            guard v === vcpu else { throw .EINVAL }                        // own vCPU only
            let deadline = try space.load(UInt64.self, at: argument)
            v.timer.setSingleshot(deadline)                                   // a deadline in the past fires at once
            return 0
        case .stopSingleshotTimer:
            guard v === vcpu else { throw .EINVAL }
            v.timer.setSingleshot(nil)
            return 0
        case .setPeriodicTimer:
            let period = try space.load(UInt64.self, at: argument)
            guard period >= VCPUOpLayout.minimumPeriodNanos, period < 1 << 62 else { throw .EINVAL }
            v.timer.setPeriodic(period)
            return 0
        case .stopPeriodicTimer:
            v.timer.setPeriodic(nil)
            return 0
        case .registerRunstateMemoryArea:
            guard v === vcpu else { throw .EINVAL }
            let area = try space.load(UInt64.self, at: argument)
            vcpu.pv.runstateArea = area
            vcpu.setRunstate(.running)
            writeRunstate(vcpu)
            return 0
        case .getRunstateInfo:
            if v === vcpu { vcpu.setRunstate(.running) }                    // split what it ran since into run and steal
            try space.copyToGuest(argument, bytes: v.runstateInfo)
            return 0
        case .registerVCPUInfo:
            let mfn = try space.load(UInt64.self, at: argument)
            let offset = try space.load(UInt32.self, at: argument + 8)
            return try registerVCPUInfo(v, mfn: mfn, offset: Int(offset))
        default:
            throw .ENOSYS
        }
    }

    /// VCPUOP_register_vcpu_info: move vcpu_info to (mfn, offset) of one of the domain's own frames.
    /// Once per vCPU; the structure must not cross a page; current contents move with it.
    func registerVCPUInfo(_ v: VCPU, mfn: UInt64, offset: Int) throws(XenErrno) -> UInt64 {
        guard offset >= 0, offset + VCPUInfoLayout.size <= 4096, offset & 7 == 0 else { throw .EINVAL }
        guard try withMMU({ (mmu) throws(XenErrno) in mmu.owns(mfn) && mmu.type(mfn).level == nil }) else { throw .EINVAL }
        let old = v.vcpuInfo
        guard old.mfn == sharedInfoMFN else { throw .EBUSY }
        var bytes = [UInt8](repeating: 0, count: VCPUInfoLayout.size)
        bytes.withUnsafeMutableBytes { _ = memory.read(mfn: old.mfn, offset: old.offset, into: $0) }
        bytes.withUnsafeBytes { _ = memory.write(mfn: mfn, offset: offset, bytes: $0) }
        v.vcpuInfoLocation.store(mfn << 12 | UInt64(offset), ordering: .releasing)
        v.pv.dirty.insert(.timeArea)
        return 0
    }

    /// `set_timer_op(timeout)` (15): one-shot timer at an absolute Xen system time; 0 cancels.
    func setTimerOp(_ vcpu: VCPU, deadline: UInt64) -> UInt64 {
        vcpu.timer.setSingleshot(deadline == 0 ? nil : deadline)
        return 0
    }
}
