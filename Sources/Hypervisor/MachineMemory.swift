import CHost
import Glibc
import HyperABI

/// All machine memory: one memfd whose 4 KiB frames are the MFNs PV guests see.
///
/// This is one of the few types doing raw pointer work: every access is bounds-checked
/// against the frame count here, so callers deal only in MFNs and offsets.
public final class MachineMemory: @unchecked Sendable {
    /// The memfd backing machine memory (mapped again by the platform into each domain's window).
    public let fd: Int32
    /// Total number of frames.
    public let frameCount: Int
    /// Size in bytes.
    public var byteCount: Int { frameCount << 12 }
    // Immutable after init; the mapping lives as long as this object.
    private let base: UnsafeMutableRawPointer

    /// Creates `bytes` of machine memory (rounded down to whole frames). Sparse: untouched frames cost nothing.
    public init(bytes: Int) throws(HypervisorError) {
        let frames = bytes >> 12
        guard frames > 0 else {
            throw HypervisorError(.EINVAL, "machine memory", "create", "size \(bytes) is smaller than one frame")
        }
        let fd = chost_memfd_create("swiftxen-machine-memory")
        guard fd >= 0 else { throw HypervisorError(errno: errno, "machine memory", "memfd_create") }
        guard ftruncate(fd, off_t(frames << 12)) == 0 else {
            let e = errno; close(fd)
            throw HypervisorError(errno: e, "machine memory", "ftruncate to \(frames << 12) bytes")
        }
        let p = mmap(nil, frames << 12, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0)
        guard let p, p != MAP_FAILED else {
            let e = errno; close(fd)
            throw HypervisorError(errno: e, "machine memory", "mmap \(frames << 12) bytes")
        }
        self.fd = fd
        self.frameCount = frames
        self.base = p
    }

    /// Bytes of machine memory the host has really allocated (the memfd's blocks).
    public var allocatedBytes: Int { Int(chost_allocated_bytes(fd)) }

    deinit {
        munmap(base, byteCount)
        close(fd)
    }

    @inline(__always) func isValid(_ mfn: UInt64) -> Bool { mfn < UInt64(frameCount) }

    /// Host pointer to byte `offset` of frame `mfn`; nil when out of range.
    @inline(__always) func pointer(mfn: UInt64, offset: Int = 0) -> UnsafeMutableRawPointer? {
        guard mfn < UInt64(frameCount), offset >= 0, offset < 4096 else { return nil }
        return base + (Int(mfn) << 12) + offset
    }

    /// Reads the 8-byte little-endian word at `offset` (8-aligned) of frame `mfn`.
    @inline(__always) public func readWord(mfn: UInt64, offset: Int) -> UInt64? {
        guard offset & 7 == 0, let p = pointer(mfn: mfn, offset: offset) else { return nil }
        return p.load(as: UInt64.self)
    }

    /// Writes an 8-byte word at `offset` (8-aligned) of frame `mfn`.
    @discardableResult
    @inline(__always) public func writeWord(mfn: UInt64, offset: Int, _ value: UInt64) -> Bool {
        guard offset & 7 == 0, let p = pointer(mfn: mfn, offset: offset) else { return false }
        p.storeBytes(of: value, as: UInt64.self)
        return true
    }

    /// Copies bytes into one frame; refuses a copy that would cross the frame's end.
    @discardableResult
    public func write(mfn: UInt64, offset: Int, bytes: UnsafeRawBufferPointer) -> Bool {
        guard offset >= 0, offset + bytes.count <= 4096, let p = pointer(mfn: mfn) else { return false }
        if let src = bytes.baseAddress, bytes.count > 0 { (p + offset).copyMemory(from: src, byteCount: bytes.count) }
        return true
    }

    /// Copies bytes out of one frame; refuses a copy that would cross the frame's end.
    @discardableResult
    public func read(mfn: UInt64, offset: Int, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard offset >= 0, offset + buffer.count <= 4096, let p = pointer(mfn: mfn) else { return false }
        if let dst = buffer.baseAddress, buffer.count > 0 { dst.copyMemory(from: p + offset, byteCount: buffer.count) }
        return true
    }

    /// Zeroes a whole frame.
    public func zero(mfn: UInt64) {
        guard let p = pointer(mfn: mfn) else { return }
        memset(p, 0, 4096)
    }

