// The load plan of a PV guest kernel: what `ELFImage.load` hands the domain builder.
//
// Reading order of this module: ELFImage.swift (the public result and entry points),
// Loader.swift (every check, in the order it runs), XenNotes.swift (note meanings),
// ELFImageError.swift (every refusal and its message), LibELF.swift and FileBytes.swift
// (the only files that touch C: libelf and POSIX file reading).

/// Limits the loader checks an image against.
public struct ELFLimits: Sendable {
    /// Bytes of guest memory the kernel must fit in, counted from `VIRT_BASE`.
    public var memoryBytes: UInt64
    /// Files larger than this are refused before they are read.
    public var maxFileBytes: UInt64 = 256 << 20

    public init(memoryBytes: UInt64, maxFileBytes: UInt64 = 256 << 20) {
        self.memoryBytes = memoryBytes
        self.maxFileBytes = maxFileBytes
    }
}

/// One PT_LOAD segment, placed at its final virtual address.
public struct LoadSegment: Sendable, Equatable {
    /// Index of the segment's program header (the number `readelf -l` shows).
    public let index: Int
    /// Where the segment starts in the guest: `p_paddr + (VIRT_BASE − PADDR_OFFSET)`.
    public let vaddr: UInt64
    /// `p_offset`: where its bytes start in the file.
    public let fileOffset: UInt64
    /// `p_filesz`: bytes copied from the file; the rest up to `memSize` is zero-filled.
    public let fileSize: UInt64
    /// `p_memsz`: bytes the segment occupies in the guest.
    public let memSize: UInt64
    /// `PF_R`, `PF_W`, `PF_X` of `p_flags`.
    public let readable, writable, executable: Bool
    /// The segment's `fileSize` bytes, copied out of the file.
    public let bytes: [UInt8]

    public init(index: Int, vaddr: UInt64, fileOffset: UInt64, fileSize: UInt64, memSize: UInt64,
                readable: Bool, writable: Bool, executable: Bool, bytes: [UInt8]) {
        self.index = index
        self.vaddr = vaddr
        self.fileOffset = fileOffset
        self.fileSize = fileSize
        self.memSize = memSize
        self.readable = readable
        self.writable = writable
        self.executable = executable
        self.bytes = bytes
    }

    /// `[vaddr, vaddr + memSize)`. The loader refuses segments whose end wraps; for a hand-made
    /// segment that wraps, the range stops at `UInt64.max`.
    public var range: Range<UInt64> {
        let end = vaddr.addingReportingOverflow(memSize)
        return vaddr ..< (end.overflow ? UInt64.max : end.partialValue)
    }
}

/// A validated PV kernel image.
public struct ELFImage: Sendable {
    /// The path or name the image was loaded from; every error message starts with it.
    public let name: String
    /// Virtual entry point: the `ENTRY` note, else `e_entry`. Inside some segment.
    public let entry: UInt64
    /// `VIRT_BASE` note, default 0: the VA of guest pseudo-physical address 0.
    public let virtBase: UInt64
    /// `PADDR_OFFSET` note, default 0.
    public let paddrOffset: UInt64
    /// VA range `[kernelStart, kernelEnd)` covering every PT_LOAD segment after the shift.
    public let kernelStart: UInt64, kernelEnd: UInt64
    /// Non-empty PT_LOAD segments in program-header order; their VA ranges do not overlap.
    public let segments: [LoadSegment]
    /// Xen's notes as found in the file.
    public let notes: XenNotes
    /// Size of the ELF file in bytes.
    public let fileSize: UInt64

    /// Reads the file at `path` (at most `limits.maxFileBytes`) and validates it.
    public static func load(path: String, limits: ELFLimits) throws(ELFImageError) -> ELFImage {
        let bytes = try FileBytes.read(path: path, limit: limits.maxFileBytes)
        return try load(bytes: bytes, name: path, limits: limits)
    }

    /// Validates an image already in memory; `name` only labels error messages.
    public static func load(bytes: [UInt8], name: String, limits: ELFLimits) throws(ELFImageError) -> ELFImage {
        try Loader(bytes: bytes, name: name, limits: limits).load()
    }

    init(name: String, entry: UInt64, virtBase: UInt64, paddrOffset: UInt64, kernelStart: UInt64,
         kernelEnd: UInt64, segments: [LoadSegment], notes: XenNotes, fileSize: UInt64) {
        self.name = name
        self.entry = entry
        self.virtBase = virtBase
        self.paddrOffset = paddrOffset
        self.kernelStart = kernelStart
        self.kernelEnd = kernelEnd
        self.segments = segments
        self.notes = notes
        self.fileSize = fileSize
    }
}
