import CBaseline
import CKVM
import Hypervisor

/// What the minimal C loop measured running a domain.
public struct BaselineMeasurement: Sendable {
    public let createToFirstExitNanos: UInt64
    public let firstHypercallNanos: UInt64
    public let shutdownNanos: UInt64
    public let hypercalls: UInt64
}

extension KVMPlatform {
    /// Runs a built, never-started domain in a fresh VM driven by the minimal C KVM loop (the benchmark
    /// baseline), on the calling thread. The domain's own VM is left untouched; destroy the domain afterwards.
    public func runBaseline(_ domain: Domain, stopAfterFirstExit: Bool = false) throws(HypervisorError) -> BaselineMeasurement {
        guard let vm = domain.virtualMachine as? KVMVirtualMachine, domain.state == .created else {
            throw HypervisorError(.EINVAL, domain.label, "run under the baseline loop", "needs a built domain that never ran")
        }
        let c = domain.vcpus[0].context
        var spec = cbaseline_vm(window: vm.window.base, window_size: UInt64(vm.window.size), stub: vm.stub.base,
                                start: ckvm_pv_start(rip: c.registers.rip, rsp: c.registers.rsp, rsi: c.registers.rsi,
                                                     rflags: c.registers.rflags, cr3: c.kernelL4 << 12))
        var out = cbaseline_result()
        cbaseline_run(device.fd, &spec, stopAfterFirstExit ? 1 : 0, &out)
        guard out.error == 0 else { throw HypervisorError(errno: -out.error, domain.label, "baseline C loop") }
        guard out.unexpected_exit == 0 else {
            throw HypervisorError(.EIO, domain.label, "baseline C loop", "stopped on KVM exit reason \(out.unexpected_exit)")
        }
        return BaselineMeasurement(createToFirstExitNanos: out.create_to_first_exit_ns, firstHypercallNanos: out.first_hypercall_ns,
                                   shutdownNanos: out.shutdown_ns, hypercalls: out.hypercalls)
    }
}
