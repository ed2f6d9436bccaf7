import ELFImage
import Testing

/// One test per way a hostile or broken file is refused: the exact error case and a message naming the file.
@Suite("Refused images")
struct RefusalTests {
    let name = Fixture.name
    var good: [UInt8] { Fixture.miniOS().build() }

    // MARK: File and e_ident

    @Test func fileLargerThanLimit() {
        let bytes = good
        expectRefusal(bytes, .fileTooLarge(file: name, size: UInt64(bytes.count), limit: 100),
                      limits: ELFLimits(memoryBytes: 16 << 20, maxFileBytes: 100), mentioning: "maxFileBytes")
    }

    @Test func emptyFile() {
        expectRefusal([], .emptyFile(file: name), mentioning: "empty")
    }

    @Test func badMagic() {
        expectRefusal(Array("MZ\u{90}\0 this is not ELF".utf8), .notELF(file: name, magic: [0x4d, 0x5a, 0xc2, 0x90]),
                      mentioning: "not an ELF file: it starts with 4d 5a c2 90")
        expectRefusal([0x7f, 0x45], .truncatedHeader(file: name, fileSize: 2))
    }

    @Test func elfClass32() {
        var elf = Fixture.miniOS()
        elf.elfClass = 1
        expectRefusal(elf.build(), .unsupportedClass(file: name, elfClass: 1),
                      mentioning: "ELFCLASS32: only 64-bit x86-64 PV kernels are supported")
        elf.elfClass = 9
        expectRefusal(elf.build(), .unsupportedClass(file: name, elfClass: 9), mentioning: "ELFCLASS64")
    }

    @Test func bigEndian() {
        var elf = Fixture.miniOS()
        elf.byteOrder = 2
        expectRefusal(elf.build(), .wrongByteOrder(file: name, encoding: 2), mentioning: "ELFDATA2MSB")
    }

    @Test func badVersionFields() {
        var elf = Fixture.miniOS()
        elf.identVersion = 0
        expectRefusal(elf.build(), .badHeaderField(file: name, field: .identVersion, value: 0), mentioning: "EI_VERSION")
        elf = Fixture.miniOS()
        elf.version = 7
        expectRefusal(elf.build(), .badHeaderField(file: name, field: .version, value: 7), mentioning: "e_version is 7")
    }

    // MARK: ELF header

    @Test func wrongMachine() {
        var elf = Fixture.miniOS()
        elf.machine = 183
        expectRefusal(elf.build(), .wrongMachine(file: name, machine: 183),
                      mentioning: "e_machine is EM_AARCH64 (183); expected EM_X86_64 (62)")
    }

    @Test(arguments: [(UInt16(1), "ET_REL"), (4, "ET_CORE"), (0, "ET_NONE")])
    func notAnExecutable(type: UInt16, typeName: String) {
        var elf = Fixture.miniOS()
        elf.type = type
        expectRefusal(elf.build(), .wrongType(file: name, type: type), mentioning: typeName)
    }

    @Test func truncatedHeader() {
        expectRefusal(Array(good.prefix(40)), .truncatedHeader(file: name, fileSize: 40), mentioning: "64-byte ELF64 header")
    }

    @Test func programHeaderTableBeyondFile() {
        var elf = Fixture.miniOS()
        let size = UInt64(elf.build().count)
        elf.programHeaderOffset = size - 100
        expectRefusal(elf.build(), .tableBeyondFile(file: name, table: .programHeaders, offset: size - 100, count: 3,
                                                    entrySize: 56, fileSize: size),
                      mentioning: "truncated: the program header table")
        // A file cut off in the middle of its program headers.
        let cut = Array(good.prefix(100))
        expectRefusal(cut, .tableBeyondFile(file: name, table: .programHeaders, offset: 64, count: 3, entrySize: 56,
                                            fileSize: 100))
    }

