import Glibc

/// Why a kernel image was refused; each message starts with the file's name and says what to fix.
public enum ELFImageError: Error, Equatable, CustomStringConvertible {
    /// open(2) failed; `errno` is the host errno.
    case cannotOpen(file: String, errno: Int32)
    /// fstat(2) or read(2) failed; `errno` is the host errno.
    case cannotRead(file: String, errno: Int32)
    /// The file is larger than `ELFLimits.maxFileBytes` (`size` is how much was seen).
    case fileTooLarge(file: String, size: UInt64, limit: UInt64)
    /// The file has no bytes at all.
    case emptyFile(file: String)
    /// The file does not start with `\x7fELF`; `magic` is what it starts with (up to 4 bytes).
    case notELF(file: String, magic: [UInt8])
    /// `e_ident[EI_CLASS]` is not ELFCLASS64 (1 is ELFCLASS32).
    case unsupportedClass(file: String, elfClass: UInt8)
    /// `e_ident[EI_DATA]` is not ELFDATA2LSB (2 is big-endian).
    case wrongByteOrder(file: String, encoding: UInt8)
    /// A header field holds a value no valid file has.
    case badHeaderField(file: String, field: HeaderField, value: UInt64)
    /// `e_machine` is not EM_X86_64 (62).
    case wrongMachine(file: String, machine: UInt16)
    /// `e_type` is not ET_EXEC (2) or ET_DYN (3).
    case wrongType(file: String, type: UInt16)
    /// The file is shorter than the 64-byte ELF64 header.
    case truncatedHeader(file: String, fileSize: UInt64)
    /// The program or section header table runs past the end of the file.
    case tableBeyondFile(file: String, table: HeaderTable, offset: UInt64, count: UInt64, entrySize: UInt64, fileSize: UInt64)
    /// `e_phnum` is absurd (more than `limit`, or PN_XNUM).
    case tooManyProgramHeaders(file: String, count: UInt64, limit: UInt64)
    /// No PT_LOAD segment with a non-zero `p_memsz`.
    case noLoadSegments(file: String)
    /// A PT_LOAD or PT_NOTE segment's `p_offset + p_filesz` is past the end of the file.
    case segmentBeyondFile(file: String, segment: Int, offset: UInt64, size: UInt64, fileSize: UInt64)
    /// An SHT_NOTE section's `sh_offset + sh_size` is past the end of the file.
    case sectionBeyondFile(file: String, section: Int, offset: UInt64, size: UInt64, fileSize: UInt64)
    /// A PT_LOAD segment's `p_filesz` is larger than its `p_memsz`.
    case fileSizeExceedsMemorySize(file: String, segment: Int, fileSize: UInt64, memSize: UInt64)
    /// A PT_LOAD segment's `p_memsz` alone is larger than guest memory.
    case segmentTooLarge(file: String, segment: Int, memSize: UInt64, limit: UInt64)
    /// `p_paddr + VIRT_BASE − PADDR_OFFSET`, or that plus `p_memsz`, leaves the 64-bit address space.
    case segmentAddressOverflow(file: String, segment: Int, paddr: UInt64, memSize: UInt64, virtBase: UInt64, paddrOffset: UInt64)
    /// Two PT_LOAD segments' final VA ranges intersect (`first` < `second`).
    case overlappingSegments(file: String, first: Int, firstRange: Range<UInt64>, second: Int, secondRange: Range<UInt64>)
    /// A segment starts below `VIRT_BASE` or ends more than `memoryBytes` above it.
    case segmentOutsideGuestMemory(file: String, segment: Int, range: Range<UInt64>, virtBase: UInt64, memoryBytes: UInt64)
    /// `e_entry` is 0, there is no ENTRY note, and no segment covers address 0.
    case noEntry(file: String)
    /// The entry point is not inside any PT_LOAD segment.
    case entryOutsideSegments(file: String, entry: UInt64, fromNote: Bool)
    /// HYPERCALL_PAGE is not a multiple of 4096.
    case hypercallPageMisaligned(file: String, address: UInt64)
    /// HYPERCALL_PAGE is outside `[kernelStart, kernelEnd)`.
    case hypercallPageOutsideKernel(file: String, address: UInt64, kernelStart: UInt64, kernelEnd: UInt64)
    /// INIT_P2M asks for the P2M list to be mapped inside the kernel image.
    case initP2MInsideKernel(file: String, address: UInt64, kernelStart: UInt64, kernelEnd: UInt64)
    /// A note is malformed; `offset` is the note's offset in the file (in a compressed section:
    /// the section's file offset plus the note's offset in the inflated data).
    case badNote(file: String, location: NoteLocation, offset: UInt64, problem: NoteProblem)
    /// The Xen notes are missing or do not describe a kernel Xen would load.
    case notXenImage(file: String, reason: NotXenReason)
    /// A PADDR_OFFSET note without a VIRT_BASE note.
    case paddrOffsetWithoutVirtBase(file: String, paddrOffset: UInt64)
    /// A libelf call failed; `message` is `elf_errmsg`.
    case libelf(file: String, function: String, message: String)

