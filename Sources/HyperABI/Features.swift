/// `XENFEAT_*` bit numbers reported by `XENVER_get_features` (submap 0).
public enum XenFeature: UInt32, Sendable, CaseIterable {
    case writablePageTables = 0
    case writableDescriptorTables = 1
    case autoTranslatedPhysmap = 2
    case supervisorModeKernel = 3
    case paePgdirAbove4GB = 4
    case mmuPTUpdatePreserveAD = 5
    case highmemAssist = 6
    case gnttabMapAvailBits = 7
    case hvmCallbackVector = 8
    case hvmSafePVClock = 9
    case hvmPirqs = 10
    case dom0 = 11
    case memoryOpVnodeSupported = 13
    case directMapped = 17
    case runstatePhysArea = 18
    case vcpuTimePhysArea = 19
}