    @Test func sectionHeaderTableBeyondFile() {
        var elf = Fixture.miniOS()
        elf.sections = [.init(payload: Fixture.miniOSNotes())]
        let size = UInt64(elf.build().count)
        elf.sectionHeaderOffset = size - 64
        expectRefusal(elf.build(), .tableBeyondFile(file: name, table: .sectionHeaders, offset: size - 64, count: 2,
                                                    entrySize: 64, fileSize: size),
                      mentioning: "section header table")
        // e_shnum 0 with e_shoff set: extended numbering needs section 0 in the file.
        elf = Fixture.miniOS()
        elf.sectionHeaderOffset = 0x10_0000
        let plain = elf.build()
        expectRefusal(plain, .tableBeyondFile(file: name, table: .sectionHeaders, offset: 0x10_0000, count: 1,
                                              entrySize: 64, fileSize: UInt64(plain.count)))
        // ... and the count it gives must fit too.
        elf = Fixture.miniOS()
        elf.sections = [.init(payload: [])]
        elf.sectionHeaderCount = 0
        var extended = elf.build()
        let table = UInt64(extended.count - 128)
        extended.put(UInt64(0x1000), at: Int(table) + 32)                 // section 0's sh_size
        expectRefusal(extended, .tableBeyondFile(file: name, table: .sectionHeaders, offset: table, count: 0x1000,
                                                 entrySize: 64, fileSize: UInt64(extended.count)))
    }

    @Test func programHeaderTableInsideTheELFHeader() {
        var elf = Fixture.miniOS()
        elf.programHeaderOffset = 0
        expectRefusal(elf.build(), .badHeaderField(file: name, field: .programHeaderOffset, value: 0),
                      mentioning: "e_phoff is 0, expected at least 64")
    }

    @Test func badProgramHeaderEntrySize() {
        var elf = Fixture.miniOS()
        elf.programHeaderEntrySize = 32
        expectRefusal(elf.build(), .badHeaderField(file: name, field: .programHeaderEntrySize, value: 32),
                      mentioning: "e_phentsize is 32, expected 56")
    }

    @Test func absurdProgramHeaderCount() {
        var elf = Fixture.miniOS()
        elf.programHeaderCount = 5000
        expectRefusal(elf.build(), .tooManyProgramHeaders(file: name, count: 5000, limit: 4096), mentioning: "e_phnum is 5000")
        elf.programHeaderCount = 0xffff                                   // PN_XNUM
        expectRefusal(elf.build(), .tooManyProgramHeaders(file: name, count: 0xffff, limit: 4096))
    }

    // MARK: Segments

    @Test func noLoadSegments() {
        var elf = Fixture.miniOS()
        elf.segments.removeLast(2)
        expectRefusal(elf.build(), .noLoadSegments(file: name), mentioning: "PT_LOAD")
        elf.segments = []
        expectRefusal(elf.build(), .noLoadSegments(file: name))
        // Empty PT_LOADs load nothing either.
        elf = Fixture.miniOS()
        elf.segments[1].memSize = 0
        elf.segments[1].fileSize = 0
        elf.segments[2].memSize = 0
        elf.segments[2].fileSize = 0
        expectRefusal(elf.build(), .noLoadSegments(file: name))
    }

    @Test func segmentBeyondEndOfFile() {
        var elf = Fixture.miniOS()
        elf.segments[2].offset = 0x1000
        elf.segments[2].fileSize = 0x9000
        elf.segments[2].memSize = 0x9000
        let size = UInt64(elf.build().count)
        expectRefusal(elf.build(), .segmentBeyondFile(file: name, segment: 2, offset: 0x1000, size: 0x9000, fileSize: size),
                      mentioning: "bad.elf: segment 2 extends beyond the end of the file (offset 0x1000 + size 0x9000 > file size \(String(size, radix: 16, uppercase: false).withHexPrefix))")
        // offset + size wrapping around 2^64 is beyond the file too.
        elf.segments[2].offset = UInt64.max - 1
        elf.segments[2].fileSize = 0x10
        expectRefusal(elf.build(), .segmentBeyondFile(file: name, segment: 2, offset: UInt64.max - 1, size: 0x10, fileSize: size))
    }

    @Test func noteSegmentBeyondEndOfFile() {
        var elf = Fixture.miniOS()
        elf.segments[0].fileSize = 0x10_0000
        let size = UInt64(elf.build().count)
        let offset = UInt64(64 + 3 * 56 + 8)                             // 232 padded to 240
        expectRefusal(elf.build(), .segmentBeyondFile(file: name, segment: 0, offset: offset, size: 0x10_0000, fileSize: size))
    }

