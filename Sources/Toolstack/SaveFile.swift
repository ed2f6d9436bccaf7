import Foundation
import Glibc
import Hypervisor

/// The save file (`hv save`/`hv restore`): self-describing and versioned.
///
///     0   magic "HVSAVE\n\0"
///     8   format version (u32 LE)          12  reserved (0)
///     16  header offset (u64 LE)           24  header length (u64 LE)
///     32  the populated pages, 4096 bytes each, in PFN order (page tables in canonical form)
///     …   the header: JSON (`SaveHeader`)
///
/// The header goes last because it holds what only the end of the capture knows; a reader finds it from
/// the preamble, checks the versions and only then reads pages.
public enum SaveFile {
    public static let magic: [UInt8] = Array("HVSAVE\n\0".utf8)
    /// Bumped whenever the layout or the header's meaning changes; a different one is refused.
    public static let formatVersion: UInt32 = 1
    static let preamble = 32
}

/// What a save file says about the domain besides its pages.
public struct SaveHeader: Codable, Sendable {
    public var formatVersion: UInt32
    public var hypervisorVersion: String
    public var savedAt: Date
    /// How the guest was stopped: "paused" (it was not told) or "suspend" (it suspended itself).
    public var stoppedBy: String
    public var config: SavedConfig
    public var image: DomainImage
    public var storePFN: Int
    public var consolePFN: Int
    public var storePort: UInt32
    public var consolePort: UInt32
    /// The guest's XenStore subtree: paths relative to its home, values, permissions ("n0", "r5" …).
    public var xenstore: [SavedNode]
    /// The guest's XenStore watches (set again for it on restore, as its connection is new).
    public var watches: [SavedWatch]
    /// The domain id it had (absolute paths in its watches name it).
    public var domid: UInt16
    public var consoleLog: Data
    public var pages: Int

    /// One watch: the path as the guest gave it and its token.
    public struct SavedWatch: Codable, Sendable {
        public var path: String
        public var token: Data
    }

    /// One XenStore node.
    public struct SavedNode: Codable, Sendable {
        public var path: String
        public var value: Data
        public var permissions: [String]
    }
}

/// The configuration a domain was built from, as a save file keeps it (the kernel need not exist to restore).
public struct SavedConfig: Codable, Sendable {
    public var name: String
    public var kernel: String
    public var ramdisk: String?
    public var memoryBytes: Int
    public var maxMemoryBytes: Int?
    public var cmdline: String
    public var privileged: String
    public var weight: Int
    public var cap: Int
    public var vcpus: Int
    public var policy: LifecyclePolicy

    init(_ c: DomainConfig, policy: LifecyclePolicy) {
        name = c.name; kernel = c.kernel; ramdisk = c.ramdisk; memoryBytes = c.memoryBytes; maxMemoryBytes = c.maxMemoryBytes
        cmdline = c.cmdline; privileged = c.privileged.rawValue; weight = c.weight; cap = c.cap; vcpus = c.vcpus; self.policy = policy
    }

    var config: DomainConfig {
        DomainConfig(name: name, kernel: kernel, memoryBytes: memoryBytes, cmdline: cmdline, privileged: DomainConfig.Privileged(rawValue: privileged) ?? .xen,
                     maxMemoryBytes: maxMemoryBytes, weight: weight, cap: cap, vcpus: vcpus, ramdisk: ramdisk)
    }
}

/// Writes a save file: preamble, pages as they come, header, then the preamble's pointers.
final class SaveFileWriter {
    private let fd: Int32
    let path: String
    private(set) var pages = 0

