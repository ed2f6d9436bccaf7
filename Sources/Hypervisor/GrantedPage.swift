import HyperABI
import Synchronization

/// A guest page Dom0 holds through one of the guest's grants, pinned exactly as a guest's mapping would be
/// (GTF_reading/GTF_writing set, the frame held, writable only if the grant allows). Every access is
/// bounds-checked here; the pin goes when the object does.
public final class GrantedPage: @unchecked Sendable {
    public let readonly: Bool
    let memory: MachineMemory
    let mfn: UInt64
    private let granter: Domain
    private let ref: UInt32
    private let pinned = Atomic<Bool>(true)

    init(granter: Domain, ref: UInt32, readonly: Bool) throws(GrantStatus) {
        self.mfn = try granter.pinGrant(ref, mapper: DomainID.dom0, readonly: readonly)
        self.granter = granter
        self.ref = ref
        self.readonly = readonly
        self.memory = granter.memory
    }

    deinit { unmap() }

    /// Gives the page back now (idempotent); the holder must not touch it afterwards (writes are dropped).
    public func unmap() {
        if pinned.exchange(false, ordering: .acquiringAndReleasing) { granter.unpinGrant(ref, mfn: mfn, readonly: readonly) }
    }

    /// Whether the page is still held.
    public var isMapped: Bool { pinned.load(ordering: .acquiring) }

    /// The 32-bit word at `offset` (4-aligned, inside the page), read with acquire ordering.
    public func load32(at offset: Int) -> UInt32 {
        precondition(offset >= 0 && offset <= 4092 && offset & 3 == 0)
        return memory.loadWord32(mfn: mfn, offset: offset)
    }

    /// Stores a 32-bit word (release ordering: what was written before is visible first).
    public func store32(_ value: UInt32, at offset: Int) {
        precondition(!readonly && offset >= 0 && offset <= 4092 && offset & 3 == 0)
        guard isMapped else { return }
        chost_fence_sync()
        _ = withUnsafeBytes(of: value.littleEndian) { memory.write(mfn: mfn, offset: offset, bytes: $0) }
    }

    /// The address of bytes [offset, offset + count) of the page, for one vectored I/O system call straight
    /// into or out of guest memory (a back-end's data path). Valid only while this page is held; nil when
    /// out of range, already given back, or `forWriting` a read-only grant.
    public func address(at offset: Int, count: Int, forWriting: Bool) -> UnsafeMutableRawPointer? {
        guard offset >= 0, count >= 0, offset + count <= 4096, isMapped, !(forWriting && readonly) else { return nil }
        return memory.pointer(mfn: mfn, offset: offset)
    }

    /// Copies `buffer.count` bytes out of a byte ring of `size` (a power of two) at page offset `base`,
    /// starting at free-running index `index` (in one or two pieces, across the ring's end).
    public func readRing(base: Int, size: Int, index: UInt32, into buffer: UnsafeMutableRawBufferPointer) {
        precondition(size > 0 && size & (size - 1) == 0 && buffer.count <= size && base >= 0 && base + size <= 4096)
        var done = 0
        while done < buffer.count {
            let at = Int((index &+ UInt32(done)) & UInt32(size - 1))
            let n = min(buffer.count - done, size - at)
            read(at: base + at, into: UnsafeMutableRawBufferPointer(rebasing: buffer[done..<done + n]))
            done += n
        }
    }

    /// Copies bytes into a byte ring of `size` at page offset `base`, starting at free-running index `index`.
    public func writeRing(base: Int, size: Int, index: UInt32, bytes: UnsafeRawBufferPointer) {
        precondition(size > 0 && size & (size - 1) == 0 && bytes.count <= size && base >= 0 && base + size <= 4096)
        var done = 0
        while done < bytes.count {
            let at = Int((index &+ UInt32(done)) & UInt32(size - 1))
            let n = min(bytes.count - done, size - at)
            write(at: base + at, bytes: UnsafeRawBufferPointer(rebasing: bytes[done..<done + n]))
            done += n
        }
    }