    @Test func noteSectionBeyondEndOfFile() {
        var elf = Fixture.miniOS()
        elf.segments.removeFirst()
        elf.sections = [.init(size: 0x10_0000, payload: Fixture.miniOSNotes())]
        let bytes = elf.build()
        guard case .sectionBeyondFile(name, 1, _, 0x10_0000, UInt64(bytes.count))? = refusal(bytes) else {
            Issue.record("expected sectionBeyondFile, got \(String(describing: refusal(bytes)))")
            return
        }
        #expect(refusal(bytes)?.description.hasPrefix("bad.elf: note section 1 extends beyond") == true)
    }

    @Test func fileSizeLargerThanMemorySize() {
        var elf = Fixture.miniOS()
        elf.segments[1].memSize = 0x80
        expectRefusal(elf.build(), .fileSizeExceedsMemorySize(file: name, segment: 1, fileSize: 0x100, memSize: 0x80),
                      mentioning: "segment 1 has p_filesz 0x100 larger than p_memsz 0x80")
    }

    @Test func absurdMemorySize() {
        var elf = Fixture.miniOS()
        elf.segments[2].memSize = 0xffff_ffff_ffff_0000
        expectRefusal(elf.build(), .segmentTooLarge(file: name, segment: 2, memSize: 0xffff_ffff_ffff_0000, limit: 16 << 20),
                      mentioning: "absurd p_memsz")
    }

    @Test func overlappingSegments() {
        var elf = Fixture.miniOS()
        elf.segments[2].paddr = 0x2000                                   // text is [0, 0x3000)
        expectRefusal(elf.build(), .overlappingSegments(file: name, first: 1, firstRange: 0 ..< 0x3000,
                                                        second: 2, secondRange: 0x2000 ..< 0x4000),
                      mentioning: "segments 1 [0x0, 0x3000) and 2 [0x2000, 0x4000) overlap")
        // A segment nested inside an earlier, larger one, listed first.
        elf.segments[2].paddr = 0x1000
        elf.segments[2].memSize = 0x100
        elf.segments.swapAt(1, 2)
        expectRefusal(elf.build(), .overlappingSegments(file: name, first: 1, firstRange: 0x1000 ..< 0x1100,
                                                        second: 2, secondRange: 0 ..< 0x3000))
    }

    @Test func segmentBeyondGuestMemory() {
        var elf = Fixture.miniOS()
        elf.segments[2].paddr = 0xfff000                                  // ends at 16 MiB + 0x1000
        expectRefusal(elf.build(), .segmentOutsideGuestMemory(file: name, segment: 2, range: 0xfff000 ..< 0x100_1000,
                                                              virtBase: 0, memoryBytes: 16 << 20),
                      mentioning: "beyond the guest's 0x1000000 bytes of memory")
    }

    @Test func segmentBelowVirtBase() {
        // VIRT_BASE 0x400000 with PADDR_OFFSET 0x400000 keeps p_paddr as the VA: text at 0 is below VIRT_BASE.
        let notes = Fixture.miniOSNotes() + Note.xen(Fixture.virtBase, Note.u64(0x40_0000))
            + Note.xen(Fixture.paddrOffset, Note.u64(0x40_0000))
        expectRefusal(Fixture.miniOS(notes: notes).build(),
                      .segmentOutsideGuestMemory(file: name, segment: 1, range: 0 ..< 0x3000, virtBase: 0x40_0000,
                                                 memoryBytes: 16 << 20),
                      mentioning: "starts below VIRT_BASE 0x400000")
    }

