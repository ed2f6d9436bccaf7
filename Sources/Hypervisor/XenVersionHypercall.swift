import HyperABI

extension Domain {
    /// `xen_version(cmd, arg)`: version, build and feature information.
    func xenVersion(_ vcpu: VCPU, command: UInt64, argument: UInt64) throws(XenErrno) -> UInt64 {
        let space = vcpu.addressSpace
        typealias ABI = XenVersionABI
        switch XenVersionCommand(rawValue: command) {
        case .version:
            return UInt64(ABI.major << 16 | ABI.minor)
        case .extraversion:
            try space.storeString(ABI.extraversion, size: ABI.extraversionSize, at: argument)
        case .compileInfo:
            try space.checkWritable(argument, count: ABI.compileInfoSize)
            try space.storeString(ABI.compiler, size: 64, at: argument + UInt64(ABI.compileInfoCompilerOffset))
            try space.storeString(ABI.compileBy, size: 16, at: argument + UInt64(ABI.compileInfoByOffset))
            try space.storeString(ABI.compileDomain, size: 32, at: argument + UInt64(ABI.compileInfoDomainOffset))
            try space.storeString(Self.buildDate, size: 32, at: argument + UInt64(ABI.compileInfoDateOffset))
        case .capabilities:
            try space.storeString(ABI.capabilities, size: ABI.capabilitiesSize, at: argument)
        case .changeset:
            try space.storeString(ABI.changeset, size: ABI.changesetSize, at: argument)
        case .platformParameters:
            try space.store(PVLayout.hypervisorVirtStart, at: argument)
        case .getFeatures:
            let index = try space.load(UInt32.self, at: argument)
            guard let submap = Self.featureSubmap(index) else { throw .EINVAL }   // Xen has one submap
            try space.checkWritable(argument, count: ABI.featureInfoSize)
            try space.store(submap, at: argument + UInt64(ABI.featureInfoSubmapOffset))
        case .pagesize:
            return PVLayout.pageSize
        case .guestHandle:
            try space.copyToGuest(argument, bytes: handle)
        case nil:
            throw .ENOSYS
        }
        return 0
    }

    /// XENFEAT bits this hypervisor provides, by 32-bit submap (only submap 0 exists, as on Xen).
    /// None yet: each feature is advertised with the hypercall that provides it.
    static func featureSubmap(_ index: UInt32) -> UInt32? { index == 0 ? 0 : nil }

    /// The date reported in compile_info.
    static let buildDate = "2026-11-21"
}
