import ELFImage
import Testing

/// Standard images the tests start from, and helpers to check refusals.
enum Fixture {
    static let name = "bad.elf"
    static let limits = ELFLimits(memoryBytes: 16 << 20)

    // Program header types and note types, spelled out once.
    static let ptLoad: UInt32 = 1, ptNote: UInt32 = 4
    static let entry: UInt32 = 1, hypercallPage: UInt32 = 2, virtBase: UInt32 = 3, paddrOffset: UInt32 = 4
    static let xenVersion: UInt32 = 5, guestOS: UInt32 = 6, guestVersion: UInt32 = 7, loader: UInt32 = 8
    static let initP2M: UInt32 = 15, supportedFeatures: UInt32 = 17, phys32Entry: UInt32 = 18

    static let text: [UInt8] = (0 ..< 0x100).map { UInt8($0) }
    static let data = [UInt8](repeating: 0xaa, count: 0x40)

    /// The notes Mini-OS carries (xen-pv-facts §2.4), HYPERCALL_PAGE at 0x1000.
    static func miniOSNotes(hypercallPage page: UInt64 = 0x1000) -> [UInt8] {
        Note.xen(guestOS, Note.text("Mini-OS")) + Note.xen(loader, Note.text("generic"))
            + Note.xen(hypercallPage, Note.u64(page)) + Note.xen(xenVersion, Note.text("xen-3.0"))
    }

    /// A Mini-OS-like kernel linked at VA 0: segment 0 PT_NOTE, 1 text [0, 0x3000) R-X,
    /// 2 data [0x3000, 0x5000) RW-, entry 0x10.
    static func miniOS(notes: [UInt8]? = nil) -> ELFWriter {
        var elf = ELFWriter()
        elf.entry = 0x10
        elf.segments = [
            .init(type: ptNote, flags: 0b100, payload: notes ?? miniOSNotes()),
            .init(paddr: 0, memSize: 0x3000, payload: text),
            .init(flags: 0b110, paddr: 0x3000, memSize: 0x2000, payload: data),
        ]
        return elf
    }

    /// A Linux-like kernel: VIRT_BASE 0xffffffff80000000, PADDR_OFFSET 0, loaded at 16 MiB physical.
    static func linux(virtBase base: UInt64 = 0xffff_ffff_8000_0000, paddrOffset offset: UInt64 = 0,
                      paddr: UInt64 = 0x100_0000, entry noteEntry: UInt64 = 0xffff_ffff_8100_0040) -> ELFWriter {
        var elf = ELFWriter()
        elf.entry = 0x100_0000                       // a physical address: the ENTRY note must win
        let notes = Note.xen(guestOS, Note.text("linux")) + Note.xen(xenVersion, Note.text("xen-3.0"))
            + Note.xen(virtBase, Note.u64(base)) + Note.xen(paddrOffset, Note.u64(offset))
            + Note.xen(entry, Note.u64(noteEntry))
        elf.segments = [
            .init(paddr: paddr, vaddr: 0xffff_ffff_8100_0000, memSize: 0x20_0000, payload: text),
            .init(flags: 0b110, paddr: paddr + 0x20_0000, vaddr: 0xffff_ffff_8120_0000, memSize: 0x10_0000, payload: data),
            .init(type: ptNote, flags: 0b100, payload: notes),
        ]
        return elf
    }
}

/// Loads `bytes` and returns the error, or nil if the image was accepted.
func refusal(_ bytes: [UInt8], limits: ELFLimits = Fixture.limits) -> ELFImageError? {
    do {
        _ = try ELFImage.load(bytes: bytes, name: Fixture.name, limits: limits)
        return nil
    } catch {
        return error
    }
}

/// Expects exactly `expected`, a message naming the file, and (if given) containing `text`.
func expectRefusal(_ bytes: [UInt8], _ expected: ELFImageError, limits: ELFLimits = Fixture.limits,
                   mentioning text: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    let error = refusal(bytes, limits: limits)
    #expect(error == expected, sourceLocation: sourceLocation)
    guard let error else { return }
    #expect(error.file == Fixture.name, sourceLocation: sourceLocation)
    #expect(error.description.hasPrefix("\(Fixture.name): "), "\(error)", sourceLocation: sourceLocation)
    if let text {
        #expect(error.description.contains(text), "\(error)", sourceLocation: sourceLocation)
    }
}

/// Loads an image that must be accepted.
func accept(_ bytes: [UInt8], limits: ELFLimits = Fixture.limits,
            sourceLocation: SourceLocation = #_sourceLocation) throws -> ELFImage {
    do {
        return try ELFImage.load(bytes: bytes, name: Fixture.name, limits: limits)
    } catch {
        Issue.record("refused: \(error)", sourceLocation: sourceLocation)
        throw error
    }
}
