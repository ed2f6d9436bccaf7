import CLibELF

/// Turns the bytes of a PV kernel into an `ELFImage`, applying Xen's PV builder rules
/// (xen-pv-facts §2.4). Checks run in the order below; the first failure is the error.
struct Loader {
    /// Most program headers a file may have; more is hostile (PN_XNUM, 0xffff, included).
    static let maxProgramHeaders: UInt64 = 4096
    static let pageSize: UInt64 = 4096

    let bytes: [UInt8]
    let name: String
    let limits: ELFLimits
    var fileSize: UInt64 { UInt64(bytes.count) }

    init(bytes: [UInt8], name: String, limits: ELFLimits) {
        self.bytes = bytes
        self.name = name
        self.limits = limits
    }

    func load() throws(ELFImageError) -> ELFImage {
        try checkSizeAndIdent()
        let elf = try openWithLibELF()
        let header = try elf.header()
        try checkHeader(header)
        let (loads, noteSegments) = try readProgramHeaders(elf, header)
        let notes = try readXenNotes(elf, noteSegments: noteSegments)
        return try plan(header: header, loads: loads, notes: notes)
    }

    // MARK: 1. File size and e_ident, before libelf sees the bytes

    private func checkSizeAndIdent() throws(ELFImageError) {
        guard fileSize <= limits.maxFileBytes else {
            throw .fileTooLarge(file: name, size: fileSize, limit: limits.maxFileBytes)
        }
        guard !bytes.isEmpty else { throw .emptyFile(file: name) }
        let magic: [UInt8] = [0x7f, 0x45, 0x4c, 0x46]
        guard bytes.starts(with: magic) else {
            if bytes.count < magic.count && magic.starts(with: bytes) { throw .truncatedHeader(file: name, fileSize: fileSize) }
            throw .notELF(file: name, magic: Array(bytes.prefix(magic.count)))
        }
        // e_ident: [4] class, [5] byte order, [6] version.
        guard bytes.count > 6 else { throw .truncatedHeader(file: name, fileSize: fileSize) }
        guard bytes[4] == UInt8(ELFCLASS64) else { throw .unsupportedClass(file: name, elfClass: bytes[4]) }
        guard bytes[5] == UInt8(ELFDATA2LSB) else { throw .wrongByteOrder(file: name, encoding: bytes[5]) }
        guard bytes[6] == UInt8(EV_CURRENT) else {
            throw .badHeaderField(file: name, field: .identVersion, value: UInt64(bytes[6]))
        }
        guard bytes.count >= 64 else { throw .truncatedHeader(file: name, fileSize: fileSize) }
    }

    /// The section header table is checked first: elf_memory would refuse a cut-off one with a
    /// vaguer message, and a file cut off there is truncated even when its notes are in PT_NOTE.
    private func openWithLibELF() throws(ELFImageError) -> LibELFFile {
        let sectionOffset = readLittleEndian(at: 0x28, width: 8)    // e_shoff
        var sectionCount = readLittleEndian(at: 0x3c, width: 2)     // e_shnum
        if sectionCount == 0 && sectionOffset != 0 {
            // Extended numbering: the count is section 0's sh_size, so section 0 must be in the file.
            if let problem = tableBeyondFile(.sectionHeaders, offset: sectionOffset, count: 1, entrySize: 64) {
                throw problem
            }
            sectionCount = readLittleEndian(at: Int(sectionOffset) + 32, width: 8)
        }
        if let problem = tableBeyondFile(.sectionHeaders, offset: sectionOffset, count: sectionCount, entrySize: 64) {
            throw problem
        }
        let elf = try LibELFFile(bytes: bytes, name: name)
        guard elf.isELF else { throw .notELF(file: name, magic: Array(bytes.prefix(4))) }
        return elf
    }

    // MARK: 2. ELF header

    private func checkHeader(_ header: GElf_Ehdr) throws(ELFImageError) {
        guard header.e_machine == UInt16(EM_X86_64) else { throw .wrongMachine(file: name, machine: header.e_machine) }
        guard header.e_type == UInt16(ET_EXEC) || header.e_type == UInt16(ET_DYN) else {
            throw .wrongType(file: name, type: header.e_type)
        }
        guard header.e_version == UInt32(EV_CURRENT) else {
            throw .badHeaderField(file: name, field: .version, value: UInt64(header.e_version))
        }
        let count = UInt64(header.e_phnum)
        guard count <= Self.maxProgramHeaders else {
            throw .tooManyProgramHeaders(file: name, count: count, limit: Self.maxProgramHeaders)
        }
        guard count > 0 else { throw .noLoadSegments(file: name) }
        guard header.e_phoff >= 64 else {
            throw .badHeaderField(file: name, field: .programHeaderOffset, value: header.e_phoff)
        }
        guard header.e_phentsize == 56 else {
            throw .badHeaderField(file: name, field: .programHeaderEntrySize, value: UInt64(header.e_phentsize))
        }
        if let problem = tableBeyondFile(.programHeaders, offset: header.e_phoff, count: count, entrySize: 56) {
            throw problem
        }
    }

