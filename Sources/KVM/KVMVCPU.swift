import CHost
import CKVM
import Glibc
import HyperABI
import Hypervisor
import Synchronization

/// A vCPU's KVM side: its fd, its kvm_run area, its thread and the exit loop.
final class KVMVCPU: @unchecked Sendable {
    unowned let vm: KVMVirtualMachine
    let vcpu: VCPU
    let fd: Int32
    let run: UnsafeMutablePointer<kvm_run>
    let runSize: Int
    /// The thread while it runs; kicks go to it only while it is alive.
    private let thread = Mutex<pthread_t?>(nil)

    init(vm: KVMVirtualMachine, vcpu: VCPU) throws(HypervisorError) {
        self.vm = vm
        self.vcpu = vcpu
        let fd = ckvm_create_vcpu(vm.fd, Int32(vcpu.id))
        guard fd >= 0 else { throw HypervisorError(errno: -fd, vm.label, "KVM_CREATE_VCPU \(vcpu.id)") }
        runSize = Int(vm.platform.device.runSize)
        guard let run = ckvm_map_run(fd, Int32(runSize)) else {
            let e = errno
            Glibc.close(fd)
            throw HypervisorError(errno: e, vm.label, "mmap kvm_run of vcpu \(vcpu.id)")
        }
        self.fd = fd
        self.run = run
    }

    func close() {
        munmap(run, runSize)
        Glibc.close(fd)
    }

    /// Loads the vCPU's start state (CPUID, sregs, MSRs, registers) and runs it on a new thread.
    func start() throws(HypervisorError) {
        let c = vcpu.context
        var s = ckvm_pv_start(rip: c.registers.rip, rsp: c.registers.rsp, rsi: c.registers.rsi,
                              rflags: c.registers.rflags, cr3: c.kernelL4 << 12, vcpu: UInt32(vcpu.id))
        let r = ckvm_setup_pv_vcpu(fd, vm.platform.device.cpuid, &s)
        guard r == 0 else { throw HypervisorError(errno: -r, vm.label, "set up vcpu \(vcpu.id) (CPUID, sregs, MSRs, registers)") }
        let clock = ckvm_set_pvclock(fd, vcpu.timeAreaAddress)
        guard clock == 0 else { throw HypervisorError(errno: -clock, vm.label, "point kvmclock at vcpu \(vcpu.id)'s vcpu_info.time") }
        ckvm_request_sync_regs(run)
        storeRegisters(c.registers)     // every GPR (VCPUOP_initialise passes them all), loaded at the first KVM_RUN

        let box = Unmanaged.passRetained(self)
        let created: Int32 = thread.withLock { t in
            var tid = pthread_t()
            let rc = pthread_create(&tid, nil, { arg in
                Unmanaged<KVMVCPU>.fromOpaque(arg!).takeRetainedValue().threadMain()
                return nil
            }, box.toOpaque())
            if rc == 0 {
                pthread_detach(tid)
                t = tid
            }
            return rc
        }
        guard created == 0 else {
            box.release()
            throw HypervisorError(errno: created, vm.label, "create the thread of vcpu \(vcpu.id)")
        }
    }

    func kick() {
        thread.withLock { t in
            if let t { _ = ckvm_kick(run, t, KVMPlatform.kickSignal) }
        }
    }

    private func threadMain() {
        _ = chost_set_timer_slack(1)    // wake at the guest's timer deadline, not up to 50 µs after it
        _ = ckvm_unblock_signal(KVMPlatform.kickSignal)   // created from a pool thread, it may inherit a blocked kick
        runLoop()
        thread.withLock { $0 = nil }
        vcpu.domain.vcpuDidStop(vcpu)
    }
}
