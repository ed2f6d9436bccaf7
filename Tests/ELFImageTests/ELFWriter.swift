// A tiny ELF64 writer for tests: builds files in memory so each test can break exactly one thing.

/// An ELF64 little-endian file described field by field; `build()` lays it out.
struct ELFWriter {
    /// One program header and the bytes it points at.
    struct Segment {
        var type: UInt32 = 1            // PT_LOAD
        var flags: UInt32 = 0b101       // PF_R | PF_X
        var paddr: UInt64 = 0
        var vaddr: UInt64? = nil        // default: paddr
        var memSize: UInt64? = nil      // default: payload size
        var fileSize: UInt64? = nil     // default: payload size
        var offset: UInt64? = nil       // default: where build() puts the payload
        var align: UInt64 = 4
        var payload: [UInt8] = []
    }

    /// One section header (after the null section) and its bytes.
    struct Section {
        var type: UInt32 = 7            // SHT_NOTE
        var flags: UInt64 = 0x2         // SHF_ALLOC
        var align: UInt64 = 4
        var offset: UInt64? = nil
        var size: UInt64? = nil
        var payload: [UInt8] = []
    }

    var elfClass: UInt8 = 2             // ELFCLASS64
    var byteOrder: UInt8 = 1            // ELFDATA2LSB
    var identVersion: UInt8 = 1
    var type: UInt16 = 2                // ET_EXEC
    var machine: UInt16 = 62            // EM_X86_64
    var version: UInt32 = 1
    var entry: UInt64 = 0
    var programHeaderEntrySize: UInt16 = 56
    var programHeaderOffset: UInt64? = nil
    var programHeaderCount: UInt16? = nil
    var sectionHeaderOffset: UInt64? = nil
    var sectionHeaderCount: UInt16? = nil
    var segments: [Segment] = []
    var sections: [Section] = []

    func build() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 64 + 56 * segments.count)
        var payloadOffsets: [Int] = []
        for segment in segments {
            out.pad(to: 16)
            payloadOffsets.append(out.count)
            out += segment.payload
        }
        var sectionOffsets: [Int] = []
        for section in sections {
            out.pad(to: 16)
            sectionOffsets.append(out.count)
            out += section.payload
        }
        var tableOffset = 0
        if !sections.isEmpty {
            out.pad(to: 16)
            tableOffset = out.count
            out += [UInt8](repeating: 0, count: 64 * (sections.count + 1))
            for (i, section) in sections.enumerated() {
                let at = tableOffset + 64 * (i + 1)
                out.put(UInt32(0), at: at)                                   // sh_name
                out.put(section.type, at: at + 4)
                out.put(section.flags, at: at + 8)
                out.put(section.offset ?? UInt64(sectionOffsets[i]), at: at + 24)
                out.put(section.size ?? UInt64(section.payload.count), at: at + 32)
                out.put(section.align, at: at + 48)
            }
        }

        out.replaceSubrange(0 ..< 4, with: [0x7f, 0x45, 0x4c, 0x46])
        out[4] = elfClass
        out[5] = byteOrder
        out[6] = identVersion
        out.put(type, at: 16)
        out.put(machine, at: 18)
        out.put(version, at: 20)
        out.put(entry, at: 24)
        out.put(programHeaderOffset ?? (segments.isEmpty ? 0 : 64), at: 32)
        out.put(sectionHeaderOffset ?? UInt64(tableOffset), at: 40)
        out.put(UInt16(64), at: 52)                                          // e_ehsize
        out.put(programHeaderEntrySize, at: 54)
        out.put(programHeaderCount ?? UInt16(segments.count), at: 56)
        out.put(UInt16(64), at: 58)                                          // e_shentsize
        out.put(sectionHeaderCount ?? UInt16(sections.isEmpty ? 0 : sections.count + 1), at: 60)

        for (i, segment) in segments.enumerated() {
            let at = 64 + 56 * i
            let size = UInt64(segment.payload.count)
            out.put(segment.type, at: at)
            out.put(segment.flags, at: at + 4)
            out.put(segment.offset ?? UInt64(payloadOffsets[i]), at: at + 8)
            out.put(segment.vaddr ?? segment.paddr, at: at + 16)
            out.put(segment.paddr, at: at + 24)
            out.put(segment.fileSize ?? size, at: at + 32)
            out.put(segment.memSize ?? size, at: at + 40)
            out.put(segment.align, at: at + 48)
        }
        return out
    }
}

/// ELF note records.
enum Note {
    /// One note: header, name padded to `align`, descriptor padded to `align`.
    static func make(name: [UInt8] = Array("Xen\0".utf8), type: UInt32, _ descriptor: [UInt8],
                     nameSize: UInt32? = nil, descSize: UInt32? = nil, align: Int = 4) -> [UInt8] {
        var out: [UInt8] = []
        out.appendLittleEndian(nameSize ?? UInt32(name.count))
        out.appendLittleEndian(descSize ?? UInt32(descriptor.count))
        out.appendLittleEndian(type)
        out += name
        out.pad(to: align)
        out += descriptor
        out.pad(to: align)
        return out
    }

    static func xen(_ type: UInt32, _ descriptor: [UInt8]) -> [UInt8] { make(type: type, descriptor) }
    static func u64(_ value: UInt64) -> [UInt8] { var out: [UInt8] = []; out.appendLittleEndian(value); return out }
    static func u32(_ value: UInt32) -> [UInt8] { var out: [UInt8] = []; out.appendLittleEndian(value); return out }
    static func text(_ string: String) -> [UInt8] { Array(string.utf8) + [0] }
}

extension Array where Element == UInt8 {
    mutating func pad(to alignment: Int) {
        while count % alignment != 0 { append(UInt8(0)) }
    }

    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    mutating func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        Swift.withUnsafeBytes(of: value.littleEndian) { replaceSubrange(offset ..< offset + $0.count, with: $0) }
    }
}

/// SHF_COMPRESSED section contents.
enum Compressed {
    static let flags: UInt64 = 0x800         // SHF_COMPRESSED (never with SHF_ALLOC)

    /// Elf64_Chdr: ch_type ELFCOMPRESS_ZLIB, ch_size, ch_addralign 4; then the zlib stream.
    static func section(size: UInt64, stream: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.appendLittleEndian(UInt32(1))
        out.appendLittleEndian(UInt32(0))
        out.appendLittleEndian(size)
        out.appendLittleEndian(UInt64(4))
        return out + stream
    }

    /// `Fixture.miniOSNotes()` (96 bytes) deflated by zlib.
    static let miniOSNotes: [UInt8] = [
        0x78, 0xda, 0x63, 0x61, 0x60, 0x60, 0xe0, 0x00, 0x62, 0x36, 0x20, 0x8e, 0x48, 0xcd, 0x63, 0xf0,
        0xcd, 0xcc, 0xcb, 0xd4, 0xf5, 0x0f, 0x66, 0x60, 0x81, 0x8a, 0x73, 0x40, 0xc5, 0xd3, 0x53, 0xf3,
        0x52, 0x8b, 0x32, 0x93, 0xe1, 0xe2, 0x4c, 0x50, 0x71, 0x06, 0x01, 0x06, 0x30, 0x80, 0x89, 0xb3,
        0x42, 0xc5, 0x2b, 0x52, 0xf3, 0x74, 0x8d, 0xf5, 0x0c, 0x18, 0x00, 0x46, 0x98, 0x0c, 0x44,
    ]
}
