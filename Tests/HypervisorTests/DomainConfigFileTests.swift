import Foundation
import Testing
@testable import Toolstack

/// A temporary directory holding a kernel, a ramdisk and two disk images; removed with the last test
/// instance that uses it.
final class ConfigFileFixture: Sendable {
    let dir: String

    init() {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: dir + "/images", withIntermediateDirectories: true)
        for file in ["vmlinuz", "initrd.img", "images/root.img", "images/data.img"] {
            _ = FileManager.default.createFile(atPath: dir + "/" + file, contents: Data([0x7f, 0x45, 0x4c, 0x46]))
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let path = dir + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }
}

/// A configuration that is wrong in one way, and the error it must give.
struct BadConfig: Sendable, CustomTestStringConvertible {
    let text: String
    let line: Int
    let key: String?
    let problem: String
    let accepted: String
    var testDescription: String { problem }
}

/// Deterministic randomness for the mutation test (SplitMix64).
struct ConfigMutationRNG: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ z >> 30) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ z >> 27) &* 0x94d0_49bb_1331_11eb
        return z ^ z >> 31
    }
}

/// The xl.cfg parser and checker: syntax, every key, every kind of error with its line, key and what
/// is accepted, rendering back to text, and random damage to a valid file.
@Suite struct DomainConfigFileTests {
    let fixture = ConfigFileFixture()
    var dir: String { fixture.dir }

    /// Lines 1–2 of most cases: the two required keys.
    static let head = "name = \"web\"\nkernel = \"vmlinuz\"\n"

    /// Every key, relative paths, a list over two lines.
    static let full = """
        # A web server.
        name = "web-1"
        type = "pv"
        kernel = "vmlinuz"
        ramdisk = 'initrd.img'
        cmdline = "console=hvc0 quiet"
        memory = 256
        maxmem = 512
        vcpus = 2
        maxvcpus = 4
        cpu_weight = 512
        cap = 150
        disk = [ "file:images/root.img,xvda,w",
                 "images/data.img,xvdb,r" ]
        vif = [ "bridge=br0", "mac=00:16:3e:12:34:56,bridge=br1" ]
        on_poweroff = "preserve"
        on_reboot = "destroy"
        on_crash = "coredump-restart"
        on_watchdog = "restart"
        uuid = "6E8BA4C2-1D2B-4E64-9F3C-8F2B7F0B9A11"
        privileged = "emulate"

        """

    func parse(_ text: String) throws(ConfigFileError) -> DomainConfigFile {
        try DomainConfigFile(parsing: text, path: "vm.cfg", baseDirectory: dir)
    }

    func failure(_ text: String) -> ConfigFileError? {
        do throws(ConfigFileError) { _ = try parse(text); return nil } catch { return error }
    }

    func defaultMAC(_ name: String, _ index: Int) -> [UInt8] {
        let s = DomainConfigFile.defaultMACSuffix(name: name, vifIndex: index)
        return [0x00, 0x16, 0x3e, UInt8(s >> 16 & 0xff), UInt8(s >> 8 & 0xff), UInt8(s & 0xff)]
    }

    // MARK: Valid files

