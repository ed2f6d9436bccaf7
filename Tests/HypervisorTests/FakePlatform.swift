import Foundation
import HyperABI
import Testing
@testable import Hypervisor
import Synchronization

/// A platform that runs nothing: tests drive the core by calling its exit handlers directly.
final class FakePlatform: Platform {
    let name = "fake"
    let machphysVirtualAddress: UInt64 = PVLayout.machphysVirtStart
    let created = Atomic<Int>(0)
    func hypervisorL4Entries() -> [(slot: Int, entry: UInt64)] { [(257, 0xdead_b000 | 0x27)] }
    func createVM(for domain: Domain) throws(HypervisorError) -> any VirtualMachine {
        created.add(1, ordering: .relaxed)
        return FakeVM()
    }
}

final class FakeVM: VirtualMachine, @unchecked Sendable {
    var started: [Int] = []
    var kicks = 0
    var destroyed = false
    let systemTimeOffset: Int64 = 1_000_000
    func start(_ vcpu: VCPU) throws(HypervisorError) { started.append(vcpu.id) }
    func kick(_ vcpu: VCPU) { kicks += 1 }
    func destroy() { destroyed = true }
    var mapped: [UInt64] = []
    var unmapped: [UInt64] = []
    func mapFrames(_ mfns: [UInt64]) throws(HypervisorError) { mapped += mfns }
    func unmapFrames(_ mfns: [UInt64]) { unmapped += mfns }
}

/// A hypervisor on the fake platform with a small machine memory.
func makeHypervisor(bytes: Int = 16 << 20) throws -> Hypervisor {
    let memory = try MachineMemory(bytes: bytes)
    return try Hypervisor(memory: memory) { (_: FrameTable) throws(HypervisorError) -> any Platform in FakePlatform() }
}

/// A domain whose pfn 0–3 are an L4/L3/L2/L1 chain mapping `pages` pages at VA 0x400000 onto pfn 4…,
/// user-accessible; `readOnly` pages (indexes) are mapped without RW, and the page tables themselves are unmapped.
struct TinyGuest {
    static let base: UInt64 = 0x40_0000
    let hypervisor: Hypervisor
    let domain: Domain

    init(pages: Int = 8, readOnly: Set<Int> = [], supervisor: Set<Int> = [], hypervisor: Hypervisor? = nil,
         emulatePrivileged: Bool = false, vcpus: Int = 1, up: Bool = true) throws {
        let hv = try hypervisor ?? makeHypervisor()
        let control = hv.control
        let d = try control.createDomain(name: "tiny", pages: 4 + pages, vcpus: vcpus, emulatePrivileged: emulatePrivileged)
        let link: UInt64 = 0x27  // P | RW | U | A
        func put(_ pfn: Int, _ index: Int, _ value: UInt64) throws {
            var v = value
            try withUnsafeBytes(of: &v) { try control.write(d, pfn: pfn, offset: index * 8, bytes: $0) }
        }
        try put(0, 0, d.p2m[1] << 12 | link)
        try put(1, 0, d.p2m[2] << 12 | link)
        try put(2, 2, d.p2m[3] << 12 | link)          // VA 0x400000 is L2 index 2
        for i in 0..<pages {
            var flags: UInt64 = 0x25                   // P | U | A
            if !readOnly.contains(i) { flags |= 0x2 }
            if supervisor.contains(i) { flags &= ~0x4 }
            try put(3, i, d.p2m[4 + i] << 12 | flags)
        }
        var context = VCPUContext()
        context.kernelL4 = d.p2m[0]
        context.registers.rip = TinyGuest.base
        try control.setVCPUContext(d, vcpu: 0, context)
        // Tests drive vCPU 0's hypercalls as if it ran (the fake platform runs nothing): it is up.
        if up { d.vcpus[0].down.store(false, ordering: .relaxed) }
        self.hypervisor = hv
        self.domain = d
    }

    var vcpu: VCPU { domain.vcpus[0] }

    func va(page: Int, offset: Int = 0) -> UInt64 { TinyGuest.base + UInt64(page * 4096 + offset) }

    /// Writes guest memory at a mapped VA (through Dom0's view of the page).
    func poke(page: Int, offset: Int = 0, _ bytes: [UInt8]) throws {
        try hypervisor.control.write(domain, pfn: 4 + page, offset: offset, bytes: bytes)
    }

    func peek(page: Int, offset: Int = 0, count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { try hypervisor.control.read(domain, pfn: 4 + page, offset: offset, into: $0) }
        return out
    }

    /// Writes little-endian words at a mapped VA.
    func pokeWords(page: Int, offset: Int = 0, _ words: [UInt64]) throws {
        var bytes: [UInt8] = []
        for w in words { for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: w >> (8 * UInt64(i)))) } }
        try poke(page: page, offset: offset, bytes)
    }

    func peekWords(page: Int, offset: Int = 0, count: Int) throws -> [UInt64] {
        let b = try peek(page: page, offset: offset, count: count * 8)
        return (0..<count).map { i in (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[i * 8 + $1]) << (8 * UInt64($1)) } }
    }

    /// Registers trap_info entries (vector, flags, handler) with set_trap_table, using page `scratch`.
    func setTraps(_ entries: [(UInt8, UInt8, UInt64)], scratch: Int = 7) throws {
        var bytes: [UInt8] = []
        for (v, f, a) in entries + [(0, 0, 0)] {
            var e = [UInt8](repeating: 0, count: 16)
            e[0] = v; e[1] = f; e[2] = 0x33; e[3] = 0xe0
            for i in 0..<8 { e[8 + i] = UInt8(truncatingIfNeeded: a >> (8 * UInt64(i))) }
            bytes += e
        }
        try poke(page: scratch, bytes)
        #expect(call(0, va(page: scratch)).rax == 0)
    }

    /// The vcpu_info byte at `offset` (in shared_info until moved).
    func vcpuInfoByte(_ offset: Int) -> UInt8 {
        let v = vcpu.vcpuInfo
        return domain.memory.loadByte(mfn: v.mfn, offset: v.offset + offset)
    }

    /// Issues hypercall `nr` as the guest would: arguments in rdi rsi rdx, return address in rcx, flags in r11.
    @discardableResult
    func call(_ nr: UInt64, _ a1: UInt64 = 0, _ a2: UInt64 = 0, _ a3: UInt64 = 0, _ a4: UInt64 = 0, rsp: UInt64 = 0,
              on caller: VCPU? = nil) -> (rax: UInt64, action: VCPUAction, regs: CPURegisters) {
        var r = CPURegisters()
        r.rax = nr; r.rdi = a1; r.rsi = a2; r.rdx = a3; r.r10 = a4
        r.rcx = 0x40_1234; r.r11 = 0x246; r.rsp = rsp
        let action = domain.hypercall(caller ?? vcpu, &r)
        return (r.rax, action, r)
    }
}

/// -errno as the 64-bit value a hypercall returns.
func neg(_ e: Int64) -> UInt64 { UInt64(bitPattern: -e) }

extension TinyGuest {
    /// The little-endian 32-bit word at `offset` of mapped page `page` (ring indices the test plays with).
    func word32(page: Int, at offset: Int) throws -> UInt32 {
        let b = try peek(page: page, offset: offset, count: 4)
        return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
    }

    func setWord32(page: Int, at offset: Int, _ v: UInt32) throws {
        try poke(page: page, offset: offset, [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)])
    }
}

/// Polls `condition` (another thread is expected to make it true) for up to `seconds`.
func eventually(_ seconds: Double = 5, _ condition: () throws -> Bool) rethrows -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end { if try condition() { return true }; usleep(2000) }
    return try condition()
}
