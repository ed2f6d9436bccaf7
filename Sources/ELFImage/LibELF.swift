import CLibELF

// The only file that calls libelf. Every unsafe pointer in this module lives here, each with the
// reason it is sound beside it.

/// libelf refuses every call until told which ELF version the caller speaks; Swift runs this once.
private let libelfReady: Bool = elf_version(UInt32(EV_CURRENT)) != UInt32(EV_NONE)

/// A note as found in the file, before Xen's meaning is given to it.
struct RawNote {
    /// File offset of the note header.
    let fileOffset: UInt64
    let type: UInt32
    let name: [UInt8]
    let descriptor: [UInt8]

    /// Xen's notes are named "Xen" (n_namesz 4, with the NUL; 3 without it is tolerated).
    var isXen: Bool { name == [0x58, 0x65, 0x6e, 0] || name == [0x58, 0x65, 0x6e] }
}

/// An ELF file parsed by libelf from a private in-memory copy; owns the copy and the `Elf *`.
final class LibELFFile {
    /// More notes than this in one area is hostile; real kernels have a few dozen.
    static let maxNotes = 4096
    /// Largest inflated size accepted for a compressed note section (a zip bomb guard).
    static let maxCompressedNoteBytes: UInt64 = 1 << 20

    private let name: String
    private let image: UnsafeMutableRawBufferPointer
    private let elf: OpaquePointer

    init(bytes: [UInt8], name: String) throws(ELFImageError) {
        self.name = name
        guard libelfReady else { throw Self.failure(name, "elf_version") }
        // libelf reads from (and may convert in place) the image for as long as the Elf lives,
        // so it gets its own copy, freed in deinit after elf_end.
        let image = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        bytes.withUnsafeBytes { image.copyMemory(from: $0) }
        // The pointer and count describe `image`, which is live and at least `bytes.count` long.
        guard let base = image.baseAddress,
              let elf = elf_memory(base.assumingMemoryBound(to: CChar.self), bytes.count) else {
            let error = Self.failure(name, "elf_memory")
            image.deallocate()
            throw error
        }
        self.image = image
        self.elf = elf
    }

    deinit {
        elf_end(elf)
        image.deallocate()
    }

    var isELF: Bool { elf_kind(elf) == ELF_K_ELF }

    func header() throws(ELFImageError) -> GElf_Ehdr {
        var header = GElf_Ehdr()
        guard gelf_getehdr(elf, &header) != nil else { throw Self.failure(name, "gelf_getehdr") }
        return header
    }

    func programHeader(_ index: Int) throws(ELFImageError) -> GElf_Phdr {
        var header = GElf_Phdr()
        guard let index = Int32(exactly: index), gelf_getphdr(elf, index, &header) != nil else {
            throw Self.failure(name, "gelf_getphdr")
        }
        return header
    }

    /// Headers of every SHT_NOTE section, with their section indices.
    func noteSections() throws(ELFImageError) -> [(index: Int, header: GElf_Shdr)] {
        var result: [(index: Int, header: GElf_Shdr)] = []
        var section: OpaquePointer? = nil
        while let next = elf_nextscn(elf, section) {
            section = next
            var header = GElf_Shdr()
            guard gelf_getshdr(next, &header) != nil else { throw Self.failure(name, "gelf_getshdr") }
            if header.sh_type == UInt32(SHT_NOTE) { result.append((elf_ndxscn(next), header)) }
        }
        return result
    }

    /// Notes of the PT_NOTE segment `index`, whose file range the caller has bounds-checked.
    func notes(segment index: Int, offset: UInt64, size: UInt64, align: UInt64) throws(ELFImageError) -> [RawNote] {
        guard size > 0 else { return [] }
        guard let start = Int64(exactly: offset), let count = Int(exactly: size) else {
            throw Self.failure(name, "elf_getdata_rawchunk")
        }
        let type = align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR
        guard let data = elf_getdata_rawchunk(elf, start, count, type) else {
            throw Self.failure(name, "elf_getdata_rawchunk")
        }
        return try walk(data, base: offset, location: .segment(index))
    }

