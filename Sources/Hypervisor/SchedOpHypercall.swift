import Glibc
import HyperABI

extension Domain {
    /// `sched_op(cmd, arg)`: yield and shutdown (block, poll and the rest come with events and timers).
    func schedOp(_ vcpu: VCPU, command: UInt64, argument: UInt64) throws(XenErrno) -> UInt64 {
        switch SchedOpCommand(rawValue: command) {
        case .yield:
            sched_yield()
            return 0
        case .shutdown:
            let raw = try vcpu.addressSpace.load(UInt32.self, at: argument)
            // Xen would record any code; an unknown one is refused here so a typo cannot look like a poweroff.
            guard let reason = ShutdownReason(rawValue: raw) else { throw .EINVAL }
            end(.shutdown(reason))
            return 0
        default:
            throw .ENOSYS
        }
    }
}
