import Foundation
import Glibc

/// A domain's configuration as an xl.cfg file describes it: what `DomainBuilder` needs, plus what only
/// the toolstack uses (lifecycle actions, maxvcpus, uuid).
///
/// The syntax is libxlu's (see `XLConfigSyntax`); the keys are xl's, with xl's units (MiB), plus our
/// `privileged`. Everything is checked while parsing: kernel, ramdisk and disk images must exist then.
public struct DomainConfigFile: Sendable, Equatable {
    /// What the domain builder is given. Paths in it are absolute once parsed.
    public var config: DomainConfig
    /// The initial ramdisk (xl's `ramdisk`), absolute once parsed: `config.ramdisk` under xl's name.
    public var ramdisk: String? {
        get { config.ramdisk }
        set { config.ramdisk = newValue }
    }
    /// The most vCPUs the guest may bring online (xl's `maxvcpus`); nil: `config.vcpus`.
    public var maxVCPUs: Int?
    /// What to do when the guest powers off (xl's `on_poweroff`).
    public var onPoweroff: LifecycleAction
    /// What to do when the guest reboots (xl's `on_reboot`).
    public var onReboot: LifecycleAction
    /// What to do when the guest crashes (xl's `on_crash`).
    public var onCrash: LifecycleAction
    /// What to do when the guest's watchdog fires (xl's `on_watchdog`); kept, nothing fires it yet.
    public var onWatchdog: LifecycleAction
    /// xl's `uuid`: checked and kept; nothing uses it yet.
    public var uuid: UUID?
    /// The file it came from, absolute; "" when parsed from a string.
    public var path: String

    public init(config: DomainConfig, ramdisk: String? = nil, maxVCPUs: Int? = nil, onPoweroff: LifecycleAction = .destroy,
                onReboot: LifecycleAction = .restart, onCrash: LifecycleAction = .destroy, onWatchdog: LifecycleAction = .destroy,
                uuid: UUID? = nil, path: String = "") {
        self.config = config; self.maxVCPUs = maxVCPUs
        if let ramdisk { self.config.ramdisk = ramdisk }
        self.onPoweroff = onPoweroff; self.onReboot = onReboot; self.onCrash = onCrash; self.onWatchdog = onWatchdog
        self.uuid = uuid; self.path = path
    }

    /// Reads and checks a configuration file; relative paths in it are taken from the file's directory.
    public init(contentsOf path: String) throws(ConfigFileError) {
        let text = try Self.readText(path)
        let absolute = ConfigPath.absolute(path, against: ConfigPath.currentDirectory())
        try self.init(parsing: text, path: path, baseDirectory: ConfigPath.directory(of: absolute))
        self.path = absolute
    }

    /// Parses and checks configuration text. `path` names the text in errors; relative paths in it are
    /// taken from `baseDirectory`, or the current directory.
    public init(parsing text: String, path: String = "<config>", baseDirectory: String? = nil) throws(ConfigFileError) {
        let cwd = ConfigPath.currentDirectory()
        let base = baseDirectory.map { ConfigPath.absolute($0, against: cwd) } ?? cwd
        let settings: [XLConfigSetting]
        do throws(XLConfigSyntaxError) { settings = try XLConfigSyntax.parse(text) } catch {
            let accepted = error.expected ?? error.key.flatMap { Self.accepted[$0] } ?? Self.anyValue
            throw ConfigFileError(path: path, line: error.line, key: error.key, problem: error.problem, accepted: accepted)
        }
        var reader = Reader(path: path, base: base, settings: settings)
        self = try reader.read()
    }

