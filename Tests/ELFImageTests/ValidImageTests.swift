import ELFImage
import HyperABI
import Testing

@Suite("Accepted images")
struct ValidImageTests {
    @Test func miniOSImageGivesSegmentsEntryAndNotes() throws {
        let bytes = Fixture.miniOS().build()
        let image = try accept(bytes)

        #expect(image.name == Fixture.name)
        #expect(image.fileSize == UInt64(bytes.count))
        #expect(image.entry == 0x10)
        #expect(image.virtBase == 0 && image.paddrOffset == 0)
        #expect(image.kernelStart == 0 && image.kernelEnd == 0x5000)
        try #require(image.segments.count == 2)

        let text = image.segments[0], data = image.segments[1]
        #expect(text.index == 1 && text.vaddr == 0 && text.fileSize == 0x100 && text.memSize == 0x3000)
        #expect(text.readable && !text.writable && text.executable)
        #expect(text.bytes == Fixture.text)
        #expect(Array(bytes[Int(text.fileOffset) ..< Int(text.fileOffset + text.fileSize)]) == Fixture.text)
        #expect(data.index == 2 && data.vaddr == 0x3000 && data.fileSize == 0x40 && data.memSize == 0x2000)
        #expect(data.readable && data.writable && !data.executable)
        #expect(data.bytes == Fixture.data)

        var expected = XenNotes()
        expected.guestOS = "Mini-OS"
        expected.loader = "generic"
        expected.hypercallPage = 0x1000
        expected.xenVersion = "xen-3.0"
        expected.all = [
            XenNote(type: 6, name: "GUEST_OS", value: "Mini-OS"),
            XenNote(type: 8, name: "LOADER", value: "generic"),
            XenNote(type: 2, name: "HYPERCALL_PAGE", value: "0x1000"),
            XenNote(type: 5, name: "XEN_VERSION", value: "xen-3.0"),
        ]
        #expect(image.notes == expected)
    }

    @Test func everyNoteTypeIsParsed() throws {
        let notes = Note.xen(1, Note.u64(0x20))
            + Note.xen(2, Note.u64(0x2000))
            + Note.xen(3, Note.u64(0))
            + Note.xen(4, Note.u64(0))
            + Note.xen(5, Note.text("xen-3.0"))
            + Note.xen(6, Note.text("linux"))
            + Note.xen(7, Array("2.6".utf8))                          // no NUL: tolerated
            + Note.xen(8, Note.text("generic"))
            + Note.xen(9, Note.text("yes"))
            + Note.xen(10, Note.text("!writable_page_tables|pae_pgdir_above_4gb"))
            + Note.xen(11, Note.text("yes"))
            + Note.xen(12, Note.u64(0xffff_8000_0000_0000))
            + Note.xen(13, Note.u64(1) + Note.u64(1))                 // Linux: mask, value
            + Note.xen(14, Note.u32(1))                               // 4-byte numeric
            + Note.xen(15, Note.u64(0x80_0000_0000))
            + Note.xen(16, Note.u32(1))
            + Note.xen(17, Note.u32(0x801))
            + Note.xen(18, Note.u64(0x100_0040))                      // 8 bytes, fits in 32 bits
            + Note.xen(19, [1, 2, 3])                                 // PHYS32_RELOC: shown, not used
            + Note.make(name: Array("GNU\0".utf8), type: 3, [0xde, 0xad])   // not Xen's: ignored
        let image = try accept(Fixture.miniOS(notes: notes).build())

        var expected = XenNotes()
        expected.entry = 0x20
        expected.hypercallPage = 0x2000
        expected.virtBase = 0
        expected.paddrOffset = 0
        expected.xenVersion = "xen-3.0"
        expected.guestOS = "linux"
        expected.guestVersion = "2.6"
        expected.loader = "generic"
        expected.paeMode = "yes"
        expected.features = "!writable_page_tables|pae_pgdir_above_4gb"
        expected.bsdSymtab = "yes"
        expected.hvStartLow = 0xffff_8000_0000_0000
        expected.l1MFNValid = 1
        expected.suspendCancel = 1
        expected.initP2M = 0x80_0000_0000
        expected.modStartPFN = 1
        expected.supportedFeatures = 0x801
        expected.phys32Entry = 0x100_0040
        expected.all = [
            XenNote(type: 1, name: "ENTRY", value: "0x20"),
            XenNote(type: 2, name: "HYPERCALL_PAGE", value: "0x2000"),
            XenNote(type: 3, name: "VIRT_BASE", value: "0x0"),
            XenNote(type: 4, name: "PADDR_OFFSET", value: "0x0"),
            XenNote(type: 5, name: "XEN_VERSION", value: "xen-3.0"),
            XenNote(type: 6, name: "GUEST_OS", value: "linux"),
            XenNote(type: 7, name: "GUEST_VERSION", value: "2.6"),
            XenNote(type: 8, name: "LOADER", value: "generic"),
            XenNote(type: 9, name: "PAE_MODE", value: "yes"),
            XenNote(type: 10, name: "FEATURES", value: "!writable_page_tables|pae_pgdir_above_4gb"),
            XenNote(type: 11, name: "BSD_SYMTAB", value: "yes"),
            XenNote(type: 12, name: "HV_START_LOW", value: "0xffff800000000000"),
            XenNote(type: 13, name: "L1_MFN_VALID", value: "mask 0x1, value 0x1"),
            XenNote(type: 14, name: "SUSPEND_CANCEL", value: "0x1"),
            XenNote(type: 15, name: "INIT_P2M", value: "0x8000000000"),
            XenNote(type: 16, name: "MOD_START_PFN", value: "0x1"),
            XenNote(type: 17, name: "SUPPORTED_FEATURES", value: "0x801"),
            XenNote(type: 18, name: "PHYS32_ENTRY", value: "0x1000040"),
            XenNote(type: 19, name: "PHYS32_RELOC", value: "01 02 03"),
        ]
        #expect(image.notes == expected)
        #expect(image.entry == 0x20)                                   // ENTRY note beats e_entry 0x10
    }

