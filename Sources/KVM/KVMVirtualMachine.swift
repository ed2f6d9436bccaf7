import CKVM
import Foundation
import Glibc
import Hypervisor
import Synchronization

/// One domain's KVM virtual machine: the VM fd, its two memory slots and its vCPUs.
final class KVMVirtualMachine: VirtualMachine, @unchecked Sendable {
    let platform: KVMPlatform
    let fd: Int32
    let window: GuestWindow
    let stub: StubMemory
    let label: String
    /// Guest system time (kvmclock) minus the host's monotonic clock.
    let systemTimeOffset: Int64
    private(set) var vcpus: [KVMVCPU] = []

    init(platform: KVMPlatform, domain: Domain) throws(HypervisorError) {
        label = domain.label
        let fd = ckvm_create_vm(platform.device.fd)
        guard fd >= 0 else { throw HypervisorError(errno: -fd, domain.label, "KVM_CREATE_VM") }
        self.fd = fd
        self.platform = platform
        let clock = ckvm_vm_clock(fd)
        guard clock >= 0 else {
            close(fd)
            throw HypervisorError(errno: Int32(-clock), domain.label, "KVM_GET_CLOCK")
        }
        systemTimeOffset = clock - Int64(bitPattern: monotonicNanos())
        do throws(HypervisorError) {
            let m2p = 0..<UInt64(platform.frames.m2pFrames)
            window = try GuestWindow(memory: domain.memory, frames: domain.p2m + [domain.sharedInfoMFN],
                                     readOnlyFrames: m2p, label: domain.label)
            stub = try StubMemory(platform.stub, vcpus: domain.vcpus.count, label: domain.label)
            var r = ckvm_set_memory_region(fd, 0, 0, 0, UInt64(window.size), window.base)
            guard r == 0 else { throw HypervisorError(errno: -r, domain.label, "KVM_SET_USER_MEMORY_REGION (machine window)") }
            r = ckvm_set_memory_region(fd, 1, 0, StubRegion.stubGPA, UInt64(stub.size), stub.base)
            guard r == 0 else { throw HypervisorError(errno: -r, domain.label, "KVM_SET_USER_MEMORY_REGION (stub)") }
            for v in domain.vcpus {
                vcpus.append(try KVMVCPU(vm: self, vcpu: v))
            }
        } catch {
            vcpus = []
            close(fd)
            throw error
        }
    }

    func start(_ vcpu: VCPU) throws(HypervisorError) {
        try vcpus[vcpu.id].start()
    }

    func kick(_ vcpu: VCPU) {
        guard vcpu.id < vcpus.count else { return }
        vcpus[vcpu.id].kick()
    }

    /// Maps a vCPU's GDT frames into the first pages of its GDT area (below Xen's reserved page), read-only
    /// and supervisor-only as the CPU needs them; the rest stay on the zero page. The caller then drops
    /// stale translations (these are page-table writes the shadow MMU does not see by itself).
    func mapGuestGDT(_ frames: [UInt64], vcpu: Int) {
        stub.mapGDT(frames, vcpu: vcpu)
    }

    func mapFrames(_ mfns: [UInt64]) throws(HypervisorError) {
        try window.mapFrames(platform.frames.memory, mfns, label: label)
    }

    func unmapFrames(_ mfns: [UInt64]) {
        window.unmapFrames(mfns)
    }

    /// Called once, after every vCPU thread has ended. `vcpus` stays as it is so a late kick is harmless.
    func destroy() {
        vcpus.forEach { $0.close() }
        Glibc.close(fd)
    }
}

extension KVMVirtualMachine {
    /// KVM_GET_XSAVE of a vCPU that is not in KVM_RUN (parked, or never started).
    func extendedState(_ vcpu: VCPU) -> Data? {
        guard vcpu.id < vcpus.count else { return nil }
        var area = [UInt8](repeating: 0, count: 4096)
        guard area.withUnsafeMutableBytes({ ckvm_get_xsave(vcpus[vcpu.id].fd, $0.baseAddress) }) == 0 else { return nil }
        return Data(area)
    }

    func setExtendedState(_ vcpu: VCPU, _ state: Data) throws(HypervisorError) {
        guard vcpu.id < vcpus.count, state.count == 4096 else {
            throw HypervisorError(.EINVAL, label, "load vcpu \(vcpu.id)'s extended state", "\(state.count) bytes, expected 4096")
        }
        let r = state.withUnsafeBytes { ckvm_set_xsave(vcpus[vcpu.id].fd, $0.baseAddress) }
        guard r == 0 else { throw HypervisorError(errno: -r, label, "KVM_SET_XSAVE vcpu \(vcpu.id)") }
    }

    /// KVM_SET_CLOCK: kvmclock (the guest's Xen system time) reads `nanoseconds` from now on.
    func setSystemTime(_ nanoseconds: UInt64) throws(HypervisorError) -> Int64 {
        let r = ckvm_set_vm_clock(fd, nanoseconds)
        guard r == 0 else { throw HypervisorError(errno: -r, label, "KVM_SET_CLOCK") }
        let clock = ckvm_vm_clock(fd)
        guard clock >= 0 else { throw HypervisorError(errno: Int32(-clock), label, "KVM_GET_CLOCK") }
        return clock - Int64(bitPattern: monotonicNanos())
    }
}