    /// Every key a file may set, with what each accepts.
    static let keySpecs: [(key: String, accepted: String)] = [
        ("name", "a quoted name of 1–64 letters, digits, -, _ and ., not all digits"),
        ("type", "\"pv\" (only PV guests are built)"),
        ("builder", "\"generic\" (xl's older spelling of type = \"pv\")"),
        ("kernel", "a quoted path to a readable kernel image file, relative to the config file's directory"),
        ("ramdisk", "a quoted path to a readable initial ramdisk file, relative to the config file's directory"),
        ("cmdline", "a quoted kernel command line (or root and extra, but not both ways)"),
        ("root", "a quoted root device, giving the command line \"root=ROOT EXTRA\" (not with cmdline)"),
        ("extra", "quoted kernel arguments, after root=ROOT if root is given (not with cmdline)"),
        ("memory", "an integer number of MiB, at least 1"),
        ("maxmem", "an integer number of MiB, at least memory"),
        ("vcpus", "an integer from 1 to \(Self.vcpuLimit)"),
        ("maxvcpus", "an integer from vcpus to \(Self.vcpuLimit)"),
        ("cpu_weight", "an integer from 1 to 65535 (the credit scheduler's weight, default 256; not with weight)"),
        ("weight", "an integer from 1 to 65535 (another name for cpu_weight; not with it)"),
        ("cap", "an integer from 0 (no cap) to 100 × vcpus: percent of one CPU"),
        ("disk", "a list of quoted disks, \"file:/path/to/image,xvda,w\" (or ,r), each on its own xvda…xvdp, images that exist"),
        ("vif", "a list of quoted vifs, \"mac=00:16:3e:xx:xx:xx,bridge=NAME\" (both optional), each with its own MAC"),
        ("on_poweroff", actionChoices),
        ("on_reboot", actionChoices),
        ("on_crash", actionChoices),
        ("on_watchdog", actionChoices),
        ("uuid", "a quoted UUID of 32 hex digits, as \"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\""),
        // Not an xl key: our extension, see DomainConfig.Privileged.
        ("privileged", "\"xen\" (Xen's PV rules) or \"emulate\" (also cli/sti/hlt); our extension, not an xl key"),
    ]

    /// The keys a configuration file may set.
    public static let keys: [String] = keySpecs.map(\.key)

    static let accepted: [String: String] = Dictionary(uniqueKeysWithValues: keySpecs.map { ($0.key, $0.accepted) })
    static let actionChoices = "one of " + LifecycleAction.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
    static let anyValue = "a quoted string, a number, or a [ list ]"
    /// Keys that say the same thing another way: at most one of each pair.
    static let conflicts: [String: [String]] = [
        "cmdline": ["root", "extra"], "root": ["cmdline"], "extra": ["cmdline"],
        "cpu_weight": ["weight"], "weight": ["cpu_weight"],
    ]
    static let vcpuLimit = 32
    /// Keeps MiB << 20 inside Int.
    static let memoryLimitMiB = Int.max >> 20
    static let fileSizeLimit = 1 << 20

    /// The low three bytes of a vif's default MAC (after Xen's 00:16:3e): FNV-1a of the domain's name
    /// and the vif's index, so the MAC is the same on every boot and differs between domains.
    public static func defaultMACSuffix(name: String, vifIndex: Int) -> UInt32 {
        var hash: UInt32 = 0x811c_9dc5
        for byte in Array(name.utf8) + [0, UInt8(truncatingIfNeeded: vifIndex), UInt8(truncatingIfNeeded: vifIndex >> 8)] {
            hash = (hash ^ UInt32(byte)) &* 0x0100_0193
        }
        return (hash ^ hash >> 24) & 0xff_ffff
    }