    /// Header fields whose value is out of their legal range.
    public enum HeaderField: String, Sendable {
        case identVersion = "e_ident[EI_VERSION]"
        case version = "e_version"
        case programHeaderEntrySize = "e_phentsize"
        case programHeaderOffset = "e_phoff"

        var expected: String {
            switch self {
            case .identVersion, .version: "1 (EV_CURRENT)"
            case .programHeaderEntrySize: "56 (the size of Elf64_Phdr)"
            case .programHeaderOffset: "at least 64 (the table follows the ELF header)"
            }
        }
    }

    /// The two header tables an ELF file can have.
    public enum HeaderTable: String, Sendable {
        case programHeaders = "program header table"
        case sectionHeaders = "section header table"
    }

    /// Where a note was read from.
    public enum NoteLocation: Equatable, Sendable, CustomStringConvertible {
        case segment(Int)
        case section(Int)

        public var description: String {
            switch self {
            case .segment(let index): "PT_NOTE segment \(index)"
            case .section(let index): "SHT_NOTE section \(index)"
            }
        }
    }

    /// What is wrong with a note.
    public enum NoteProblem: Equatable, Sendable, CustomStringConvertible {
        /// Fewer bytes are left in the note area than a 12-byte note header needs.
        case truncatedHeader(remaining: UInt64)
        /// `n_namesz`/`n_descsz` (padded) run past the end of the note area.
        case sizesBeyondArea(nameSize: UInt32, descSize: UInt32, remaining: UInt64)
        /// A numeric Xen note whose descriptor is not 4 or 8 bytes long.
        case numericSize(type: UInt32, size: UInt32)
        /// A numeric Xen note whose value does not fit its 32-bit field.
        case valueTooLarge(type: UInt32, value: UInt64)
        /// More notes than anyone would write.
        case tooManyNotes(limit: Int)
        /// A compressed note section that claims to inflate to more than `limit` bytes.
        case compressedTooLarge(size: UInt64, limit: UInt64)

        public var description: String {
            switch self {
            case .truncatedHeader(let remaining):
                "only \(remaining) bytes are left in the note area, too few for a 12-byte note header"
            case .sizesBeyondArea(let nameSize, let descSize, let remaining):
                "n_namesz \(hex(nameSize)) and n_descsz \(hex(descSize)) run past the end of the note area (\(hex(remaining)) bytes left)"
            case .numericSize(let type, let size):
                "\(noteName(type)) has a \(size)-byte descriptor; numeric Xen notes must be 4 or 8 bytes"
            case .valueTooLarge(let type, let value):
                "\(noteName(type)) value \(hex(value)) does not fit in 32 bits"
            case .tooManyNotes(let limit):
                "more than \(limit) notes; no kernel has that many"
            case .compressedTooLarge(let size, let limit):
                "the compressed section claims to inflate to \(hex(size)) bytes, more than the \(hex(limit)) allowed for notes"
            }
        }
    }

    /// Why the notes do not make a Xen PV kernel (Xen's acceptance rule).
    public enum NotXenReason: Equatable, Sendable, CustomStringConvertible {
        /// No note named "Xen" in any PT_NOTE segment or SHT_NOTE section.
        case noXenNotes
        /// XEN_VERSION is missing (nil) or does not start with "xen-3.0".
        case xenVersion(String?)
        /// Neither LOADER starts with "generic" nor GUEST_OS with "linux".
        case loaderOrGuestOS(loader: String?, guestOS: String?)

        public var description: String {
            switch self {
            case .noXenNotes:
                "no Xen ELF notes"
            case .xenVersion(nil):
                "no XEN_VERSION note (Xen loads only kernels built for \"xen-3.0\")"
            case .xenVersion(let version?):
                "XEN_VERSION is \"\(version)\"; it must start with \"xen-3.0\""
            case .loaderOrGuestOS(let loader, let guestOS):
                "LOADER is \(quoted(loader)) and GUEST_OS is \(quoted(guestOS)); "
                    + "LOADER must start with \"generic\" or GUEST_OS with \"linux\""
            }
        }
    }

