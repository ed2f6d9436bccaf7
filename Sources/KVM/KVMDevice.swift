import CKVM
import Glibc
import Hypervisor

/// /dev/kvm, opened once and checked for what this backend needs.
public final class KVMDevice: Sendable {
    public let fd: Int32
    /// Size of each vCPU's kvm_run mapping.
    public let runSize: Int32
    /// The host's supported CPUID, loaded into every vCPU.
    /// (Immutable after the first fetch; shared read-only by every vCPU set-up.)
    nonisolated(unsafe) let cpuid: UnsafePointer<kvm_cpuid2>

    /// Opens /dev/kvm and checks the API version and the capabilities the exit loop relies on.
    public init() throws(HypervisorError) {
        let fd = ckvm_open()
        guard fd >= 0 else {
            let hint = -fd == ENOENT ? "this machine has no KVM; load the kvm module or run on a host with /dev/kvm"
                : -fd == EACCES ? "run as root or add yourself to the kvm group" : ""
            throw HypervisorError(errno: -fd, "/dev/kvm", "open", hint)
        }
        let version = ckvm_api_version(fd)
        guard version == 12 else {
            close(fd)
            throw HypervisorError(.ENOSYS, "/dev/kvm", "check API version", "found \(version), need 12")
        }
        for (cap, name) in [(KVM_CAP_SYNC_REGS, "KVM_CAP_SYNC_REGS"), (KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"),
                            (KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY")] where ckvm_check_extension(fd, UInt(cap)) <= 0 {
            close(fd)
            throw HypervisorError(.ENOSYS, "/dev/kvm", "check capability \(name)", "this KVM lacks it")
        }
        let size = ckvm_vcpu_mmap_size(fd)
        guard size > 0 else {
            close(fd)
            throw HypervisorError(errno: -size, "/dev/kvm", "KVM_GET_VCPU_MMAP_SIZE")
        }
        guard let cpuid = ckvm_supported_cpuid(fd) else {
            let e = errno
            close(fd)
            throw HypervisorError(errno: e, "/dev/kvm", "KVM_GET_SUPPORTED_CPUID")
        }
        self.fd = fd
        self.runSize = size
        self.cpuid = cpuid
    }

    deinit { close(fd) }

    /// True when /dev/kvm exists and can be opened read-write.
    public static var isAvailable: Bool {
        let fd = ckvm_open()
        if fd >= 0 { close(fd); return true }
        return false
    }
}