    /// The configuration as xl.cfg text: name, kernel, memory and vcpus always, every other key only
    /// where it differs from the default. Paths are written absolute; memory is rounded up to MiB.
    /// Parsing the text gives back an equal configuration (except `path`).
    public func rendered() -> String {
        let cwd = ConfigPath.currentDirectory()
        let defaults = DomainConfigFile(config: DomainConfig(name: config.name, kernel: config.kernel))
        var lines: [String] = []
        func set(_ key: String, _ value: String) { lines.append("\(key) = \(value)") }
        func setList(_ key: String, _ items: [String]) {
            lines.append("\(key) = [")
            lines += items.map { "    \(Self.quoted($0))," }
            lines.append("]")
        }
        func mib(_ bytes: Int) -> String { "\((bytes + (1 << 20) - 1) >> 20)" }

        set("name", Self.quoted(config.name))
        set("kernel", Self.quoted(ConfigPath.absolute(config.kernel, against: cwd)))
        if let ramdisk { set("ramdisk", Self.quoted(ConfigPath.absolute(ramdisk, against: cwd))) }
        if !config.cmdline.isEmpty { set("cmdline", Self.quoted(config.cmdline)) }
        set("memory", mib(config.memoryBytes))
        if let maxMemoryBytes = config.maxMemoryBytes { set("maxmem", mib(maxMemoryBytes)) }
        set("vcpus", "\(config.vcpus)")
        if let maxVCPUs { set("maxvcpus", "\(maxVCPUs)") }
        if config.weight != defaults.config.weight { set("cpu_weight", "\(config.weight)") }
        if config.cap != defaults.config.cap { set("cap", "\(config.cap)") }
        if !config.disks.isEmpty {
            setList("disk", config.disks.map { disk in
                var disk = disk
                disk.path = ConfigPath.absolute(disk.path, against: cwd)
                return disk.description
            })
        }
        if !config.vifs.isEmpty { setList("vif", config.vifs.map(\.description)) }
        if onPoweroff != defaults.onPoweroff { set("on_poweroff", Self.quoted(onPoweroff.rawValue)) }
        if onReboot != defaults.onReboot { set("on_reboot", Self.quoted(onReboot.rawValue)) }
        if onCrash != defaults.onCrash { set("on_crash", Self.quoted(onCrash.rawValue)) }
        if onWatchdog != defaults.onWatchdog { set("on_watchdog", Self.quoted(onWatchdog.rawValue)) }
        if let uuid { set("uuid", Self.quoted(uuid.uuidString.lowercased())) }
        if config.privileged != defaults.config.privileged { set("privileged", Self.quoted(config.privileged.rawValue)) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A double-quoted string with the escapes the parser reads back.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for c in text.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }

    public static func == (a: DomainConfigFile, b: DomainConfigFile) -> Bool {
        guard a.maxVCPUs == b.maxVCPUs, a.uuid == b.uuid, a.path == b.path else { return false }
        guard a.onPoweroff == b.onPoweroff, a.onReboot == b.onReboot, a.onCrash == b.onCrash, a.onWatchdog == b.onWatchdog else { return false }
        // Field by field: DomainConfig is not Equatable. A field added to it must be added here.
        let x = a.config, y = b.config
        guard x.name == y.name, x.kernel == y.kernel, x.ramdisk == y.ramdisk, x.memoryBytes == y.memoryBytes, x.cmdline == y.cmdline else { return false }
        guard x.privileged == y.privileged, x.maxMemoryBytes == y.maxMemoryBytes, x.weight == y.weight, x.cap == y.cap else { return false }
        return x.vcpus == y.vcpus && x.disks == y.disks && x.vifs == y.vifs
    }

    /// The whole file as UTF-8 text, or why not, with the system's reason.
    private static func readText(_ path: String) throws(ConfigFileError) -> String {
        func refuse(_ problem: String) -> ConfigFileError {
            ConfigFileError(path: path, line: 0, key: nil, problem: problem,
                            accepted: "a readable UTF-8 text file of at most \(fileSizeLimit >> 10) KiB")
        }
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw refuse("cannot open: \(String(cString: strerror(errno)))") }
        defer { Glibc.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw refuse("cannot read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
            guard bytes.count <= fileSizeLimit else { throw refuse("larger than \(fileSizeLimit >> 10) KiB") }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw refuse("not UTF-8 text") }
        return text
    }
}

/// Interprets parsed settings key by key, in file order, then checks the keys that depend on each other.
private struct Reader {
    let path: String
    let base: String
    let settings: [XLConfigSetting]
    /// The name the default MACs are derived from, found before the vifs are read (they may come first).
    let macName: String
    /// Each key's line, to find duplicates and place errors found only after the whole file is read.
    var seen: [String: Int] = [:]
    var config = DomainConfig(name: "", kernel: "")
    var file = DomainConfigFile(config: DomainConfig(name: "", kernel: ""))
    var cmdline: String?, root: String?, extra: String?

    init(path: String, base: String, settings: [XLConfigSetting]) {
        self.path = path; self.base = base; self.settings = settings
        var name = ""
        if let setting = settings.first(where: { $0.key == "name" }), case .string(let text) = setting.value.kind { name = text }
        macName = name
    }