    /// The file (path or name) the error is about.
    public var file: String {
        switch self {
        case .cannotOpen(let file, _), .cannotRead(let file, _), .fileTooLarge(let file, _, _),
             .emptyFile(let file), .notELF(let file, _), .unsupportedClass(let file, _),
             .wrongByteOrder(let file, _), .badHeaderField(let file, _, _), .wrongMachine(let file, _),
             .wrongType(let file, _), .truncatedHeader(let file, _), .tableBeyondFile(let file, _, _, _, _, _),
             .tooManyProgramHeaders(let file, _, _), .noLoadSegments(let file),
             .segmentBeyondFile(let file, _, _, _, _), .sectionBeyondFile(let file, _, _, _, _),
             .fileSizeExceedsMemorySize(let file, _, _, _), .segmentTooLarge(let file, _, _, _),
             .segmentAddressOverflow(let file, _, _, _, _, _), .overlappingSegments(let file, _, _, _, _),
             .segmentOutsideGuestMemory(let file, _, _, _, _), .noEntry(let file),
             .entryOutsideSegments(let file, _, _), .hypercallPageMisaligned(let file, _),
             .hypercallPageOutsideKernel(let file, _, _, _), .initP2MInsideKernel(let file, _, _, _),
             .badNote(let file, _, _, _), .notXenImage(let file, _),
             .paddrOffsetWithoutVirtBase(let file, _), .libelf(let file, _, _):
            file
        }
    }

    public var description: String { "\(file): \(problem)" }

    /// The message without the file name.
    private var problem: String {
        switch self {
        case .cannotOpen(_, let code):
            return "cannot open: \(errnoDescription(code))"
        case .cannotRead(_, let code):
            return "cannot read: \(errnoDescription(code))"
        case .fileTooLarge(_, let size, let limit):
            return "file is too large: at least \(hex(size)) bytes, over the maxFileBytes limit of \(hex(limit))"
        case .emptyFile:
            return "file is empty"
        case .notELF(_, let magic):
            let found = magic.map { hex2($0) }.joined(separator: " ")
            return "not an ELF file: it starts with \(found.isEmpty ? "nothing" : found), not 7f 45 4c 46 (\"\\x7fELF\")"
        case .unsupportedClass(_, 1):
            return "ELFCLASS32: only 64-bit x86-64 PV kernels are supported"
        case .unsupportedClass(_, let elfClass):
            return "e_ident[EI_CLASS] is \(elfClass), not a valid ELF class: only 64-bit (ELFCLASS64) x86-64 PV kernels are supported"
        case .wrongByteOrder(_, 2):
            return "ELFDATA2MSB (big-endian): x86-64 PV kernels are little-endian (ELFDATA2LSB)"
        case .wrongByteOrder(_, let encoding):
            return "e_ident[EI_DATA] is \(encoding), not a valid byte order: x86-64 PV kernels are little-endian (ELFDATA2LSB)"
        case .badHeaderField(_, let field, let value):
            return "\(field.rawValue) is \(value), expected \(field.expected)"
        case .wrongMachine(_, let machine):
            return "e_machine is \(machineName(machine)) (\(machine)); expected EM_X86_64 (62)"
        case .wrongType(_, let type):
            return "e_type is \(typeDescription(type)); only executables (ET_EXEC, or ET_DYN) can be loaded"
        case .truncatedHeader(_, let fileSize):
            return "truncated: the file is \(fileSize) bytes, too short for the 64-byte ELF64 header"
        case .tableBeyondFile(_, let table, let offset, let count, let entrySize, let fileSize):
            return "truncated: the \(table.rawValue) (offset \(hex(offset)) + \(count) × \(entrySize) bytes) "
                + "extends beyond the end of the file (size \(hex(fileSize)))"
        case .tooManyProgramHeaders(_, let count, let limit):
            return "e_phnum is \(count): an absurd number of program headers (limit \(limit))"
        case .noLoadSegments:
            return "no PT_LOAD segment with a non-zero p_memsz: nothing to load"
        case .segmentBeyondFile(_, let segment, let offset, let size, let fileSize):
            return "segment \(segment) extends beyond the end of the file "
                + "(offset \(hex(offset)) + size \(hex(size)) > file size \(hex(fileSize)))"
        case .sectionBeyondFile(_, let section, let offset, let size, let fileSize):
            return "note section \(section) extends beyond the end of the file "
                + "(offset \(hex(offset)) + size \(hex(size)) > file size \(hex(fileSize)))"
        case .fileSizeExceedsMemorySize(_, let segment, let fileSize, let memSize):
            return "segment \(segment) has p_filesz \(hex(fileSize)) larger than p_memsz \(hex(memSize))"
        case .segmentTooLarge(_, let segment, let memSize, let limit):
            return "segment \(segment) has an absurd p_memsz \(hex(memSize)): more than the guest's \(hex(limit)) bytes of memory"
        case .segmentAddressOverflow(_, let segment, let paddr, let memSize, let virtBase, let paddrOffset):
            return "segment \(segment) leaves the 64-bit address space: p_paddr \(hex(paddr)) + VIRT_BASE \(hex(virtBase)) "
                + "− PADDR_OFFSET \(hex(paddrOffset)) (+ p_memsz \(hex(memSize))) wraps around"
        case .overlappingSegments(_, let first, let firstRange, let second, let secondRange):
            return "segments \(first) \(show(firstRange)) and \(second) \(show(secondRange)) overlap"
        case .segmentOutsideGuestMemory(_, let segment, let range, let virtBase, let memoryBytes):
            if range.lowerBound < virtBase {
                return "segment \(segment) at \(show(range)) starts below VIRT_BASE \(hex(virtBase)), outside guest memory"
            }
            return "segment \(segment) at \(show(range)) ends \(hex(range.upperBound - virtBase)) bytes above "
                + "VIRT_BASE \(hex(virtBase)), beyond the guest's \(hex(memoryBytes)) bytes of memory"
        case .noEntry:
            return "no entry point: e_entry is 0, there is no ENTRY note, and no segment contains address 0"
        case .entryOutsideSegments(_, let entry, let fromNote):
            return "entry point \(hex(entry)) (\(fromNote ? "ENTRY note" : "e_entry")) is not inside any PT_LOAD segment"
        case .hypercallPageMisaligned(_, let address):
            return "HYPERCALL_PAGE \(hex(address)) is not page-aligned (4096 bytes)"
        case .hypercallPageOutsideKernel(_, let address, let start, let end):
            return "HYPERCALL_PAGE \(hex(address)) is outside the kernel image \(show(start ..< end))"
        case .initP2MInsideKernel(_, let address, let start, let end):
            return "INIT_P2M \(hex(address)) is inside the kernel image \(show(start ..< end))"
        case .badNote(_, let location, let offset, let problem):
            return "bad ELF note at file offset \(hex(offset)) in \(location): \(problem)"
        case .notXenImage(_, let reason):
            return "not a Xen PV kernel: \(reason)"
        case .paddrOffsetWithoutVirtBase(_, let paddrOffset):
            return "PADDR_OFFSET note (\(hex(paddrOffset))) without a VIRT_BASE note: add VIRT_BASE or drop PADDR_OFFSET"
        case .libelf(_, let function, let message):
            return "libelf \(function) failed: \(message)"
        }
    }
}