    /// Notes of SHT_NOTE section `index`, whose file range the caller has bounds-checked.
    /// An SHF_COMPRESSED section is inflated first, if its stated size is sane.
    func notes(section index: Int, header: GElf_Shdr) throws(ELFImageError) -> [RawNote] {
        guard let section = elf_getscn(elf, index) else { throw Self.failure(name, "elf_getscn") }
        if header.sh_flags & UInt64(SHF_COMPRESSED) != 0 {
            var compression = GElf_Chdr()
            guard gelf_getchdr(section, &compression) != nil else { throw Self.failure(name, "gelf_getchdr") }
            guard compression.ch_size <= Self.maxCompressedNoteBytes else {
                throw .badNote(file: name, location: .section(index), offset: header.sh_offset,
                               problem: .compressedTooLarge(size: compression.ch_size, limit: Self.maxCompressedNoteBytes))
            }
            guard elf_compress(section, 0, 0) == 1 else { throw Self.failure(name, "elf_compress") }
        }
        guard let data = elf_getdata(section, nil) else { throw Self.failure(name, "elf_getdata") }
        return try walk(data, base: header.sh_offset, location: .section(index))
    }

    /// Every note in a note area, via gelf_getnote; a malformed one is diagnosed precisely.
    private func walk(_ data: UnsafeMutablePointer<Elf_Data>, base: UInt64,
                      location: ELFImageError.NoteLocation) throws(ELFImageError) -> [RawNote] {
        guard let buffer = data.pointee.d_buf, data.pointee.d_size > 0 else { return [] }
        // libelf owns d_buf for d_size bytes until elf_end, which runs only in deinit.
        let area = UnsafeRawBufferPointer(start: buffer, count: data.pointee.d_size)
        var notes: [RawNote] = []
        var offset = 0
        while offset < area.count {
            let noteOffset = base &+ UInt64(offset)   // both within the file: no wrap
            var header = GElf_Nhdr()
            var nameOffset = 0, descOffset = 0
            let next = gelf_getnote(data, offset, &header, &nameOffset, &descOffset)
            guard next > offset else {
                let rest = area[offset...]
                if rest.count < 12 && rest.allSatisfy({ $0 == 0 }) { break }   // trailing padding
                throw .badNote(file: name, location: location, offset: noteOffset, problem: diagnose(rest))
            }
            let nameEnd = nameOffset.addingReportingOverflow(Int(header.n_namesz))
            let descEnd = descOffset.addingReportingOverflow(Int(header.n_descsz))
            guard !nameEnd.overflow, !descEnd.overflow, nameEnd.partialValue <= area.count,
                  descEnd.partialValue <= area.count else {
                throw .badNote(file: name, location: location, offset: noteOffset, problem: diagnose(area[offset...]))
            }
            guard notes.count < Self.maxNotes else {
                throw .badNote(file: name, location: location, offset: noteOffset,
                               problem: .tooManyNotes(limit: Self.maxNotes))
            }
            notes.append(RawNote(fileOffset: noteOffset, type: header.n_type,
                                 name: Array(area[nameOffset ..< nameEnd.partialValue]),
                                 descriptor: Array(area[descOffset ..< descEnd.partialValue])))
            offset = next
        }
        return notes
    }

    /// Why the note starting at `rest` could not be read.
    private func diagnose(_ rest: Slice<UnsafeRawBufferPointer>) -> ELFImageError.NoteProblem {
        guard rest.count >= 12 else { return .truncatedHeader(remaining: UInt64(rest.count)) }
        let start = rest.startIndex
        let nameSize = UInt32(littleEndianBytes: rest[start ..< start + 4])
        let descSize = UInt32(littleEndianBytes: rest[start + 4 ..< start + 8])
        return .sizesBeyondArea(nameSize: nameSize, descSize: descSize, remaining: UInt64(rest.count))
    }

    private static func failure(_ name: String, _ function: String) -> ELFImageError {
        // elf_errmsg(-1) is the calling thread's last libelf error, as a static string.
        let message = elf_errmsg(-1).map { String(cString: $0) } ?? "unknown error"
        return .libelf(file: name, function: function, message: message)
    }
}

private extension UInt32 {
    init(littleEndianBytes bytes: Slice<UnsafeRawBufferPointer>) {
        self = bytes.reversed().reduce(0) { ($0 << 8) | UInt32($1) }
    }
}