    mutating func read() throws(ConfigFileError) -> DomainConfigFile {
        for setting in settings { try apply(setting) }
        try crossCheck()
        guard seen["name"] != nil else { throw fail(0, "name", "missing; every domain needs a name") }
        guard seen["kernel"] != nil else { throw fail(0, "kernel", "missing; a PV domain boots a kernel image") }
        if let cmdline {
            config.cmdline = cmdline
        } else if let root {
            // As xl builds it from the older keys.
            config.cmdline = "root=\(root)" + (extra.map { " \($0)" } ?? "")
        } else if let extra {
            config.cmdline = extra
        }
        file.config = config
        return file
    }

    private mutating func apply(_ s: XLConfigSetting) throws(ConfigFileError) {
        guard DomainConfigFile.accepted[s.key] != nil else {
            throw fail(s.line, s.key, "unknown key \"\(s.key)\"", accepted: "the keys " + DomainConfigFile.keys.joined(separator: ", "))
        }
        if let first = seen[s.key] {
            throw fail(s.line, s.key, "given twice: on line \(first) and again on line \(s.line)", accepted: "each key at most once")
        }
        for other in DomainConfigFile.conflicts[s.key, default: []] {
            if let otherLine = seen[other] { throw fail(s.line, s.key, "cannot be given together with \(other) (line \(otherLine))") }
        }
        seen[s.key] = s.line
        switch s.key {
        case "name": config.name = try name(s)
        case "type":
            let type = try string(s)
            guard type == "pv" else { throw fail(s.line, s.key, "type \"\(type)\" is not supported") }
        case "builder":
            let builder = try string(s)
            guard builder == "generic" else { throw fail(s.line, s.key, "builder \"\(builder)\" is not supported") }
        case "kernel": config.kernel = try existingFile(try string(s), line: s.line, key: s.key)
        case "ramdisk": config.ramdisk = try existingFile(try string(s), line: s.line, key: s.key)
        case "cmdline": cmdline = try string(s)
        case "root": root = try string(s)
        case "extra": extra = try string(s)
        case "memory": config.memoryBytes = try integer(s, 1...DomainConfigFile.memoryLimitMiB) << 20
        case "maxmem": config.maxMemoryBytes = try integer(s, 1...DomainConfigFile.memoryLimitMiB) << 20
        case "vcpus": config.vcpus = try integer(s, 1...DomainConfigFile.vcpuLimit)
        case "maxvcpus": file.maxVCPUs = try integer(s, 1...DomainConfigFile.vcpuLimit)
        case "cpu_weight", "weight": config.weight = try integer(s, 1...65535)
        // The upper limit depends on vcpus, which may come later: checked in crossCheck.
        case "cap": config.cap = try integer(s, 0...Int.max)
        case "disk": config.disks = try disks(s)
        case "vif": config.vifs = try vifs(s)
        case "on_poweroff": file.onPoweroff = try action(s)
        case "on_reboot": file.onReboot = try action(s)
        case "on_crash": file.onCrash = try action(s)
        case "on_watchdog": file.onWatchdog = try action(s)
        case "uuid":
            let text = try string(s)
            guard let uuid = UUID(uuidString: text) else { throw fail(s.line, s.key, "\"\(text)\" is not a UUID") }
            file.uuid = uuid
        case "privileged":
            let text = try string(s)
            guard let mode = DomainConfig.Privileged(rawValue: text) else { throw fail(s.line, s.key, "\"\(text)\" is not a privileged mode") }
            config.privileged = mode
        default:
            break  // Every key in keySpecs has a case above.
        }
    }