    /// Atomically sets bit `bit` of the 8-byte word at `offset` (8-aligned) of frame `mfn`; returns the old bit.
    /// Words shared with a guest (event bitmaps) are updated by the guest with locked instructions too.
    @discardableResult
    @inline(__always) public func testAndSetBit(mfn: UInt64, offset: Int, bit: Int) -> Bool {
        guard offset & 7 == 0, let p = pointer(mfn: mfn, offset: offset) else { return false }
        return chost_test_and_set_bit(p.assumingMemoryBound(to: UInt64.self), UInt32(bit)) != 0
    }

    /// Atomically clears a bit; returns the old bit.
    @discardableResult
    @inline(__always) public func testAndClearBit(mfn: UInt64, offset: Int, bit: Int) -> Bool {
        guard offset & 7 == 0, let p = pointer(mfn: mfn, offset: offset) else { return false }
        return chost_test_and_clear_bit(p.assumingMemoryBound(to: UInt64.self), UInt32(bit)) != 0
    }

    /// Reads a bit with acquire ordering.
    @inline(__always) public func testBit(mfn: UInt64, offset: Int, bit: Int) -> Bool {
        guard offset & 7 == 0, let p = pointer(mfn: mfn, offset: offset) else { return false }
        return chost_test_bit(p.assumingMemoryBound(to: UInt64.self), UInt32(bit)) != 0
    }

    /// Reads a byte with acquire ordering (a guest-written flag such as evtchn_upcall_mask).
    @inline(__always) public func loadByte(mfn: UInt64, offset: Int) -> UInt8 {
        guard let p = pointer(mfn: mfn, offset: offset) else { return 0 }
        return chost_load_u8(p.assumingMemoryBound(to: UInt8.self))
    }

    /// Writes a byte with release ordering.
    @inline(__always) public func storeByte(mfn: UInt64, offset: Int, _ value: UInt8) {
        guard let p = pointer(mfn: mfn, offset: offset) else { return }
        chost_store_u8(p.assumingMemoryBound(to: UInt8.self), value)
    }

    /// Reads the aligned 32-bit word at `offset` of `mfn` (acquire); 0 when out of range.
    @inline(__always) public func loadWord32(mfn: UInt64, offset: Int) -> UInt32 {
        guard offset & 3 == 0, offset <= 4092, let p = pointer(mfn: mfn, offset: offset) else { return 0 }
        return chost_load_u32(p.assumingMemoryBound(to: UInt32.self))
    }

    /// Atomically replaces the aligned 32-bit word at `offset` of `mfn` with `desired` if it still holds
    /// `expected`; returns the value found (equal to `expected` on success). A grant entry's flags and
    /// domid change this way, because the granting guest may change them at the same time.
    @inline(__always) public func compareExchangeWord32(mfn: UInt64, offset: Int, expected: UInt32, desired: UInt32) -> UInt32 {
        guard offset & 3 == 0, offset <= 4092, let p = pointer(mfn: mfn, offset: offset) else { return ~expected }
        var found = expected
        _ = chost_cmpxchg_u32(p.assumingMemoryBound(to: UInt32.self), &found, desired)
        return found
    }

    /// Atomically clears `bits` of the aligned 16-bit word at `offset` of `mfn`.
    @inline(__always) public func clearBits16(mfn: UInt64, offset: Int, _ bits: UInt16) {
        guard offset & 1 == 0, offset <= 4094, let p = pointer(mfn: mfn, offset: offset) else { return }
        _ = chost_fetch_and_u16(p.assumingMemoryBound(to: UInt16.self), ~bits)
    }

    /// Copies `count` bytes between frames (any offsets inside each page).
    public func copy(from source: UInt64, offset sourceOffset: Int, to dest: UInt64, offset destOffset: Int, count: Int) -> Bool {
        guard count >= 0, sourceOffset >= 0, destOffset >= 0, sourceOffset + count <= 4096, destOffset + count <= 4096,
              let s = pointer(mfn: source, offset: sourceOffset), let d = pointer(mfn: dest, offset: destOffset) else { return false }
        d.copyMemory(from: s, byteCount: count)
        return true
    }

    /// Gives frames' memory back to the host (the memfd blocks are deallocated; the frames read as zero).
    public func release(_ frames: Range<UInt64>) {
        guard !frames.isEmpty, frames.upperBound <= UInt64(frameCount) else { return }
        _ = chost_punch_hole(fd, Int64(frames.lowerBound << 12), Int64(frames.count << 12))
    }
}