    @Test func shiftWrapsAroundAddressSpace() {
        // 0x80000000 + 0xffffffff80000000 = 2^64.
        let elf = Fixture.linux(paddr: 0x8000_0000)
        expectRefusal(elf.build(), .segmentAddressOverflow(file: name, segment: 0, paddr: 0x8000_0000, memSize: 0x20_0000,
                                                           virtBase: 0xffff_ffff_8000_0000, paddrOffset: 0),
                      mentioning: "wraps around")
        // Below zero: p_paddr 0 with PADDR_OFFSET above VIRT_BASE.
        let below = Fixture.linux(virtBase: 0x1000, paddrOffset: 0x2000, paddr: 0)
        expectRefusal(below.build(), .segmentAddressOverflow(file: name, segment: 0, paddr: 0, memSize: 0x20_0000,
                                                             virtBase: 0x1000, paddrOffset: 0x2000))
        // The segment's end wrapping: VA fits, VA + p_memsz does not.
        var end = Fixture.linux(paddr: 0x7ff0_0000)
        end.segments.removeLast(2)
        end.segments[0].memSize = 0x20_0000
        end.segments.append(.init(type: Fixture.ptNote, payload: Note.xen(Fixture.guestOS, Note.text("linux"))
            + Note.xen(Fixture.xenVersion, Note.text("xen-3.0")) + Note.xen(Fixture.virtBase, Note.u64(0xffff_ffff_8000_0000))))
        expectRefusal(end.build(), .segmentAddressOverflow(file: name, segment: 0, paddr: 0x7ff0_0000, memSize: 0x20_0000,
                                                           virtBase: 0xffff_ffff_8000_0000, paddrOffset: 0),
                      limits: ELFLimits(memoryBytes: UInt64.max))
    }

    // MARK: Entry and hypercall page

    @Test func entryOutsideEverySegment() {
        var elf = Fixture.miniOS()
        elf.entry = 0x99_9999
        expectRefusal(elf.build(), .entryOutsideSegments(file: name, entry: 0x99_9999, fromNote: false),
                      mentioning: "entry point 0x999999 (e_entry) is not inside any PT_LOAD segment")
        // In the range but in the gap between two segments.
        elf.segments[2].paddr = 0x8000
        elf.entry = 0x4000
        expectRefusal(elf.build(), .entryOutsideSegments(file: name, entry: 0x4000, fromNote: false))
        // From the ENTRY note.
        let notes = Fixture.miniOSNotes() + Note.xen(Fixture.entry, Note.u64(0x6000))
        expectRefusal(Fixture.miniOS(notes: notes).build(), .entryOutsideSegments(file: name, entry: 0x6000, fromNote: true),
                      mentioning: "ENTRY note")
    }

    @Test func noEntryPoint() {
        var elf = Fixture.miniOS()
        elf.entry = 0
        elf.segments[1].paddr = 0x1_0000
        elf.segments[2].paddr = 0x1_3000
        expectRefusal(elf.build(), .noEntry(file: name), mentioning: "no entry point")
    }

    @Test func hypercallPageNotPageAligned() {
        expectRefusal(Fixture.miniOS(notes: Fixture.miniOSNotes(hypercallPage: 0x1010)).build(),
                      .hypercallPageMisaligned(file: name, address: 0x1010), mentioning: "not page-aligned")
    }

    @Test func hypercallPageOutsideKernel() {
        expectRefusal(Fixture.miniOS(notes: Fixture.miniOSNotes(hypercallPage: 0x5000)).build(),
                      .hypercallPageOutsideKernel(file: name, address: 0x5000, kernelStart: 0, kernelEnd: 0x5000),
                      mentioning: "HYPERCALL_PAGE 0x5000 is outside the kernel image [0x0, 0x5000)")
    }

    @Test func initP2MInsideKernel() {
        let notes = Fixture.miniOSNotes() + Note.xen(Fixture.initP2M, Note.u64(0x2000))
        expectRefusal(Fixture.miniOS(notes: notes).build(),
                      .initP2MInsideKernel(file: name, address: 0x2000, kernelStart: 0, kernelEnd: 0x5000),
                      mentioning: "INIT_P2M")
    }

    // MARK: Notes

    @Test func numericNoteOfWrongSize() {
        let notes = Fixture.miniOSNotes() + Note.xen(Fixture.virtBase, [0, 0, 0])
        let offset = noteOffset(Fixture.miniOS(notes: notes), after: Fixture.miniOSNotes())
        expectRefusal(Fixture.miniOS(notes: notes).build(),
                      .badNote(file: name, location: .segment(0), offset: offset, problem: .numericSize(type: 3, size: 3)),
                      mentioning: "VIRT_BASE (3) has a 3-byte descriptor; numeric Xen notes must be 4 or 8 bytes")
    }