    /// Limits that involve two keys, reported at the line of the key that breaks them (the earliest first).
    private func crossCheck() throws(ConfigFileError) {
        var errors: [ConfigFileError] = []
        let memoryMiB = config.memoryBytes >> 20
        if let maxmem = config.maxMemoryBytes, maxmem < config.memoryBytes, let line = seen["maxmem"] {
            errors.append(fail(line, "maxmem", "\(maxmem >> 20) MiB is less than memory (\(memoryMiB) MiB)",
                               accepted: "an integer number of MiB, at least memory (\(memoryMiB))"))
        }
        if let maxVCPUs = file.maxVCPUs, maxVCPUs < config.vcpus, let line = seen["maxvcpus"] {
            errors.append(fail(line, "maxvcpus", "\(maxVCPUs) is less than vcpus (\(config.vcpus))",
                               accepted: "an integer from vcpus (\(config.vcpus)) to \(DomainConfigFile.vcpuLimit)"))
        }
        let cpus = max(config.vcpus, file.maxVCPUs ?? 0)
        if config.cap > 100 * cpus, let line = seen["cap"] {
            errors.append(fail(line, "cap", "\(config.cap) is more than 100 × \(cpus) vCPU\(cpus == 1 ? "" : "s")",
                               accepted: "an integer from 0 (no cap) to \(100 * cpus): percent of one CPU, 100 per vCPU"))
        }
        if let first = errors.min(by: { $0.line < $1.line }) { throw first }
    }

    // MARK: Values

    private func string(_ s: XLConfigSetting) throws(ConfigFileError) -> String {
        switch s.value.kind {
        case .string(let text): return text
        case .number(let text): throw fail(s.line, s.key, "\(text): value must be quoted")
        case .list: throw fail(s.line, s.key, "a list where a single value is expected")
        }
    }

    /// xl reads a quoted number as a number too, so `memory = "512"` is accepted.
    private func integer(_ s: XLConfigSetting, _ range: ClosedRange<Int>) throws(ConfigFileError) -> Int {
        let text: String, shown: String
        switch s.value.kind {
        case .number(let n): text = n; shown = n
        case .string(let v): text = v; shown = "\"\(v)\""
        case .list: throw fail(s.line, s.key, "a list where a single value is expected")
        }
        guard let n = Self.integerValue(text) else {
            // Plain decimal digits that are no Int are simply too big (or too small).
            let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
            if !digits.isEmpty, !digits.hasPrefix("0"), digits.allSatisfy({ $0.isASCII && $0.isWholeNumber }) {
                let bound = text.hasPrefix("-") ? "less than \(range.lowerBound)" : "more than \(range.upperBound)"
                throw fail(s.line, s.key, "\(shown) is \(bound)")
            }
            let why = text.contains(".") && Double(text) != nil ? " (floating-point numbers are not accepted)" : ""
            throw fail(s.line, s.key, "\(shown) is not an integer\(why)")
        }
        if n < range.lowerBound { throw fail(s.line, s.key, "\(shown) is less than \(range.lowerBound)") }
        if n > range.upperBound { throw fail(s.line, s.key, "\(shown) is more than \(range.upperBound)") }
        return n
    }

    /// As xl (strtol with base 0): decimal, 0x hexadecimal, or octal with a leading 0; nil if not a number.
    static func integerValue(_ text: String) -> Int? {
        var digits = Substring(text)
        let negative = digits.hasPrefix("-")
        if negative { digits = digits.dropFirst() }
        let radix: Int
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") {
            radix = 16; digits = digits.dropFirst(2)
        } else if digits.count > 1, digits.hasPrefix("0") {
            radix = 8; digits = digits.dropFirst()
        } else {
            radix = 10
        }
        // Int(_:radix:) would also take a sign here.
        guard let first = digits.first, first.isASCII, first.isHexDigit, let value = Int(digits, radix: radix) else { return nil }
        return negative ? -value : value
    }

    private func list(_ s: XLConfigSetting) throws(ConfigFileError) -> [(text: String, line: Int)] {
        guard case .list(let values) = s.value.kind else {
            throw fail(s.line, s.key, "a single value where a list is expected; write [ \"...\", ... ]")
        }
        var items: [(text: String, line: Int)] = []
        for (i, value) in values.enumerated() {
            switch value.kind {
            case .string(let text): items.append((text, value.line))
            case .number(let text): throw fail(value.line, s.key, "element \(i + 1), \(text): value must be quoted")
            case .list: throw fail(value.line, s.key, "element \(i + 1) is a list; lists cannot be nested")
            }
        }
        return items
    }