// MARK: - Formatting

func hex<T: BinaryInteger>(_ value: T) -> String { "0x" + String(value, radix: 16) }

private func hex2(_ byte: UInt8) -> String { byte < 0x10 ? "0" + String(byte, radix: 16) : String(byte, radix: 16) }

private func show(_ range: Range<UInt64>) -> String { "[\(hex(range.lowerBound)), \(hex(range.upperBound)))" }

private func quoted(_ text: String?) -> String { text.map { "\"\($0)\"" } ?? "absent" }

/// Name of a Xen note type for messages, e.g. "ENTRY (1)".
func noteName(_ type: UInt32) -> String {
    "\(XenNotes.typeName(type)) (\(type))"
}

private func machineName(_ machine: UInt16) -> String {
    switch machine {
    case 0: "EM_NONE"
    case 2: "EM_SPARC"
    case 3: "EM_386"
    case 8: "EM_MIPS"
    case 20: "EM_PPC"
    case 21: "EM_PPC64"
    case 22: "EM_S390"
    case 40: "EM_ARM"
    case 43: "EM_SPARCV9"
    case 50: "EM_IA_64"
    case 62: "EM_X86_64"
    case 183: "EM_AARCH64"
    case 243: "EM_RISCV"
    case 247: "EM_BPF"
    case 258: "EM_LOONGARCH"
    default: "an unknown machine"
    }
}

/// "ET_REL (1), a relocatable object".
private func typeDescription(_ type: UInt16) -> String {
    switch type {
    case 0: "ET_NONE (0)"
    case 1: "ET_REL (1), a relocatable object"
    case 2: "ET_EXEC (2)"
    case 3: "ET_DYN (3)"
    case 4: "ET_CORE (4), a core dump"
    default: "\(type), an unknown type"
    }
}

/// "ENOENT (No such file or directory)" for a host errno.
private func errnoDescription(_ code: Int32) -> String {
    let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", EINTR: "EINTR", EIO: "EIO", ENXIO: "ENXIO", EBADF: "EBADF",
        EAGAIN: "EAGAIN", ENOMEM: "ENOMEM", EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY",
        ENODEV: "ENODEV", ENOTDIR: "ENOTDIR", EISDIR: "EISDIR", EINVAL: "EINVAL", ENFILE: "ENFILE",
        EMFILE: "EMFILE", ETXTBSY: "ETXTBSY", EFBIG: "EFBIG", EROFS: "EROFS", ENAMETOOLONG: "ENAMETOOLONG",
        ELOOP: "ELOOP", EOVERFLOW: "EOVERFLOW",
    ]
    let name = names[code] ?? "errno \(code)"
    guard let text = strerror(code) else { return name }
    return "\(name) (\(String(cString: text)))"
}