    /// A full memory barrier between this side's stores and its next loads (ring.h's mb()).
    public func fullBarrier() { chost_fence_sync() }

    /// Copies `buffer.count` bytes at `offset` out of the page (one fetch: callers validate the copy).
    public func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) {
        precondition(offset >= 0 && offset + buffer.count <= 4096)
        _ = memory.read(mfn: mfn, offset: offset, into: buffer)
    }

    /// Copies bytes into the page at `offset`.
    public func write(at offset: Int, bytes: UnsafeRawBufferPointer) {
        precondition(!readonly && offset >= 0 && offset + bytes.count <= 4096)
        guard isMapped else { return }
        _ = memory.write(mfn: mfn, offset: offset, bytes: bytes)
    }
}

extension DomainControl {
    /// Writes grant entry `ref` of `domain` for its page `pfn`, granted to `grantee` (what Xen's toolstack
    /// does for the reserved refs 0, the console, and 1, the store): the table is created if need be.
    public func seedGrant(_ domain: Domain, ref: UInt32, pfn: Int, to grantee: UInt16, readonly: Bool = false) throws(HypervisorError) {
        guard ref < UInt32(GrantLayout.reservedEntries), let mfn = domain.mfn(forPFN: pfn) else {
            throw HypervisorError(.EINVAL, domain.label, "seed grant \(ref)", "not a reserved ref, or pfn \(pfn) not populated")
        }
        do throws(GrantStatus) { try domain.growGrantTable(to: GrantLayout.initialFrames) } catch {
            throw HypervisorError(.ENOMEM, domain.label, "create the grant table", "GNTST_\(error.xenName)")
        }
        let table = domain.grants.withLock { $0.frames[0] }
        let flags = GrantLayout.permitAccess | (readonly ? GrantLayout.readonly : 0)
        _ = domain.memory.writeWord(mfn: table, offset: Int(ref) * GrantLayout.entrySize,
                                    UInt64(flags) | UInt64(grantee) << 16 | mfn << 32)
    }

    /// Runs `body` when `domain` is being released, before its frames go back (Dom0's services let go of
    /// the pages they hold then, so nothing outlives the domain).
    public func onRelease(_ domain: Domain, _ body: @escaping @Sendable () -> Void) {
        domain.releaseHooks.withLock { $0.append(body) }
    }

    /// Dom0 maps grant `ref` of `domain` (granted to domain 0) under the same rules as a guest's
    /// GNTTABOP_map_grant_ref; the mapping ends when the returned page is released.
    public func mapGrant(_ domain: Domain, ref: UInt32, readonly: Bool) throws(HypervisorError) -> GrantedPage {
        do { return try GrantedPage(granter: domain, ref: ref, readonly: readonly) } catch {
            throw HypervisorError(.EINVAL, domain.label, "map grant \(ref)", "GNTST_\(error.xenName)")
        }
    }

    /// Dom0's GNTTABOP_copy from grant `ref` of `domain`: `buffer.count` bytes at `offset`.
    public func copyFromGrant(_ domain: Domain, ref: UInt32, offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(HypervisorError) {
        guard offset >= 0, offset + buffer.count <= 4096 else {
            throw HypervisorError(.EINVAL, domain.label, "copy from grant \(ref)", "GNTST_bad_copy_arg")
        }
        try mapGrant(domain, ref: ref, readonly: true).read(at: offset, into: buffer)
    }

    /// Dom0's GNTTABOP_copy into grant `ref` of `domain` (which must be writable).
    public func copyToGrant(_ domain: Domain, ref: UInt32, offset: Int, bytes: UnsafeRawBufferPointer) throws(HypervisorError) {
        guard offset >= 0, offset + bytes.count <= 4096 else {
            throw HypervisorError(.EINVAL, domain.label, "copy to grant \(ref)", "GNTST_bad_copy_arg")
        }
        try mapGrant(domain, ref: ref, readonly: false).write(at: offset, bytes: bytes)
    }
}
