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
    /// baseline), on the calling thread. The C side maps the same machine frames and stub image itself,
    /// as any C VMM would; the domain's own VM is left untouched. Destroy the domain afterwards.
    public func runBaseline(_ domain: Domain, stopAfterFirstExit: Bool = false) throws(HypervisorError) -> BaselineMeasurement {
        var out = cbaseline_result()
        try withBaselineSpec(domain) { spec in cbaseline_run(device.fd, spec, stopAfterFirstExit ? 1 : 0, &out) }
        guard out.error == 0 else { throw HypervisorError(errno: -out.error, domain.label, "baseline C loop") }
        guard out.unexpected_exit == 0 else {
            throw HypervisorError(.EIO, domain.label, "baseline C loop", "stopped on KVM exit reason \(out.unexpected_exit)")
        }
        return BaselineMeasurement(createToFirstExitNanos: out.create_to_first_exit_ns, firstHypercallNanos: out.first_hypercall_ns,
                                   shutdownNanos: out.shutdown_ns, hypercalls: out.hypercalls)
    }

    /// The platform floor for an event round trip: two built, never-started domains whose guests make
    /// hypercalls back to back, run by the C loop in strict alternation (exit, wake the other, sleep).
    /// Returns nanoseconds per round trip.
    public func baselineVMPingPong(_ a: Domain, _ b: Domain, rounds: UInt64) throws(HypervisorError) -> Double {
        var out = cbaseline_pingpong_result()
        try withBaselineSpec(a) { sa in
            try? withBaselineSpec(b) { sb in cbaseline_vm_pingpong(device.fd, sa, sb, rounds, &out) }
        }
        guard out.error == 0, out.round_trips > 0 else { throw HypervisorError(errno: -out.error, a.label, "baseline VM ping-pong") }
        return Double(out.ns) / Double(out.round_trips)
    }

    /// Two host threads ping-ponging over eventfds; nanoseconds per round trip.
    public static func eventfdPingPong(rounds: UInt64) throws(HypervisorError) -> Double {
        var out = cbaseline_pingpong_result()
        cbaseline_eventfd_pingpong(rounds, &out)
        guard out.error == 0 else { throw HypervisorError(errno: -out.error, "host", "eventfd ping-pong") }
        return Double(out.ns) / Double(out.round_trips)
    }

    /// Describes a built domain to the C loops: its frames (the M2P read-only, its own read-write),
    /// the stub image and the first vCPU's start state.
    private func withBaselineSpec(_ domain: Domain, _ body: (UnsafePointer<cbaseline_vm>) throws(HypervisorError) -> Void) throws(HypervisorError) {
        guard let vm = domain.virtualMachine as? KVMVirtualMachine, domain.state == .created else {
            throw HypervisorError(.EINVAL, domain.label, "run under the baseline loop", "needs a built domain that never ran")
        }
        let c = domain.vcpus[0].context
        var runs = [cbaseline_frames(first_mfn: 0, count: UInt64(frames.m2pFrames), writable: 0)]
        for r in FrameTable.runs(domain.p2m + [domain.sharedInfoMFN]) {
            runs.append(cbaseline_frames(first_mfn: r.lowerBound, count: UInt64(r.count), writable: 1))
        }
        var failure: HypervisorError? = nil
        runs.withUnsafeBufferPointer { runs in
            stub.singleVCPUImage.withUnsafeBytes { image in
                var spec = cbaseline_vm(memfd: domain.memory.fd, window_size: UInt64(vm.window.size), runs: runs.baseAddress,
                                        nruns: Int32(runs.count), stub_image: image.baseAddress, stub_size: UInt64(image.count),
                                        start: ckvm_pv_start(rip: c.registers.rip, rsp: c.registers.rsp, rsi: c.registers.rsi,
                                                             rflags: c.registers.rflags, cr3: c.kernelL4 << 12, vcpu: 0),
                                        cpuid: device.cpuid)
                do throws(HypervisorError) { try body(&spec) } catch { failure = error }
            }
        }
        if let failure { throw failure }
    }
}