    // MARK: 3. Program headers

    private func readProgramHeaders(_ elf: LibELFFile, _ header: GElf_Ehdr)
        throws(ELFImageError) -> (loads: [(index: Int, header: GElf_Phdr)], notes: [(index: Int, header: GElf_Phdr)]) {
        var loads: [(index: Int, header: GElf_Phdr)] = []
        var notes: [(index: Int, header: GElf_Phdr)] = []
        for index in 0 ..< Int(header.e_phnum) {
            let segment = try elf.programHeader(index)
            switch segment.p_type {
            case UInt32(PT_LOAD):
                try checkInFile(segment, index: index)
                guard segment.p_filesz <= segment.p_memsz else {
                    throw .fileSizeExceedsMemorySize(file: name, segment: index, fileSize: segment.p_filesz,
                                                     memSize: segment.p_memsz)
                }
                guard segment.p_memsz <= limits.memoryBytes else {
                    throw .segmentTooLarge(file: name, segment: index, memSize: segment.p_memsz,
                                           limit: limits.memoryBytes)
                }
                if segment.p_memsz > 0 { loads.append((index, segment)) }
            case UInt32(PT_NOTE):
                try checkInFile(segment, index: index)
                notes.append((index, segment))
            default:
                break
            }
        }
        guard !loads.isEmpty else { throw .noLoadSegments(file: name) }
        return (loads, notes)
    }

    private func checkInFile(_ segment: GElf_Phdr, index: Int) throws(ELFImageError) {
        let end = segment.p_offset.addingReportingOverflow(segment.p_filesz)
        guard !end.overflow, end.partialValue <= fileSize else {
            throw .segmentBeyondFile(file: name, segment: index, offset: segment.p_offset,
                                     size: segment.p_filesz, fileSize: fileSize)
        }
    }

    // MARK: 4. Xen notes: PT_NOTE segments, else SHT_NOTE sections (as Xen does)

    private func readXenNotes(_ elf: LibELFFile, noteSegments: [(index: Int, header: GElf_Phdr)])
        throws(ELFImageError) -> XenNotes {
        var notes = XenNotes()
        for (index, segment) in noteSegments {
            let raw = try elf.notes(segment: index, offset: segment.p_offset, size: segment.p_filesz,
                                    align: segment.p_align)
            try record(raw, into: &notes, location: .segment(index))
        }
        if notes.all.isEmpty {
            for (index, section) in try elf.noteSections() {
                let end = section.sh_offset.addingReportingOverflow(section.sh_size)
                guard !end.overflow, end.partialValue <= fileSize else {
                    throw .sectionBeyondFile(file: name, section: index, offset: section.sh_offset,
                                             size: section.sh_size, fileSize: fileSize)
                }
                let raw = try elf.notes(section: index, header: section)
                try record(raw, into: &notes, location: .section(index))
            }
        }
        guard !notes.all.isEmpty else { throw .notXenImage(file: name, reason: .noXenNotes) }
        if let reason = notes.rejection { throw .notXenImage(file: name, reason: reason) }
        return notes
    }

    private func record(_ raw: [RawNote], into notes: inout XenNotes,
                        location: ELFImageError.NoteLocation) throws(ELFImageError) {
        for note in raw where note.isXen {
            if let problem = notes.record(type: note.type, descriptor: note.descriptor) {
                throw .badNote(file: name, location: location, offset: note.fileOffset, problem: problem)
            }
        }
    }

    // MARK: 5. Placement: VIRT_BASE/PADDR_OFFSET shift, guest memory, overlap, entry, hypercall page