    @Test func fullConfigSetsEveryField() throws {
        let file = try parse(Self.full)
        let c = file.config
        #expect(c.name == "web-1")
        #expect(c.kernel == dir + "/vmlinuz")
        #expect(file.ramdisk == dir + "/initrd.img" && c.ramdisk == file.ramdisk)
        #expect(c.cmdline == "console=hvc0 quiet")
        #expect(c.memoryBytes == 256 << 20)
        #expect(c.maxMemoryBytes == 512 << 20)
        #expect(c.vcpus == 2)
        #expect(file.maxVCPUs == 4)
        #expect(c.weight == 512)
        #expect(c.cap == 150)
        #expect(c.disks == [DiskSpec(path: dir + "/images/root.img", virtualDevice: "xvda", writable: true),
                            DiskSpec(path: dir + "/images/data.img", virtualDevice: "xvdb", writable: false)])
        #expect(c.vifs == [VifSpec(mac: defaultMAC("web-1", 0), bridge: "br0"),
                           VifSpec(mac: [0x00, 0x16, 0x3e, 0x12, 0x34, 0x56], bridge: "br1")])
        #expect(file.onPoweroff == .preserve)
        #expect(file.onReboot == .destroy)
        #expect(file.onCrash == .coredumpRestart)
        #expect(file.onWatchdog == .restart)
        #expect(file.uuid == UUID(uuidString: "6e8ba4c2-1d2b-4e64-9f3c-8f2b7f0b9a11"))
        #expect(c.privileged == .emulate)
        #expect(file.path == "")
    }

    @Test func defaults() throws {
        let file = try parse(Self.head)
        let c = file.config
        #expect(c.name == "web")
        #expect(c.memoryBytes == 64 << 20)
        #expect(c.maxMemoryBytes == nil)
        #expect(c.vcpus == 1)
        #expect(file.maxVCPUs == nil)
        #expect(c.weight == 256)
        #expect(c.cap == 0)
        #expect(c.cmdline == "")
        #expect(c.privileged == .xen)
        #expect(c.disks.isEmpty && c.vifs.isEmpty)
        #expect(file.ramdisk == nil && file.uuid == nil)
        #expect(file.onPoweroff == .destroy && file.onReboot == .restart && file.onCrash == .destroy && file.onWatchdog == .destroy)
        #expect(file.rendered() == "name = \"web\"\nkernel = \"\(dir)/vmlinuz\"\nmemory = 64\nvcpus = 1\n")
    }

    @Test func fileRelativePathsComeFromItsDirectory() throws {
        let path = fixture.write("vm.cfg", Array(Self.full.utf8))
        let file = try DomainConfigFile(contentsOf: path)
        #expect(file.path == path)
        #expect(file.config.kernel == dir + "/vmlinuz")
        #expect(file.config.disks.map(\.path) == [dir + "/images/root.img", dir + "/images/data.img"])
        var fromText = try parse(Self.full)
        fromText.path = path
        #expect(file == fromText)
    }

    @Test func relativePathsWithDotDot() throws {
        let text = "name = \"web\"\nkernel = \"../vmlinuz\"\nramdisk = \"./../initrd.img\"\ndisk = [ \"root.img,xvda,w\" ]\n"
        let file = try DomainConfigFile(parsing: text, baseDirectory: dir + "/images")
        #expect(file.config.kernel == dir + "/vmlinuz")
        #expect(file.ramdisk == dir + "/initrd.img")
        #expect(file.config.disks.first?.path == dir + "/images/root.img")
    }

    @Test func withoutBaseDirectoryRelativePathsComeFromTheCurrentDirectory() {
        let cwd = FileManager.default.currentDirectoryPath
        do throws(ConfigFileError) {
            _ = try DomainConfigFile(parsing: "name = \"web\"\nkernel = \"no-such-kernel-\(UUID().uuidString)\"\n")
            Issue.record("a missing kernel was accepted")
        } catch {
            #expect(error.path == "<config>")
            #expect(error.problem.hasPrefix("cannot use \"\(cwd)/no-such-kernel-"))
            #expect(error.problem.hasSuffix("\": No such file or directory"))
        }
    }

    @Test func listSpanningLinesWithCommentsAndTrailingComma() throws {
        let text = Self.head + """
            disk = [  # the root file system
                "file:images/root.img,xvda,w",   # read-write

                # scratch space
                'images/data.img,xvdb,r',
            ]
            vif = [ ]
            memory = 128
            """
        let file = try parse(text)
        #expect(file.config.disks.map(\.virtualDevice) == ["xvda", "xvdb"])
        #expect(file.config.vifs.isEmpty)
        #expect(file.config.memoryBytes == 128 << 20)
    }

    @Test func semicolonsSeparateSettings() throws {
        let file = try parse("name = \"web\"; kernel = \"vmlinuz\";; memory = 128 ; vcpus=2# no space before the comment\n;\n")
        #expect(file.config.memoryBytes == 128 << 20)
        #expect(file.config.vcpus == 2)
    }

    @Test func lastLineNeedsNoNewlineAndCRLFIsAccepted() throws {
        #expect(try parse("name = \"web\"\r\nkernel = \"vmlinuz\"\r\nvcpus = 3").config.vcpus == 3)
    }

    @Test func quotesAndEscapes() throws {
        let text = Self.head + #"""
            cmdline = "say \"hi\" \\ it\'s\ttab\nline\rcr 'single' ü"
            """#
        #expect(try parse(text).config.cmdline == "say \"hi\" \\ it's\ttab\nline\rcr 'single' ü")
        let single = Self.head + #"cmdline = 'as is: \n \" "double"'"#
        #expect(try parse(single).config.cmdline == #"as is: \n \" "double""#)
        #expect(try parse(Self.head + "cmdline = \"\"").config.cmdline == "")
    }

    @Test func rootAndExtraBuildTheCommandLineAsXlDoes() throws {
        #expect(try parse(Self.head + "root = \"/dev/xvda1 ro\"\nextra = \"console=hvc0\"\n").config.cmdline == "root=/dev/xvda1 ro console=hvc0")
        #expect(try parse(Self.head + "root = \"/dev/xvda1\"\n").config.cmdline == "root=/dev/xvda1")
        #expect(try parse(Self.head + "extra = \"console=hvc0\"\n").config.cmdline == "console=hvc0")
    }

    @Test func integerForms() throws {
        let file = try parse(Self.head + "memory = 0x80\nvcpus = 010\ncpu_weight = \"300\"\ncap = 0\n")
        #expect(file.config.memoryBytes == 128 << 20)
        #expect(file.config.vcpus == 8)  // a leading 0 is octal, as in xl
        #expect(file.config.weight == 300)  // xl takes quoted numbers too
        #expect(try parse(Self.head + "weight = 1000\n").config.weight == 1000)
    }

    @Test func capUpToOneHundredPerVCPU() throws {
        #expect(try parse(Self.head + "cap = 200\nvcpus = 2\n").config.cap == 200)
        #expect(try parse(Self.head + "vcpus = 1\nmaxvcpus = 3\ncap = 300\n").config.cap == 300)
    }

    @Test func typeAndBuilder() throws {
        _ = try parse(Self.head + "type = \"pv\"\n")
        _ = try parse(Self.head + "builder = \"generic\"\n")
    }

    @Test func defaultMACsAreStableAndDistinct() throws {
        let text = "kernel = \"vmlinuz\"\nvif = [ \"bridge=a\", \"bridge=b\" ]\n"
        let one = try parse("name = \"one\"\n" + text).config.vifs
        let two = try parse("name = \"two\"\n" + text).config.vifs
        #expect(one == (try parse("name = \"one\"\n" + text).config.vifs))
        #expect(one[0].mac != one[1].mac)
        #expect(Set(one.map(\.mac)).isDisjoint(with: two.map(\.mac)))
        #expect(one[0].mac == defaultMAC("one", 0) && one[1].mac == defaultMAC("one", 1))
        // The vif list may come before the name: the MACs still come from the name.
        #expect(try parse(text + "name = \"one\"\n").config.vifs == one)
    }

    @Test func lifecycleActionsAreXlsSpelling() {
        #expect(LifecycleAction.allCases.map(\.rawValue) ==
                ["destroy", "restart", "preserve", "rename-restart", "coredump-destroy", "coredump-restart", "soft-reset"])
    }

    // MARK: Rendering

    @Test func renderedTextParsesBackEqual() throws {
        let original = try parse(Self.full)
        let text = original.rendered()
        #expect(try DomainConfigFile(parsing: text) == original)
        #expect(!text.contains("type") && !text.contains("images/../"))
        #expect(text.contains("cpu_weight = 512\n") && text.contains("\"file:\(dir)/images/root.img,xvda,w\",\n"))
    }

    @Test func renderedRoundTripsRootExtraAndEscapes() throws {
        let original = try parse(Self.head + "root = \"/dev/xvda1\"\nextra = \"say \\\"hi\\\"\\t\\\\ \\n\"\n")
        let text = original.rendered()
        #expect(text.contains("cmdline = \"root=/dev/xvda1 say \\\"hi\\\"\\t\\\\ \\n\"\n"))
        #expect(try DomainConfigFile(parsing: text) == original)
    }

    @Test func renderedMakesPathsAbsolute() throws {
        let config = DomainConfig(name: "made", kernel: dir + "/images/../vmlinuz", cmdline: "quiet", weight: 100,
                                  disks: [DiskSpec(path: dir + "/./images/root.img")])
        let file = DomainConfigFile(config: config, ramdisk: dir + "/initrd.img", onReboot: .preserve)
        let text = file.rendered()
        #expect(text.contains("kernel = \"\(dir)/vmlinuz\"\n"))
        let again = try DomainConfigFile(parsing: text)
        #expect(again.config.kernel == dir + "/vmlinuz")
        #expect(again.config.disks == [DiskSpec(path: dir + "/images/root.img")])
        #expect(again.onReboot == .preserve && again.ramdisk == file.ramdisk && again.config.weight == 100)
    }

    // MARK: Errors

    static let keyList = "the keys name, type, builder, kernel, ramdisk, cmdline, root, extra, memory, maxmem, vcpus, maxvcpus, "
        + "cpu_weight, weight, cap, disk, vif, on_poweroff, on_reboot, on_crash, on_watchdog, uuid, privileged"
    static let memoryMiB = "an integer number of MiB, at least 1"
    static let vcpuRange = "an integer from 1 to 32"
    static let weightRange = "an integer from 1 to 65535 (the credit scheduler's weight, default 256; not with weight)"
    static let nameRule = "a quoted name of 1–64 letters, digits, -, _ and ., not all digits"
    static let diskRule = "a list of quoted disks, \"file:/path/to/image,xvda,w\" (or ,r), each on its own xvda…xvdp, images that exist"
    static let vifRule = "a list of quoted vifs, \"mac=00:16:3e:xx:xx:xx,bridge=NAME\" (both optional), each with its own MAC"
    static let actions = "one of \"destroy\", \"restart\", \"preserve\", \"rename-restart\", \"coredump-destroy\", \"coredump-restart\", \"soft-reset\""
    static let cmdlineRule = "a quoted kernel command line (or root and extra, but not both ways)"

    static let badConfigs: [BadConfig] = [
        // Syntax.
        BadConfig(text: head + "memory 64\n", line: 3, key: "memory", problem: "\"6\" after the key where = should be",
                  accepted: "key = value, one per line or separated by ;"),
        BadConfig(text: head + "= 5\n", line: 3, key: nil, problem: "\"=\" where a setting should start",
                  accepted: "key = value, one per line or separated by ;, a key of letters, digits and _, not starting with a digit"),
        BadConfig(text: head + "9lives = 1\n", line: 3, key: nil, problem: "\"9\" where a setting should start",
                  accepted: "key = value, one per line or separated by ;, a key of letters, digits and _, not starting with a digit"),
        BadConfig(text: head + "cmdline = \"quiet\nmemory = 64\n", line: 3, key: "cmdline",
                  problem: "unterminated string: no closing \" on this line", accepted: "a string that ends with \" on the line it starts"),
        BadConfig(text: head + "cmdline = 'quiet", line: 3, key: "cmdline",
                  problem: "unterminated string: no closing ' on this line", accepted: "a string that ends with ' on the line it starts"),
        BadConfig(text: "name = web\nkernel = \"vmlinuz\"\n", line: 1, key: "name", problem: "bare word web: value must be quoted", accepted: nameRule),
        BadConfig(text: head + "memory =\n", line: 3, key: "memory", problem: "no value after =", accepted: memoryMiB),
        BadConfig(text: head + "memory = 64 128\n", line: 3, key: "memory",
                  problem: "\"1\" after the value; a setting ends at the end of the line or at ;", accepted: "key = value, one per line or separated by ;"),
        BadConfig(text: head + "cmdline = \"a\\qb\"\n", line: 3, key: "cmdline", problem: "unknown escape \\q",
                  accepted: "the escapes \\\\ \\\" \\' \\n \\t \\r inside double quotes (single quotes take text literally)"),
        BadConfig(text: head + "disk = [ \"file:images/root.img,xvda,w\",\n\n", line: 3, key: "disk",
                  problem: "the list opened with [ on this line is never closed with ]", accepted: diskRule),
        BadConfig(text: head + "disk = [\n  [ \"x\" ] ]\n", line: 4, key: "disk", problem: "lists cannot be nested", accepted: diskRule),
        BadConfig(text: head + "disk = [ , ]\n", line: 3, key: "disk", problem: "\",\" where a list element should be", accepted: diskRule),
        BadConfig(text: head + "disk = [ \"a\" \"b\" ]\n", line: 3, key: "disk", problem: "\"\"\" after a list element where , or ] should be",
                  accepted: diskRule),
        BadConfig(text: head + "cap = -x\n", line: 3, key: "cap", problem: "\"-\" where a value should be",
                  accepted: "an integer from 0 (no cap) to 100 × vcpus: percent of one CPU"),
        // Keys.
        BadConfig(text: head + "colour = \"red\"\n", line: 3, key: "colour", problem: "unknown key \"colour\"", accepted: keyList),
        BadConfig(text: head + "memory = 64\nvcpus = 1\nmemory = 128\n", line: 5, key: "memory",
                  problem: "given twice: on line 3 and again on line 5", accepted: "each key at most once"),
        BadConfig(text: head + "cmdline = \"quiet\"\nroot = \"/dev/xvda1\"\n", line: 4, key: "root",
                  problem: "cannot be given together with cmdline (line 3)",
                  accepted: "a quoted root device, giving the command line \"root=ROOT EXTRA\" (not with cmdline)"),
        BadConfig(text: head + "extra = \"x\"\ncmdline = \"quiet\"\n", line: 4, key: "cmdline",
                  problem: "cannot be given together with extra (line 3)", accepted: cmdlineRule),
        BadConfig(text: head + "weight = 10\ncpu_weight = 20\n", line: 4, key: "cpu_weight",
                  problem: "cannot be given together with weight (line 3)", accepted: weightRange),
        BadConfig(text: "kernel = \"vmlinuz\"\n", line: 0, key: "name", problem: "missing; every domain needs a name", accepted: nameRule),
        BadConfig(text: "name = \"web\"\n", line: 0, key: "kernel", problem: "missing; a PV domain boots a kernel image",
                  accepted: "a quoted path to a readable kernel image file, relative to the config file's directory"),
        // Types.
        BadConfig(text: head + "memory = \"64M\"\n", line: 3, key: "memory", problem: "\"64M\" is not an integer", accepted: memoryMiB),
        BadConfig(text: head + "memory = 64M\n", line: 3, key: "memory", problem: "64M is not an integer", accepted: memoryMiB),
        BadConfig(text: head + "memory = 1.5\n", line: 3, key: "memory",
                  problem: "1.5 is not an integer (floating-point numbers are not accepted)", accepted: memoryMiB),
        BadConfig(text: head + "vcpus = 08\n", line: 3, key: "vcpus", problem: "08 is not an integer", accepted: vcpuRange),
        BadConfig(text: head + "cmdline = 5\n", line: 3, key: "cmdline", problem: "5: value must be quoted", accepted: cmdlineRule),
        BadConfig(text: head + "vcpus = [ 1 ]\n", line: 3, key: "vcpus", problem: "a list where a single value is expected", accepted: vcpuRange),
        BadConfig(text: head + "disk = \"file:images/root.img,xvda,w\"\n", line: 3, key: "disk",
                  problem: "a single value where a list is expected; write [ \"...\", ... ]", accepted: diskRule),
        BadConfig(text: head + "vif = [\n \"bridge=a\",\n 5 ]\n", line: 5, key: "vif", problem: "element 2, 5: value must be quoted", accepted: vifRule),
        // Ranges.
        BadConfig(text: head + "memory = 0\n", line: 3, key: "memory", problem: "0 is less than 1", accepted: memoryMiB),
        BadConfig(text: head + "memory = 99999999999999999999\n", line: 3, key: "memory",
                  problem: "99999999999999999999 is more than 8796093022207", accepted: memoryMiB),
        BadConfig(text: head + "memory = 9007199254740992\n", line: 3, key: "memory",
                  problem: "9007199254740992 is more than 8796093022207", accepted: memoryMiB),
        BadConfig(text: head + "vcpus = 0\n", line: 3, key: "vcpus", problem: "0 is less than 1", accepted: vcpuRange),
        BadConfig(text: head + "vcpus = 33\n", line: 3, key: "vcpus", problem: "33 is more than 32", accepted: vcpuRange),
        BadConfig(text: head + "maxvcpus = 0x21\n", line: 3, key: "maxvcpus", problem: "0x21 is more than 32", accepted: "an integer from vcpus to 32"),
        BadConfig(text: head + "cpu_weight = 0\n", line: 3, key: "cpu_weight", problem: "0 is less than 1", accepted: weightRange),
        BadConfig(text: head + "cpu_weight = 65536\n", line: 3, key: "cpu_weight", problem: "65536 is more than 65535", accepted: weightRange),
        BadConfig(text: head + "cap = -1\n", line: 3, key: "cap", problem: "-1 is less than 0",
                  accepted: "an integer from 0 (no cap) to 100 × vcpus: percent of one CPU"),
        BadConfig(text: head + "cap = 101\n", line: 3, key: "cap", problem: "101 is more than 100 × 1 vCPU",
                  accepted: "an integer from 0 (no cap) to 100: percent of one CPU, 100 per vCPU"),
        BadConfig(text: head + "cap = 250\nvcpus = 2\n", line: 3, key: "cap", problem: "250 is more than 100 × 2 vCPUs",
                  accepted: "an integer from 0 (no cap) to 200: percent of one CPU, 100 per vCPU"),
        BadConfig(text: head + "memory = 256\nmaxmem = 128\n", line: 4, key: "maxmem", problem: "128 MiB is less than memory (256 MiB)",
                  accepted: "an integer number of MiB, at least memory (256)"),
        BadConfig(text: head + "maxmem = 32\n", line: 3, key: "maxmem", problem: "32 MiB is less than memory (64 MiB)",
                  accepted: "an integer number of MiB, at least memory (64)"),
        BadConfig(text: head + "maxvcpus = 2\nvcpus = 4\n", line: 3, key: "maxvcpus", problem: "2 is less than vcpus (4)",
                  accepted: "an integer from vcpus (4) to 32"),
        // Values.
        BadConfig(text: "name = \"12345\"\nkernel = \"vmlinuz\"\n", line: 1, key: "name", problem: "\"12345\" is all digits", accepted: nameRule),
        BadConfig(text: "name = \"web server\"\nkernel = \"vmlinuz\"\n", line: 1, key: "name",
                  problem: "\"web server\" has characters other than letters, digits, -, _ and .", accepted: nameRule),
        BadConfig(text: "name = \"wéb\"\nkernel = \"vmlinuz\"\n", line: 1, key: "name",
                  problem: "\"wéb\" has characters other than letters, digits, -, _ and .", accepted: nameRule),
        BadConfig(text: "name = \"\(String(repeating: "a", count: 65))\"\n", line: 1, key: "name",
                  problem: "\"\(String(repeating: "a", count: 65))\" is 65 characters long", accepted: nameRule),
        BadConfig(text: "name = ''\n", line: 1, key: "name", problem: "the name is empty", accepted: nameRule),
        BadConfig(text: head + "type = \"hvm\"\n", line: 3, key: "type", problem: "type \"hvm\" is not supported", accepted: "\"pv\" (only PV guests are built)"),
        BadConfig(text: head + "builder = \"hvm\"\n", line: 3, key: "builder", problem: "builder \"hvm\" is not supported",
                  accepted: "\"generic\" (xl's older spelling of type = \"pv\")"),
        BadConfig(text: "name = \"web\"\nkernel = \"\"\n", line: 2, key: "kernel", problem: "the path is empty",
                  accepted: "a quoted path to a readable kernel image file, relative to the config file's directory"),
        BadConfig(text: head + "on_crash = \"explode\"\n", line: 3, key: "on_crash", problem: "\"explode\" is not a lifecycle action", accepted: actions),
        BadConfig(text: head + "on_reboot = 'Restart'\n", line: 3, key: "on_reboot", problem: "\"Restart\" is not a lifecycle action", accepted: actions),
        BadConfig(text: head + "uuid = \"6e8ba4c2-1d2b-4e64-9f3c\"\n", line: 3, key: "uuid", problem: "\"6e8ba4c2-1d2b-4e64-9f3c\" is not a UUID",
                  accepted: "a quoted UUID of 32 hex digits, as \"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\""),
        BadConfig(text: head + "privileged = \"yes\"\n", line: 3, key: "privileged", problem: "\"yes\" is not a privileged mode",
                  accepted: "\"xen\" (Xen's PV rules) or \"emulate\" (also cli/sti/hlt); our extension, not an xl key"),
        BadConfig(text: head + "disk = [\n \"file:images/root.img,xvda,w\",\n \"images/data.img,xvda,r\",\n]\n", line: 5, key: "disk",
                  problem: "disk 2 is on xvda, which disk 1 already uses", accepted: diskRule),
        BadConfig(text: head + "vif = [ \"mac=00:16:3e:00:00:01\", \"bridge=b,mac=00:16:3E:00:00:01\" ]\n", line: 3, key: "vif",
                  problem: "vif 2 has MAC 00:16:3e:00:00:01, which vif 1 already has", accepted: vifRule),
    ]

    @Test(arguments: badConfigs) func badConfigIsRefused(_ bad: BadConfig) {
        guard let error = failure(bad.text) else { Issue.record("accepted: \(bad.text)"); return }
        #expect(error.path == "vm.cfg")
        #expect(error.line == bad.line)
        #expect(error.key == bad.key)
        #expect(error.problem == bad.problem)
        #expect(error.accepted == bad.accepted)
    }

    @Test func descriptionNamesFileLineKeyAndWhatIsAccepted() {
        let text = Self.head + "# memory in MiB\n\n\n\nmemory = \"64M\"\n"
        #expect(failure(text)?.description == "vm.cfg:7: memory: \"64M\" is not an integer; accepted: an integer number of MiB, at least 1")
        #expect(failure("kernel = \"vmlinuz\"")?.description == "vm.cfg: name: missing; every domain needs a name; accepted: \(Self.nameRule)")
        #expect(failure("$")?.description.hasPrefix("vm.cfg:1: \"$\" where a setting should start; accepted: key = value") == true)
    }

    @Test func diskAndVifErrorsCarryTheirParsersMessage() {
        let badDisk = "file:images/root.img,xvdz,w"
        let badVif = "mac=zz,bridge=b"
        var diskProblem = "", vifProblem = ""
        do throws(ToolstackError) { _ = try DiskSpec(parsing: badDisk) } catch { diskProblem = error.description }
        do throws(ToolstackError) { _ = try VifSpec(parsing: badVif) } catch { vifProblem = error.description }
        #expect(diskProblem.contains("xvdz") && vifProblem.contains("zz"))

        let disk = failure(Self.head + "disk = [\n \"file:images/root.img,xvda,w\",\n \"\(badDisk)\" ]\n")
        #expect(disk == ConfigFileError(path: "vm.cfg", line: 5, key: "disk", problem: diskProblem, accepted: Self.diskRule))
        let vif = failure(Self.head + "vif = [ \"\(badVif)\" ]\n")
        #expect(vif == ConfigFileError(path: "vm.cfg", line: 3, key: "vif", problem: vifProblem, accepted: Self.vifRule))
    }

    @Test func missingFilesAreNamedWithTheSystemsReason() {
        let kernelRule = "a quoted path to a readable kernel image file, relative to the config file's directory"
        #expect(failure("name = \"web\"\nkernel = \"nope\"\n") == ConfigFileError(
            path: "vm.cfg", line: 2, key: "kernel", problem: "cannot use \"\(dir)/nope\": No such file or directory", accepted: kernelRule))
        #expect(failure("name = \"web\"\nkernel = \"images\"\n") == ConfigFileError(
            path: "vm.cfg", line: 2, key: "kernel", problem: "\"\(dir)/images\" is a directory, not a regular file", accepted: kernelRule))
        #expect(failure(Self.head + "ramdisk = \"initrd\"\n")?.problem == "cannot use \"\(dir)/initrd\": No such file or directory")
        #expect(failure(Self.head + "disk = [ \"images/gone.img,xvda,w\" ]\n") == ConfigFileError(
            path: "vm.cfg", line: 3, key: "disk", problem: "cannot use \"\(dir)/images/gone.img\": No such file or directory",
            accepted: Self.diskRule))
    }

    @Test func unreadableFiles() {
        let accepted = "a readable UTF-8 text file of at most 1024 KiB"
        func load(_ path: String) -> ConfigFileError? {
            do throws(ConfigFileError) { _ = try DomainConfigFile(contentsOf: path); return nil } catch { return error }
        }
        #expect(load(dir + "/none.cfg") == ConfigFileError(path: dir + "/none.cfg", line: 0, key: nil,
                                                            problem: "cannot open: No such file or directory", accepted: accepted))
        #expect(load(dir) == ConfigFileError(path: dir, line: 0, key: nil, problem: "cannot read: Is a directory", accepted: accepted))
        let binary = fixture.write("binary.cfg", [0x6e, 0xff, 0xfe])
        #expect(load(binary) == ConfigFileError(path: binary, line: 0, key: nil, problem: "not UTF-8 text", accepted: accepted))
        let big = fixture.write("big.cfg", [UInt8](repeating: 0x23, count: (1 << 20) + 1))
        #expect(load(big)?.problem == "larger than 1024 KiB")
        let bad = fixture.write("bad.cfg", Array((Self.head + "memory = 0\n").utf8))
        #expect(load(bad)?.description == "\(bad):3: memory: 0 is less than 1; accepted: an integer number of MiB, at least 1")
    }

    // MARK: Damage

    /// 500 random edits of a valid file: each result parses (and then renders back to an equal
    /// configuration) or is refused with a ConfigFileError that places itself — never a crash.
    @Test func randomMutationsParseOrFailCleanly() throws {
        var rng = ConfigMutationRNG(state: 0x5eed_c0f1)
        let original = Array(Self.full.utf8)
        let alphabet = Array("\"'[],;=#\\\n \t0x9-_.az:/é".utf8) + [0, 0x0d, 0xff]
        var parsed = 0, refused = 0
        for _ in 0..<500 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let at = Int.random(in: 0...bytes.count, using: &rng)
                switch Int.random(in: 0..<6, using: &rng) {
                case 0 where at < bytes.count: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...4, using: &rng)))
                case 1: bytes.insert(alphabet[Int.random(in: 0..<alphabet.count, using: &rng)], at: at)
                case 2 where at < bytes.count: bytes[at] = alphabet[Int.random(in: 0..<alphabet.count, using: &rng)]
                case 3: bytes = Array(bytes[..<at])
                case 4:
                    let other = Int.random(in: 0...bytes.count, using: &rng)
                    let copied = Array(bytes[min(at, other)..<max(at, other)].prefix(40))
                    bytes.insert(contentsOf: copied, at: at)
                default:
                    var lines = bytes.split(separator: 0x0a, omittingEmptySubsequences: false)
                    if lines.count > 1 { lines.swapAt(Int.random(in: 0..<lines.count, using: &rng), Int.random(in: 0..<lines.count, using: &rng)) }
                    bytes = Array(lines.joined(separator: [0x0a]))
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            let file: DomainConfigFile
            do throws(ConfigFileError) { file = try parse(text) } catch {
                refused += 1
                #expect(error.path == "vm.cfg")
                // Lines end at "\n" bytes (a Character "\r\n" is not "\n", so split the bytes).
                let lines = text.utf8.split(separator: 0x0a, omittingEmptySubsequences: false).count
                #expect((0...lines).contains(error.line), "\(error)")
                #expect(!error.problem.isEmpty && !error.accepted.isEmpty, "\(error)")
                #expect(error.line > 0 || error.key != nil, "\(error)")
                continue
            }
            parsed += 1
            do throws(ConfigFileError) {
                #expect(try DomainConfigFile(parsing: file.rendered()) == file, "\(text)")
            } catch {
                Issue.record("rendered text of an accepted file is refused: \(error)\n\(file.rendered())")
            }
        }
        #expect(parsed > 0 && refused > 0)
        #expect(parsed + refused == 500)
    }
}
