import HyperABI

/// Xen's ELF notes (name "Xen") found in PT_NOTE segments, else SHT_NOTE sections.
///
/// Each field is nil when its note is absent. When a note appears twice the later one wins,
/// as in Xen; `all` keeps both.
public struct XenNotes: Sendable, Equatable {
    public var entry: UInt64?
    public var hypercallPage: UInt64?
    public var virtBase: UInt64?
    public var paddrOffset: UInt64?
    public var xenVersion: String?
    public var guestOS: String?
    public var guestVersion: String?
    public var loader: String?
    public var paeMode: String?
    public var features: String?
    public var bsdSymtab: String?
    public var hvStartLow: UInt64?
    /// The mask of L1_MFN_VALID (Linux writes a 16-byte mask/value pair; the value is in `all`).
    public var l1MFNValid: UInt64?
    public var suspendCancel: UInt64?
    public var initP2M: UInt64?
    public var modStartPFN: UInt64?
    public var supportedFeatures: UInt32?
    public var phys32Entry: UInt32?
    /// Every Xen note in file order, for display, including types this loader does not know.
    public var all: [XenNote]

    public init() { all = [] }

    /// Name of a Xen note type: XenELFNote's name, a few more Xen defines, else "UNKNOWN".
    static func typeName(_ type: UInt32) -> String {
        if let known = XenELFNote(rawValue: type) { return known.name }
        switch type {
        case 0: return "INFO"
        case 19: return "PHYS32_RELOC"
        default: return "UNKNOWN"
        }
    }

    /// Gives one Xen note's descriptor its meaning; returns the problem if it has none.
    mutating func record(type: UInt32, descriptor: [UInt8]) -> ELFImageError.NoteProblem? {
        guard let note = XenELFNote(rawValue: type) else {
            all.append(XenNote(type: type, name: Self.typeName(type), value: hexDump(descriptor)))
            return nil
        }
        if note.isString {
            let text = cString(descriptor)
            switch note {
            case .xenVersion: xenVersion = text
            case .guestOS: guestOS = text
            case .guestVersion: guestVersion = text
            case .loader: loader = text
            case .paeMode: paeMode = text
            case .features: features = text
            case .bsdSymtab: bsdSymtab = text
            default: break
            }
            all.append(XenNote(type: type, name: note.name, value: printable(text)))
            return nil
        }
        // Linux writes L1_MFN_VALID as two quads: the mask of PTE bits, then the value they must have.
        if note == .l1MFNValid, descriptor.count == 16 {
            let mask = littleEndian(descriptor[0 ..< 8]), value = littleEndian(descriptor[8 ..< 16])
            l1MFNValid = mask
            all.append(XenNote(type: type, name: note.name, value: "mask \(hex(mask)), value \(hex(value))"))
            return nil
        }
        guard descriptor.count == 4 || descriptor.count == 8 else {
            return .numericSize(type: type, size: UInt32(truncatingIfNeeded: descriptor.count))
        }
        let value = littleEndian(descriptor[...])
        switch note {
        case .entry: entry = value
        case .hypercallPage: hypercallPage = value
        case .virtBase: virtBase = value
        case .paddrOffset: paddrOffset = value
        case .hvStartLow: hvStartLow = value
        case .l1MFNValid: l1MFNValid = value
        case .suspendCancel: suspendCancel = value
        case .initP2M: initP2M = value
        case .modStartPFN: modStartPFN = value
        case .supportedFeatures, .phys32Entry:
            guard let narrow = UInt32(exactly: value) else { return .valueTooLarge(type: type, value: value) }
            if note == .supportedFeatures { supportedFeatures = narrow } else { phys32Entry = narrow }
        default: break
        }
        all.append(XenNote(type: type, name: note.name, value: hex(value)))
        return nil
    }

    /// Xen's acceptance rule (xen-pv-facts §2.4), checked in Xen's order; nil when accepted.
    var rejection: ELFImageError.NotXenReason? {
        let generic = loader?.hasPrefix("generic") ?? false
        let linux = guestOS?.hasPrefix("linux") ?? false
        if !generic && !linux { return .loaderOrGuestOS(loader: loader, guestOS: guestOS) }
        guard let xenVersion, xenVersion.hasPrefix("xen-3.0") else { return .xenVersion(xenVersion) }
        return nil
    }
}

/// One Xen note as found in the file, for display.
public struct XenNote: Sendable, Equatable {
    /// The note's `n_type`, e.g. 2 for HYPERCALL_PAGE.
    public let type: UInt32
    /// The type's name, e.g. "HYPERCALL_PAGE"; "UNKNOWN" for types Xen does not define.
    public let name: String
    /// The value rendered for a person: hex for numbers, the text for strings, bytes otherwise.
    public let value: String

    public init(type: UInt32, name: String, value: String) {
        self.type = type
        self.name = name
        self.value = value
    }
}

// MARK: - Descriptor decoding

/// Little-endian number from up to 8 bytes.
private func littleEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
    bytes.reversed().reduce(0) { ($0 << 8) | UInt64($1) }
}

/// Text up to the first NUL; a missing NUL is tolerated, invalid UTF-8 becomes U+FFFD.
private func cString(_ bytes: [UInt8]) -> String {
    String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
}

/// The text with control characters escaped, so a hostile note cannot drive a terminal.
private func printable(_ text: String) -> String {
    text.unicodeScalars.map { scalar in
        scalar.properties.generalCategory == .control ? scalar.escaped(asASCII: true) : String(scalar)
    }.joined()
}

/// "de ad be ef" for at most 32 bytes, then "…".
private func hexDump(_ bytes: [UInt8]) -> String {
    let shown = bytes.prefix(32).map { $0 < 0x10 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
    return shown.joined(separator: " ") + (bytes.count > 32 ? " …" : "")
}