    init(path: String) throws(ToolstackError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .invalid(object: path, problem: "cannot create: \(String(cString: strerror(errno)))") }
        try write(SaveFile.magic + Self.le(UInt64(SaveFile.formatVersion)) + [UInt8](repeating: 0, count: 16))
    }

    deinit { close(fd) }

    func write(_ bytes: [UInt8]) throws(ToolstackError) {
        let failure = bytes.withUnsafeBytes { raw -> ToolstackError? in
            do throws(ToolstackError) { try write(raw); return nil } catch { return error }
        }
        if let failure { throw failure }
    }

    func write(_ raw: UnsafeRawBufferPointer) throws(ToolstackError) {
        var off = 0
        while off < raw.count {
            let n = Glibc.write(fd, raw.baseAddress! + off, raw.count - off)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw .invalid(object: path, problem: "write failed: \(String(cString: strerror(errno)))") }
            off += n
        }
    }

    func page(_ raw: UnsafeRawBufferPointer) throws(ToolstackError) {
        try write(raw)
        pages += 1
    }

    /// Appends the header, fills in the preamble and flushes the file to disk.
    func finish(_ header: SaveHeader) throws(ToolstackError) {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        guard let json = try? encoder.encode(header) else { throw .invalid(object: path, problem: "cannot encode the header") }
        let offset = UInt64(SaveFile.preamble + pages * 4096)
        try write(Array(json))
        let pointers = Self.le(offset) + Self.le(UInt64(json.count))
        guard pointers.withUnsafeBytes({ pwrite(fd, $0.baseAddress, 16, 16) }) == 16, fsync(fd) == 0 else {
            throw .invalid(object: path, problem: "cannot finish: \(String(cString: strerror(errno)))")
        }
    }

    static func le(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
}

/// Reads a save file: checks the preamble and versions, decodes the header, then hands out pages in order.
final class SaveFileReader {
    private let fd: Int32
    let path: String
    let header: SaveHeader
    private var next = 0

    init(path: String) throws(ToolstackError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .invalid(object: path, problem: "cannot open: \(String(cString: strerror(errno)))") }
        self.fd = fd
        var pre = [UInt8](repeating: 0, count: SaveFile.preamble)
        guard pre.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, SaveFile.preamble, 0) }) == SaveFile.preamble,
              Array(pre[0..<8]) == SaveFile.magic else {
            close(fd)
            throw .invalid(object: path, problem: "not an hv save file (no HVSAVE magic)")
        }
        func word(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(pre[at + $1]) << (8 * UInt64($1)) } }
        let version = UInt32(truncatingIfNeeded: word(8))
        guard version == SaveFile.formatVersion else {
            close(fd)
            throw .invalid(object: path, problem: "save file format version \(version); this hv reads version \(SaveFile.formatVersion) only")
        }
        let offset = word(16), length = word(24)
        var size = stat()
        guard fstat(fd, &size) == 0, offset >= UInt64(SaveFile.preamble), length > 0, length < 1 << 30,
              offset + length == UInt64(size.st_size) else {
            close(fd)
            throw .invalid(object: path, problem: "truncated or damaged (the header is not where the preamble says)")
        }
        var json = [UInt8](repeating: 0, count: Int(length))
        let got = json.withUnsafeMutableBytes { pread(fd, $0.baseAddress, Int(length), off_t(offset)) }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard got == Int(length), let header = try? decoder.decode(SaveHeader.self, from: Data(json)) else {
            close(fd)
            throw .invalid(object: path, problem: "its header cannot be read")
        }
        guard header.formatVersion == SaveFile.formatVersion, UInt64(header.pages) * 4096 + UInt64(SaveFile.preamble) == offset else {
            close(fd)
            throw .invalid(object: path, problem: "its header disagrees with its size (format \(header.formatVersion), \(header.pages) pages)")
        }
        self.header = header
    }

    deinit { close(fd) }

    /// The next page, in file order.
    func page(into buffer: UnsafeMutableRawBufferPointer) throws(ToolstackError) {
        guard next < header.pages else { throw .invalid(object: path, problem: "more pages wanted than the file holds") }
        let n = pread(fd, buffer.baseAddress, 4096, off_t(SaveFile.preamble + next * 4096))
        guard n == 4096 else { throw .invalid(object: path, problem: "short read at page \(next)") }
        next += 1
    }
}
