import HyperABI

/// Guest-linear pointers as hypercall arguments: translated through the guest's own page tables,
/// page by page, with the access rights the guest itself has at CPL 3.
///
/// PV guests are untranslated: page-table entries hold machine frame numbers, so the walk reads
/// machine memory directly. The hypervisor's hole (L4 slots 256–271) and non-canonical addresses
/// are never valid buffers, as in Xen's `access_ok`.
public struct GuestAddressSpace {
    public let memory: MachineMemory
    /// Machine frame of the L4 in use (the vCPU's CR3).
    public let l4: UInt64

    public init(memory: MachineMemory, l4: UInt64) {
        self.memory = memory
        self.l4 = l4
    }

    /// Why a translation failed (all reported to the guest as -EFAULT).
    public enum Fault: Error, Equatable {
        case nonCanonical
        case hypervisorRange
        case notPresent(level: Int)
        case notUser(level: Int)
        case readOnly(level: Int)
        case badFrame
    }

    /// Machine frame and offset behind `va`, for a read or (if `write`) a write by the guest kernel.
    @inline(__always)
    public func translate(_ va: UInt64, write: Bool) -> Result<(mfn: UInt64, offset: Int), Fault> {
        guard PVLayout.isCanonical(va) else { return .failure(.nonCanonical) }
        if va >= PVLayout.hypervisorVirtStart && va < PVLayout.hypervisorVirtEnd { return .failure(.hypervisorRange) }
        var table = l4
        var level = 4
        while true {
            let shift = UInt64(12 + 9 * (level - 1))
            let index = Int((va >> shift) & 511)
            guard let entry = memory.readWord(mfn: table, offset: index * 8) else { return .failure(.badFrame) }
            if entry & PTE.present == 0 { return .failure(.notPresent(level: level)) }
            if entry & PTE.user == 0 { return .failure(.notUser(level: level)) }
            if write && entry & PTE.writable == 0 { return .failure(.readOnly(level: level)) }
            let frame = (entry & PTE.addressMask) >> 12
            if level == 1 || (level <= 3 && entry & PTE.pageSize != 0) {
                // A large page at level 2 or 3 maps 2 MiB or 1 GiB of consecutive frames.
                let within = va & ((1 << shift) - 1)
                let mfn = frame + (within >> 12)
                guard memory.isValid(mfn) else { return .failure(.badFrame) }
                return .success((mfn, Int(va & 4095)))
            }
            table = frame
            level -= 1
        }
    }

    /// Copies `buffer.count` bytes from guest address `va`; throws -EFAULT on any untranslatable page.
    public func copyFromGuest(_ va: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(XenErrno) {
        var done = 0
        while done < buffer.count {
            let (address, overflow) = va.addingReportingOverflow(UInt64(done))
            guard !overflow, case .success(let t) = translate(address, write: false) else { throw .EFAULT }
            let n = min(buffer.count - done, 4096 - t.offset)
            memory.read(mfn: t.mfn, offset: t.offset, into: UnsafeMutableRawBufferPointer(rebasing: buffer[done..<done + n]))
            done += n
        }
    }

    /// Copies `bytes` to guest address `va`; throws -EFAULT on any untranslatable or read-only page.
    /// Every page is checked before any byte is written, so a failed copy changes nothing.
    public func copyToGuest(_ va: UInt64, from bytes: UnsafeRawBufferPointer) throws(XenErrno) {
        try checkWritable(va, count: bytes.count)
        var done = 0
        while done < bytes.count {
            guard case .success(let t) = translate(va &+ UInt64(done), write: true) else { throw .EFAULT }
            let n = min(bytes.count - done, 4096 - t.offset)
            memory.write(mfn: t.mfn, offset: t.offset, bytes: UnsafeRawBufferPointer(rebasing: bytes[done..<done + n]))
            done += n
        }
    }

    /// Copies an array to guest address `va`.
    public func copyToGuest(_ va: UInt64, bytes: [UInt8]) throws(XenErrno) {
        let failure = bytes.withUnsafeBytes { raw -> XenErrno? in
            do throws(XenErrno) { try copyToGuest(va, from: raw); return nil } catch { return error }
        }
        if let failure { throw failure }
    }

    /// Checks that `[va, va+count)` is writable by the guest, page by page.
    public func checkWritable(_ va: UInt64, count: Int) throws(XenErrno) {
        guard count > 0 else { return }
        let (last, overflow) = va.addingReportingOverflow(UInt64(count - 1))
        guard !overflow else { throw .EFAULT }
        var page = va & ~4095
        while true {
            guard case .success = translate(max(page, va), write: true) else { throw .EFAULT }
            if page >= last & ~4095 { break }
            page += 4096
        }
    }

    /// Writes a little-endian integer to guest memory.
    public func store<T: FixedWidthInteger>(_ value: T, at va: UInt64) throws(XenErrno) {
        var v = value.littleEndian
        try withUnsafeBytes(of: &v) { (raw) throws(XenErrno) in try copyToGuest(va, from: raw) }
    }

    /// Reads a little-endian integer from guest memory.
    public func load<T: FixedWidthInteger>(_: T.Type, at va: UInt64) throws(XenErrno) -> T {
        var v = T.zero
        try withUnsafeMutableBytes(of: &v) { (raw) throws(XenErrno) in try copyFromGuest(va, into: raw) }
        return T(littleEndian: v)
    }

    /// Writes `text` as a NUL-padded fixed-size char array of `size` bytes (truncated to leave a NUL).
    public func storeString(_ text: String, size: Int, at va: UInt64) throws(XenErrno) {
        var bytes = [UInt8](repeating: 0, count: size)
        for (i, b) in text.utf8.prefix(size - 1).enumerated() { bytes[i] = b }
        try copyToGuest(va, bytes: bytes)
    }
}
