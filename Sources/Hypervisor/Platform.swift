import Foundation
/// What the core needs from the machinery that runs guest code (KVM in production, a fake in tests).
public protocol Platform: AnyObject, Sendable {
    /// A short name for logs, e.g. "kvm".
    var name: String { get }
    /// Entries the platform owns in L4 slots 256–271 of every guest L4: its stub and the read-only M2P.
    func hypervisorL4Entries() -> [(slot: Int, entry: UInt64)]
    /// Where guests find the read-only M2P (XENMEM_machphys_mapping): Xen's address unless the platform
    /// cannot map it there.
    var machphysVirtualAddress: UInt64 { get }
    /// Creates the virtual machine that will run `domain`'s vCPUs.
    func createVM(for domain: Domain) throws(HypervisorError) -> any VirtualMachine
}

/// One domain's virtual machine on the platform.
public protocol VirtualMachine: AnyObject, Sendable {
    /// Starts `vcpu` on its own thread, in the state `vcpu.context` describes.
    /// The thread calls `Domain.vcpuDidStop` when it ends.
    func start(_ vcpu: VCPU) throws(HypervisorError)
    /// Forces `vcpu` out of guest code soon, so it notices a stop request.
    func kick(_ vcpu: VCPU)
    /// Frees the VM; called once, after every vCPU thread has ended.
    func destroy()
    /// Guest system time (what the guest's pvclock reads) minus the host's monotonic clock, in ns.
    var systemTimeOffset: Int64 { get }
    /// Makes frames the domain was given reachable by its guest-physical window.
    func mapFrames(_ mfns: [UInt64]) throws(HypervisorError)
    /// Makes frames the domain gave back unreachable again (before they are freed).
    func unmapFrames(_ mfns: [UInt64])
    /// A quiescent vCPU's FPU/SSE/AVX state, for save (nil: the platform keeps none).
    func extendedState(_ vcpu: VCPU) -> Data?
    /// Loads saved extended state into a vCPU that has not started.
    func setExtendedState(_ vcpu: VCPU, _ state: Data) throws(HypervisorError)
    /// Sets the guest's system time to `nanoseconds` now; returns the new `systemTimeOffset`.
    func setSystemTime(_ nanoseconds: UInt64) throws(HypervisorError) -> Int64
}

extension VirtualMachine {
    public func extendedState(_ vcpu: VCPU) -> Data? { nil }
    public func setExtendedState(_ vcpu: VCPU, _ state: Data) throws(HypervisorError) {}
    public func setSystemTime(_ nanoseconds: UInt64) throws(HypervisorError) -> Int64 {
        throw HypervisorError(.ENOSYS, "platform", "set the guest clock", "not supported by this platform")
    }
}

/// The state a vCPU starts in (the part of Xen's `vcpu_guest_context` this hypervisor uses so far).
public struct VCPUContext: Sendable, Equatable {
    public var registers = CPURegisters()
    /// Machine frame of the kernel L4 (CR3).
    public var kernelL4: UInt64 = 0
    public init() {}
}
