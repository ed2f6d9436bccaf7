import CKVM
import Glibc
import HyperABI
import Hypervisor

/// A domain's guest-physical view of machine memory: a host range as large as machine memory in which
/// only the frames the domain may touch are mapped (from the memfd, at GPA = MFN × 4096); the rest
/// stays inaccessible, so a stray access fails in KVM_RUN instead of reaching another domain's memory.
final class GuestWindow: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let size: Int

    /// Reserves the window and maps `frames` read-write and `readOnlyFrames` read-only.
    init(memory: MachineMemory, frames: [UInt64], readOnlyFrames: Range<UInt64>, label: String) throws(HypervisorError) {
        size = memory.byteCount
        guard let p = mmap(nil, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0), p != MAP_FAILED else {
            throw HypervisorError(errno: errno, label, "reserve a \(size >> 20) MiB guest-physical window")
        }
        base = p
        do throws(HypervisorError) {
            if !readOnlyFrames.isEmpty {
                try map(memory, run: readOnlyFrames, prot: PROT_READ, label: label)
            }
            for run in FrameTable.runs(frames) {
                try map(memory, run: run, prot: PROT_READ | PROT_WRITE, label: label)
            }
        } catch {
            munmap(base, size)
            throw error
        }
    }

    deinit { munmap(base, size) }

    /// Maps frames given to the domain after it was built (ballooning in).
    func mapFrames(_ memory: MachineMemory, _ frames: [UInt64], label: String) throws(HypervisorError) {
        for run in FrameTable.runs(frames) { try map(memory, run: run, prot: PROT_READ | PROT_WRITE, label: label) }
    }

    /// Makes frames unreachable again: the guest-physical pages fault in KVM_RUN instead of reaching
    /// memory that is about to belong to someone else (remapping under a live VM is coherent here).
    func unmapFrames(_ frames: [UInt64]) {
        for run in FrameTable.runs(frames) {
            _ = mmap(base + (Int(run.lowerBound) << 12), run.count << 12, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0)
        }
    }

    private func map(_ memory: MachineMemory, run: Range<UInt64>, prot: Int32, label: String) throws(HypervisorError) {
        let offset = Int(run.lowerBound) << 12
        let length = run.count << 12
        let r = mmap(base + offset, length, prot, MAP_SHARED | MAP_FIXED, memory.fd, off_t(offset))
        guard r != MAP_FAILED else {
            throw HypervisorError(errno: errno, label, "map machine frames 0x\(String(run.lowerBound, radix: 16))+\(run.count)")
        }
    }
}

/// An anonymous host mapping holding one VM's copy of the stub region, sized for its vCPUs.
final class StubMemory: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let size: Int

    init(_ template: StubRegion, vcpus: Int, label: String) throws(HypervisorError) {
        size = StubRegion.size(vcpus: vcpus)
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0), p != MAP_FAILED else {
            throw HypervisorError(errno: errno, label, "allocate the stub region")
        }
        base = p
        StubRegion.fill(UnsafeMutableRawBufferPointer(start: base, count: size), template: template.image, vcpus: vcpus)
    }

    deinit { munmap(base, size) }

    /// Writes little-endian words at `offset` (the exception frame the stub will `iretq` through).
    func store(_ words: [UInt64], at offset: Int) {
        precondition(offset >= 0 && offset + words.count * 8 <= size && offset & 7 == 0)
        for (i, w) in words.enumerated() { (base + offset + i * 8).storeBytes(of: w, as: UInt64.self) }
    }

    /// Points the guest part of vCPU `vcpu`'s GDT (14 pages) at `frames`, the rest at the zero page.
    func mapGDT(_ frames: [UInt64], vcpu: Int) {
        for page in 0..<Int(HV_GDT_PAGES) - 1 {
            let gpa = page < frames.count ? frames[page] << 12 : StubRegion.stubGPA + UInt64(HV_OFF_ZERO)
            let entry = gpa | PTE.present | PTE.accessed | PTE.noExecute
            let offset = StubRegion.l1EntryOffset(vcpu: vcpu, voff: Int(HV_VCPU_VOFF_GDT) + page << 12)
            precondition(offset + 8 <= size)
            (base + offset).storeBytes(of: entry, as: UInt64.self)
        }
    }

    /// Reads `count` little-endian words at `offset`.
    func words(at offset: Int, count: Int) -> [UInt64] {
        precondition(offset >= 0 && offset + count * 8 <= size && offset & 7 == 0)
        return (0..<count).map { (base + offset + $0 * 8).load(as: UInt64.self) }
    }
}