    private func name(_ s: XLConfigSetting) throws(ConfigFileError) -> String {
        let name = try string(s)
        let allowed = name.unicodeScalars.allSatisfy { c in
            c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "-" || c == "_" || c == ".")
        }
        guard !name.isEmpty else { throw fail(s.line, s.key, "the name is empty") }
        guard name.unicodeScalars.count <= 64 else { throw fail(s.line, s.key, "\"\(name)\" is \(name.unicodeScalars.count) characters long") }
        guard allowed else { throw fail(s.line, s.key, "\"\(name)\" has characters other than letters, digits, -, _ and .") }
        // An all-digit name would read as a domain ID in every command that takes either.
        guard !name.allSatisfy(\.isNumber) else { throw fail(s.line, s.key, "\"\(name)\" is all digits") }
        return name
    }

    private func action(_ s: XLConfigSetting) throws(ConfigFileError) -> LifecycleAction {
        let text = try string(s)
        guard let action = LifecycleAction(rawValue: text) else { throw fail(s.line, s.key, "\"\(text)\" is not a lifecycle action") }
        return action
    }

    private func existingFile(_ given: String, line: Int, key: String) throws(ConfigFileError) -> String {
        guard !given.isEmpty else { throw fail(line, key, "the path is empty") }
        let path = ConfigPath.absolute(given, against: base)
        if let problem = ConfigPath.fileProblem(path) { throw fail(line, key, problem) }
        return path
    }

    private func disks(_ s: XLConfigSetting) throws(ConfigFileError) -> [DiskSpec] {
        var disks: [DiskSpec] = []
        for (text, line) in try list(s) {
            var disk: DiskSpec
            do throws(ToolstackError) { disk = try DiskSpec(parsing: text) } catch { throw fail(line, s.key, error.description) }
            disk.path = try existingFile(disk.path, line: line, key: s.key)
            if let other = disks.firstIndex(where: { $0.virtualDevice == disk.virtualDevice }) {
                throw fail(line, s.key, "disk \(disks.count + 1) is on \(disk.virtualDevice), which disk \(other + 1) already uses")
            }
            disks.append(disk)
        }
        return disks
    }

    private func vifs(_ s: XLConfigSetting) throws(ConfigFileError) -> [VifSpec] {
        var vifs: [VifSpec] = []
        for (text, line) in try list(s) {
            let suffix = DomainConfigFile.defaultMACSuffix(name: macName, vifIndex: vifs.count)
            let vif: VifSpec
            do throws(ToolstackError) { vif = try VifSpec(parsing: text, defaultSuffix: suffix) } catch { throw fail(line, s.key, error.description) }
            if let other = vifs.firstIndex(where: { $0.mac == vif.mac }) {
                throw fail(line, s.key, "vif \(vifs.count + 1) has MAC \(vif.macText), which vif \(other + 1) already has")
            }
            vifs.append(vif)
        }
        return vifs
    }

    private func fail(_ line: Int, _ key: String, _ problem: String, accepted: String? = nil) -> ConfigFileError {
        ConfigFileError(path: path, line: line, key: key, problem: problem,
                        accepted: accepted ?? DomainConfigFile.accepted[key] ?? DomainConfigFile.anyValue)
    }
}

/// Paths in a configuration file: made absolute lexically (`..` drops the previous component, as a
/// shell's `cd -L` would) and checked to be readable regular files.
private enum ConfigPath {
    static func currentDirectory() -> String { FileManager.default.currentDirectoryPath }

    static func absolute(_ path: String, against base: String) -> String {
        let joined = path.hasPrefix("/") ? path : base + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { _ = parts.popLast(); continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    static func directory(of absolutePath: String) -> String {
        guard let slash = absolutePath.lastIndex(of: "/"), slash != absolutePath.startIndex else { return "/" }
        return String(absolutePath[..<slash])
    }

    /// nil if `path` is a regular file this process can read, else why not (with the system's reason).
    static func fileProblem(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return "cannot use \"\(path)\": \(String(cString: strerror(errno)))" }
        guard info.st_mode & S_IFMT == S_IFREG else {
            return "\"\(path)\" is \(info.st_mode & S_IFMT == S_IFDIR ? "a directory" : "a device or special file"), not a regular file"
        }
        guard access(path, R_OK) == 0 else { return "cannot read \"\(path)\": \(String(cString: strerror(errno)))" }
        return nil
    }
}
