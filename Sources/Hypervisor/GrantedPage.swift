import HyperABI

/// A guest page Dom0 holds through one of the guest's grants, pinned exactly as a guest's mapping would be
/// (GTF_reading/GTF_writing set, the frame held, writable only if the grant allows). Every access is
/// bounds-checked here; the pin goes when the object does.
public final class GrantedPage: @unchecked Sendable {
    public let readonly: Bool
    let memory: MachineMemory
    let mfn: UInt64
    private let granter: Domain
    private let ref: UInt32

    init(granter: Domain, ref: UInt32, readonly: Bool) throws(GrantStatus) {
        self.mfn = try granter.pinGrant(ref, mapper: DomainID.dom0, readonly: readonly)
        self.granter = granter
        self.ref = ref
        self.readonly = readonly
        self.memory = granter.memory
    }

    deinit { granter.unpinGrant(ref, mfn: mfn, readonly: readonly) }

    /// The 32-bit word at `offset` (4-aligned, inside the page), read with acquire ordering.
    public func load32(at offset: Int) -> UInt32 {
        precondition(offset >= 0 && offset <= 4092 && offset & 3 == 0)
        return memory.loadWord32(mfn: mfn, offset: offset)
    }

    /// Stores a 32-bit word (release ordering: what was written before is visible first).
    public func store32(_ value: UInt32, at offset: Int) {
        precondition(!readonly && offset >= 0 && offset <= 4092 && offset & 3 == 0)
        chost_fence_sync()
        _ = withUnsafeBytes(of: value.littleEndian) { memory.write(mfn: mfn, offset: offset, bytes: $0) }
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
        _ = memory.write(mfn: mfn, offset: offset, bytes: bytes)
    }
}

extension DomainControl {
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