    private func plan(header: GElf_Ehdr, loads: [(index: Int, header: GElf_Phdr)],
                      notes: XenNotes) throws(ELFImageError) -> ELFImage {
        if notes.virtBase == nil, let paddrOffset = notes.paddrOffset {
            throw .paddrOffsetWithoutVirtBase(file: name, paddrOffset: paddrOffset)
        }
        let virtBase = notes.virtBase ?? 0
        let paddrOffset = notes.paddrOffset ?? 0

        var segments: [LoadSegment] = []
        for (index, segment) in loads {
            guard let vaddr = shift(segment.p_paddr, virtBase: virtBase, paddrOffset: paddrOffset),
                  case let end = vaddr.addingReportingOverflow(segment.p_memsz), !end.overflow else {
                throw .segmentAddressOverflow(file: name, segment: index, paddr: segment.p_paddr,
                                              memSize: segment.p_memsz, virtBase: virtBase, paddrOffset: paddrOffset)
            }
            guard vaddr >= virtBase, end.partialValue - virtBase <= limits.memoryBytes else {
                throw .segmentOutsideGuestMemory(file: name, segment: index, range: vaddr ..< end.partialValue,
                                                 virtBase: virtBase, memoryBytes: limits.memoryBytes)
            }
            // checkInFile proved offset + filesz <= bytes.count, so these Int conversions are exact.
            let first = Int(segment.p_offset), last = Int(segment.p_offset + segment.p_filesz)
            let flags = segment.p_flags
            segments.append(LoadSegment(index: index, vaddr: vaddr, fileOffset: segment.p_offset,
                                        fileSize: segment.p_filesz, memSize: segment.p_memsz,
                                        readable: flags & UInt32(PF_R) != 0, writable: flags & UInt32(PF_W) != 0,
                                        executable: flags & UInt32(PF_X) != 0, bytes: Array(bytes[first ..< last])))
        }
        try checkNoOverlap(segments)

        let kernelStart = segments.map(\.vaddr).min() ?? 0
        let kernelEnd = segments.map(\.range.upperBound).max() ?? 0
        let entry: UInt64
        if let noted = notes.entry {
            entry = noted
        } else {
            if header.e_entry == 0 && !segments.contains(where: { $0.range.contains(0) }) {
                throw .noEntry(file: name)
            }
            entry = header.e_entry
        }
        guard segments.contains(where: { $0.range.contains(entry) }) else {
            throw .entryOutsideSegments(file: name, entry: entry, fromNote: notes.entry != nil)
        }
        if let page = notes.hypercallPage {
            guard page % Self.pageSize == 0 else { throw .hypercallPageMisaligned(file: name, address: page) }
            guard (kernelStart ..< kernelEnd).contains(page) else {
                throw .hypercallPageOutsideKernel(file: name, address: page, kernelStart: kernelStart, kernelEnd: kernelEnd)
            }
        }
        if let p2m = notes.initP2M, (kernelStart ..< kernelEnd).contains(p2m) {
            throw .initP2MInsideKernel(file: name, address: p2m, kernelStart: kernelStart, kernelEnd: kernelEnd)
        }
        return ELFImage(name: name, entry: entry, virtBase: virtBase, paddrOffset: paddrOffset,
                        kernelStart: kernelStart, kernelEnd: kernelEnd, segments: segments, notes: notes,
                        fileSize: fileSize)
    }

    /// `paddr + virtBase − paddrOffset` as an exact integer, or nil if it is not in [0, 2^64).
    private func shift(_ paddr: UInt64, virtBase: UInt64, paddrOffset: UInt64) -> UInt64? {
        let result = virtBase >= paddrOffset
            ? paddr.addingReportingOverflow(virtBase - paddrOffset)
            : paddr.subtractingReportingOverflow(paddrOffset - virtBase)
        return result.overflow ? nil : result.partialValue
    }

    /// Sweep in VA order, remembering the segment that reaches furthest so far.
    private func checkNoOverlap(_ segments: [LoadSegment]) throws(ELFImageError) {
        let sorted = segments.sorted { ($0.vaddr, $0.index) < ($1.vaddr, $1.index) }
        guard var furthest = sorted.first else { return }
        for segment in sorted.dropFirst() {
            if segment.vaddr < furthest.range.upperBound {
                let (first, second) = furthest.index < segment.index ? (furthest, segment) : (segment, furthest)
                throw .overlappingSegments(file: name, first: first.index, firstRange: first.range,
                                           second: second.index, secondRange: second.range)
            }
            if segment.range.upperBound > furthest.range.upperBound { furthest = segment }
        }
    }

    // MARK: Helpers

    /// The `table` error if `offset + count × entrySize` is past the end of the file (or wraps).
    private func tableBeyondFile(_ table: ELFImageError.HeaderTable, offset: UInt64, count: UInt64,
                                 entrySize: UInt64) -> ELFImageError? {
        guard count > 0 else { return nil }
        let size = count.multipliedReportingOverflow(by: entrySize)
        let end = offset.addingReportingOverflow(size.partialValue)
        guard size.overflow || end.overflow || end.partialValue > fileSize else { return nil }
        return .tableBeyondFile(file: name, table: table, offset: offset, count: count, entrySize: entrySize,
                                fileSize: fileSize)
    }

    /// A little-endian field of the ELF header; the caller has checked the header is in the file.
    private func readLittleEndian(at offset: Int, width: Int) -> UInt64 {
        bytes[offset ..< offset + width].reversed().reduce(0) { ($0 << 8) | UInt64($1) }
    }
}