    @Test func numericNoteTooLargeForItsField() {
        let notes = Fixture.miniOSNotes() + Note.xen(Fixture.phys32Entry, Note.u64(0x1_0000_0000))
        let offset = noteOffset(Fixture.miniOS(notes: notes), after: Fixture.miniOSNotes())
        expectRefusal(Fixture.miniOS(notes: notes).build(),
                      .badNote(file: name, location: .segment(0), offset: offset,
                               problem: .valueTooLarge(type: 18, value: 0x1_0000_0000)),
                      mentioning: "does not fit in 32 bits")
    }

    @Test func truncatedNoteHeader() {
        let notes = Fixture.miniOSNotes() + [1, 2, 3, 4, 5, 6]
        let offset = noteOffset(Fixture.miniOS(notes: notes), after: Fixture.miniOSNotes())
        expectRefusal(Fixture.miniOS(notes: notes).build(),
                      .badNote(file: name, location: .segment(0), offset: offset, problem: .truncatedHeader(remaining: 6)),
                      mentioning: "in PT_NOTE segment 0: only 6 bytes")
    }

    @Test func absurdNoteSizes() {
        let hostile = Note.make(type: 1, Note.u64(0), descSize: 0xffff_fff0)
        let offset = noteOffset(Fixture.miniOS(notes: Fixture.miniOSNotes() + hostile), after: Fixture.miniOSNotes())
        expectRefusal(Fixture.miniOS(notes: Fixture.miniOSNotes() + hostile).build(),
                      .badNote(file: name, location: .segment(0), offset: offset,
                               problem: .sizesBeyondArea(nameSize: 4, descSize: 0xffff_fff0, remaining: 24)),
                      mentioning: "run past the end of the note area")
        let longName = Note.make(type: 1, Note.u64(0), nameSize: 0x7fff_ffff)
        expectRefusal(Fixture.miniOS(notes: Fixture.miniOSNotes() + longName).build(),
                      .badNote(file: name, location: .segment(0), offset: offset,
                               problem: .sizesBeyondArea(nameSize: 0x7fff_ffff, descSize: 8, remaining: 24)))
    }

    @Test func badNoteInSectionNamesTheSection() {
        var elf = Fixture.miniOS()
        elf.segments.removeFirst()
        elf.sections = [.init(payload: Fixture.miniOSNotes() + Note.xen(Fixture.entry, [1]))]
        guard case .badNote(name, .section(1), _, .numericSize(type: 1, size: 1))? = refusal(elf.build()) else {
            Issue.record("expected badNote in section 1, got \(String(describing: refusal(elf.build())))")
            return
        }
        #expect(refusal(elf.build())?.description.contains("SHT_NOTE section 1") == true)
    }

    @Test func tooManyNotes() {
        let empty = Note.make(name: [], type: 0, [])                       // 12 bytes each
        let notes = Fixture.miniOSNotes() + Array([[UInt8]](repeating: empty, count: 5000).joined())
        guard case .badNote(name, .segment(0), _, .tooManyNotes(limit: 4096))? = refusal(Fixture.miniOS(notes: notes).build()) else {
            Issue.record("expected tooManyNotes")
            return
        }
    }

    // MARK: Xen acceptance

    @Test func noXenNotesAtAll() {
        expectRefusal(Fixture.miniOS(notes: []).build(), .notXenImage(file: name, reason: .noXenNotes),
                      mentioning: "bad.elf: not a Xen PV kernel: no Xen ELF notes")
        var elf = Fixture.miniOS()
        elf.segments.removeFirst()
        expectRefusal(elf.build(), .notXenImage(file: name, reason: .noXenNotes))
        // Only other vendors' notes.
        let gnu = Note.make(name: Array("GNU\0".utf8), type: 3, [1, 2, 3, 4])
        expectRefusal(Fixture.miniOS(notes: gnu).build(), .notXenImage(file: name, reason: .noXenNotes))
    }

