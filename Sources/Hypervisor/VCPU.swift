import Glibc
import HyperABI
import Synchronization

/// One virtual CPU of a domain. Its mutable state belongs to the thread that runs it.
public final class VCPU: @unchecked Sendable {
    public let id: Int
    public unowned let domain: Domain
    /// The state to start in, set by the domain builder through `DomainControl.setVCPUContext`.
    public internal(set) var context = VCPUContext()
    /// The platform asks this at every exit; set by `Domain.destroy` and by shutdown.
    public let stopRequested = Atomic<Bool>(false)
    /// Hypercalls by number (the last bucket counts numbers ≥ 64); written by the vCPU thread only.
    let counters: UnsafeMutablePointer<UInt64>
    /// Exits of every kind taken by this vCPU.
    public let exits = Atomic<UInt64>(0)
    /// Monotonic time of the first hypercall (0 until then), for boot measurements.
    public let firstHypercallNanos = Atomic<UInt64>(0)
    /// Monotonic time the vCPU stopped.
    public let stoppedNanos = Atomic<UInt64>(0)
    /// A page of scratch space for copying guest buffers without allocating.
    let scratch: UnsafeMutableRawBufferPointer

    init(id: Int, domain: Domain) {
        self.id = id
        self.domain = domain
        counters = .allocate(capacity: Hypercall.statisticsBuckets + 1)
        counters.initialize(repeating: 0, count: Hypercall.statisticsBuckets + 1)
        scratch = .allocate(byteCount: 4096, alignment: 64)
    }

    deinit {
        counters.deallocate()
        scratch.deallocate()
    }

    /// The guest's address space as this vCPU sees it.
    @inline(__always) var addressSpace: GuestAddressSpace {
        GuestAddressSpace(memory: domain.memory, l4: context.kernelL4)
    }

    /// Hypercall counts by number, nonzero ones only (the key `nil` collects numbers ≥ 64).
    public var hypercallCounts: [(number: UInt64?, count: UInt64)] {
        var out: [(UInt64?, UInt64)] = []
        for i in 0...Hypercall.statisticsBuckets where counters[i] != 0 {
            out.append((i == Hypercall.statisticsBuckets ? nil : UInt64(i), counters[i]))
        }
        return out
    }

    /// Total hypercalls made.
    public var hypercallTotal: UInt64 {
        (0...Hypercall.statisticsBuckets).reduce(0) { $0 + counters[$1] }
    }
}

/// Monotonic clock in nanoseconds.
@inline(__always) public func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
