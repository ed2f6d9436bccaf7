/// Layouts of the PV MMU's hypercall arguments.
public enum MMULayout {
    /// `struct mmu_update`: ptr u64 @0 (machine address | command), val u64 @8.
    public static let updateSize = 16
    /// `struct mmuext_op`: cmd u32 @0, arg1 u64 @8, arg2 u64 @16.
    public static let extSize = 24
    /// Set in `count` by a preempted call being continued (MMU_UPDATE_PREEMPTED).
    public static let preemptedFlag: UInt64 = 0x8000_0000
    /// Requests handled per call; a longer list is refused (Xen would preempt and continue).
    public static let maximumRequests: UInt64 = 65536
}
