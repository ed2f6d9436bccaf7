import CKVM
import Glibc
import Hypervisor

/// The KVM platform: each domain gets its own VM, its vCPUs run the guest at CPL 3 on their own threads.
public final class KVMPlatform: Platform {
    public let name = "kvm"
    let device: KVMDevice
    let frames: FrameTable
    let stub: StubRegion
    /// The signal that kicks a vCPU thread out of KVM_RUN.
    static let kickSignal = SIGUSR1

    public init(frames: FrameTable) throws(HypervisorError) {
        guard frames.memory.byteCount <= Int(HV_MAX_MACHINE_BYTES) else {
            throw HypervisorError(.EINVAL, "machine memory", "size", "at most \(HV_MAX_MACHINE_BYTES >> 30) GiB")
        }
        device = try KVMDevice()
        self.frames = frames
        stub = StubRegion(m2pFrames: frames.m2pFrames)
        let r = ckvm_install_kick_handler(KVMPlatform.kickSignal)
        guard r == 0 else { throw HypervisorError(errno: -r, "kvm platform", "install the vCPU kick signal handler") }
    }

    public var machphysVirtualAddress: UInt64 { UInt64(HV_M2P_VA) }

    public func hypervisorL4Entries() -> [(slot: Int, entry: UInt64)] { StubRegion.l4Entries }

    public func createVM(for domain: Domain) throws(HypervisorError) -> any VirtualMachine {
        try KVMVirtualMachine(platform: self, domain: domain)
    }
}