    @Test func wrongXenVersion() {
        let notes = Note.xen(Fixture.loader, Note.text("generic")) + Note.xen(Fixture.xenVersion, Note.text("xen-2.0"))
        expectRefusal(Fixture.miniOS(notes: notes).build(), .notXenImage(file: name, reason: .xenVersion("xen-2.0")),
                      mentioning: "XEN_VERSION is \"xen-2.0\"; it must start with \"xen-3.0\"")
        let missing = Note.xen(Fixture.loader, Note.text("generic"))
        expectRefusal(Fixture.miniOS(notes: missing).build(), .notXenImage(file: name, reason: .xenVersion(nil)),
                      mentioning: "no XEN_VERSION note")
    }

    @Test func neitherGenericLoaderNorLinux() {
        let notes = Note.xen(Fixture.guestOS, Note.text("Plan9")) + Note.xen(Fixture.loader, Note.text("special"))
            + Note.xen(Fixture.xenVersion, Note.text("xen-3.0"))
        expectRefusal(Fixture.miniOS(notes: notes).build(),
                      .notXenImage(file: name, reason: .loaderOrGuestOS(loader: "special", guestOS: "Plan9")),
                      mentioning: "LOADER is \"special\" and GUEST_OS is \"Plan9\"")
        let bare = Note.xen(Fixture.xenVersion, Note.text("xen-3.0"))
        expectRefusal(Fixture.miniOS(notes: bare).build(),
                      .notXenImage(file: name, reason: .loaderOrGuestOS(loader: nil, guestOS: nil)))
    }

    @Test func paddrOffsetWithoutVirtBase() {
        let notes = Fixture.miniOSNotes() + Note.xen(Fixture.paddrOffset, Note.u64(0x1000))
        expectRefusal(Fixture.miniOS(notes: notes).build(), .paddrOffsetWithoutVirtBase(file: name, paddrOffset: 0x1000),
                      mentioning: "PADDR_OFFSET note (0x1000) without a VIRT_BASE note")
    }

    // MARK: libelf

    @Test func compressedNoteSectionClaimingAHugeSize() {
        var elf = Fixture.miniOS()
        elf.segments.removeFirst()
        elf.sections = [.init(flags: Compressed.flags,
                              payload: Compressed.section(size: 0x1000_0000, stream: Compressed.miniOSNotes))]
        let bytes = elf.build()
        let sectionOffset = UInt64(64 + 2 * 56) + 0x100 + 0x40   // headers, text, data: all 16-byte multiples
        expectRefusal(bytes, .badNote(file: name, location: .section(1), offset: sectionOffset,
                                      problem: .compressedTooLarge(size: 0x1000_0000, limit: 1 << 20)),
                      mentioning: "SHT_NOTE section 1: the compressed section claims to inflate to 0x10000000 bytes")
    }

    @Test func libelfFailureCarriesItsMessage() {
        // A compressed note section whose zlib stream is garbage: libelf's elf_compress refuses it.
        var elf = Fixture.miniOS()
        elf.segments.removeFirst()
        elf.sections = [.init(flags: Compressed.flags,
                              payload: Compressed.section(size: 96, stream: [0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]))]
        let bytes = elf.build()
        guard case .libelf(name, "elf_compress", let message)? = refusal(bytes) else {
            Issue.record("expected a libelf error, got \(String(describing: refusal(bytes)))")
            return
        }
        #expect(!message.isEmpty)
        #expect(refusal(bytes)?.description == "bad.elf: libelf elf_compress failed: \(message)")
        // libelf also refuses a compressed section that is SHF_ALLOC.
        elf.sections[0].flags |= 0x2
        guard case .libelf(name, "gelf_getchdr", _)? = refusal(elf.build()) else {
            Issue.record("expected gelf_getchdr to fail, got \(String(describing: refusal(elf.build())))")
            return
        }
    }

    /// File offset of the note that follows `notes` in segment 0 of `elf`.
    private func noteOffset(_ elf: ELFWriter, after notes: [UInt8]) -> UInt64 {
        UInt64(64 + 56 * elf.segments.count).roundedUp(to: 16) + UInt64(notes.count)
    }
}

extension UInt64 {
    func roundedUp(to alignment: UInt64) -> UInt64 { (self + alignment - 1) / alignment * alignment }
}

extension String {
    var withHexPrefix: String { "0x" + self }
}