    @Test func notesComeFromSectionsWhenThereIsNoPTNote() throws {
        var elf = Fixture.miniOS()
        elf.segments.removeFirst()
        elf.sections = [.init(payload: Note.make(name: Array("GNU\0".utf8), type: 3, [1, 2, 3, 4])),
                        .init(payload: Fixture.miniOSNotes())]
        let image = try accept(elf.build())
        #expect(image.notes.xenVersion == "xen-3.0")
        #expect(image.notes.hypercallPage == 0x1000)
        #expect(image.notes.all.count == 4)
        #expect(image.segments.map(\.index) == [0, 1])
    }

    @Test func compressedNoteSectionIsInflated() throws {
        var elf = Fixture.miniOS()
        elf.segments.removeFirst()
        elf.sections = [.init(flags: Compressed.flags,
                              payload: Compressed.section(size: 96, stream: Compressed.miniOSNotes))]
        let image = try accept(elf.build())
        #expect(image.notes == (try accept(Fixture.miniOS().build())).notes)
    }

    @Test func sectionsAreReadWhenPTNoteHasNoXenNotes() throws {
        let gnu = Note.make(name: Array("GNU\0".utf8), type: 3, [1, 2, 3, 4])
        var elf = Fixture.miniOS(notes: gnu)
        elf.sections = [.init(payload: Fixture.miniOSNotes())]
        #expect(try accept(elf.build()).notes.loader == "generic")
    }

    @Test func ptNoteWinsOverSections() throws {
        var elf = Fixture.miniOS()
        elf.sections = [.init(payload: Note.xen(Fixture.guestOS, Note.text("other")))]
        let image = try accept(elf.build())
        #expect(image.notes.guestOS == "Mini-OS")
        #expect(image.notes.all.count == 4)
    }

    @Test func eightByteAlignedNotesParse() throws {
        let notes = Note.make(type: 6, Note.text("Mini-OS"), align: 8) + Note.make(type: 8, Note.text("generic"), align: 8)
            + Note.make(type: 2, Note.u64(0x1000), align: 8) + Note.make(type: 5, Note.text("xen-3.0"), align: 8)
        var elf = Fixture.miniOS(notes: notes)
        elf.segments[0].align = 8
        let image = try accept(elf.build())
        #expect(image.notes.guestOS == "Mini-OS" && image.notes.xenVersion == "xen-3.0")
        #expect(image.notes.hypercallPage == 0x1000)
    }

    @Test func trailingZeroPaddingInNoteAreaIsTolerated() throws {
        let image = try accept(Fixture.miniOS(notes: Fixture.miniOSNotes() + [0, 0, 0, 0]).build())
        #expect(image.notes.all.count == 4)
    }

    @Test func entryZeroIsFineWhenASegmentCoversAddressZero() throws {
        var elf = Fixture.miniOS()
        elf.entry = 0
        #expect(try accept(elf.build()).entry == 0)
    }

    @Test func sharedObjectTypeIsAccepted() throws {
        var elf = Fixture.miniOS()
        elf.type = 3                                                   // ET_DYN
        #expect(try accept(elf.build()).segments.count == 2)
    }

    @Test func laterDuplicateNoteWinsAndBothAreListed() throws {
        let notes = Fixture.miniOSNotes() + Note.xen(Fixture.guestOS, Note.text("Mini-OS 2"))
        let image = try accept(Fixture.miniOS(notes: notes).build())
        #expect(image.notes.guestOS == "Mini-OS 2")
        #expect(image.notes.all.filter { $0.type == 6 }.map(\.value) == ["Mini-OS", "Mini-OS 2"])
    }

    @Test func linuxAcceptedWithoutLoaderNote() throws {
        #expect(try accept(Fixture.linux().build(), limits: ELFLimits(memoryBytes: 64 << 20)).notes.loader == nil)
    }

    @Test func controlCharactersInStringNotesAreEscapedForDisplay() throws {
        let notes = Fixture.miniOSNotes() + Note.xen(Fixture.guestVersion, Note.text("1\u{1b}[2J"))
        let image = try accept(Fixture.miniOS(notes: notes).build())
        #expect(image.notes.guestVersion == "1\u{1b}[2J")
        #expect(image.notes.all.last?.value == "1\\u{1B}[2J")
    }

    @Test func noteEnumNamesAndNumbers() {
        #expect(XenELFNote.allCases.count == 18)
        #expect(XenELFNote.allCases.map(\.rawValue) == Array(1 ... 18))
        #expect(XenELFNote.hypercallPage.name == "HYPERCALL_PAGE")
        #expect(XenELFNote.phys32Entry.name == "PHYS32_ENTRY")
        #expect(XenELFNote.features.isString && !XenELFNote.entry.isString)
    }
}

@Suite("VIRT_BASE and PADDR_OFFSET shift")
struct ShiftTests {
    static let limits = ELFLimits(memoryBytes: 64 << 20)

    @Test func linuxLayoutLandsAtItsLinkAddress() throws {
        let image = try accept(Fixture.linux().build(), limits: Self.limits)
        #expect(image.virtBase == 0xffff_ffff_8000_0000 && image.paddrOffset == 0)
        #expect(image.segments.map(\.vaddr) == [0xffff_ffff_8100_0000, 0xffff_ffff_8120_0000])
        #expect(image.kernelStart == 0xffff_ffff_8100_0000)
        #expect(image.kernelEnd == 0xffff_ffff_8130_0000)
        #expect(image.entry == 0xffff_ffff_8100_0040)
    }

    @Test func paddrOffsetEqualToVirtBaseMeansNoShift() throws {
        // Older kernels: p_paddr already is the virtual address.
        let elf = Fixture.linux(paddrOffset: 0xffff_ffff_8000_0000, paddr: 0xffff_ffff_8100_0000)
        let image = try accept(elf.build(), limits: Self.limits)
        #expect(image.segments.map(\.vaddr) == [0xffff_ffff_8100_0000, 0xffff_ffff_8120_0000])
    }

    @Test func paddrOffsetAboveVirtBaseShiftsDown() throws {
        // VA = 0x900000 + 0x400000 − 0x800000 = 0x500000.
        let elf = Fixture.linux(virtBase: 0x40_0000, paddrOffset: 0x80_0000, paddr: 0x90_0000, entry: 0x50_0000)
        let image = try accept(elf.build(), limits: Self.limits)
        #expect(image.segments.map(\.vaddr) == [0x50_0000, 0x70_0000])
        #expect(image.kernelStart == 0x50_0000 && image.kernelEnd == 0x80_0000)
    }
}
