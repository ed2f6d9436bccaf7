import Foundation
import Glibc
import Synchronization
import Toolstack

/// `hv VERB …` for the control verbs: runs the verb in the daemon and prints its answer.
enum ControlClient {
    /// Runs one verb; returns the exit status.
    static func run(_ argv: [String], socket: String) -> Int32 {
        guard let verb = ControlVerbs.named(argv[0]) else { return 64 }
        if argv.contains("--help") || argv.contains("-h") {
            print(verb.help)
            return 0
        }
        if verb.name == "help" {
            if argv.count > 1 {
                guard let v = ControlVerbs.named(argv[1]) else { report("hv help: unknown verb \"\(argv[1])\""); return 64 }
                print(v.help)
            } else {
                print(ControlVerbs.overview)
            }
            return 0
        }
        let connection: ControlConnection
        do { connection = try ControlConnection(path: socket) } catch {
            report("hv \(verb.name): \(error)")
            return 1
        }
        let json = argv.contains("--json")
        switch verb.name {
        case "top" where !json: return Top.run(connection, argv: argv)
        case "console" where !argv.contains("--log"): return ConsoleAttach.run(connection, argv: argv)
        default: break
        }
        guard let reply = connection.call(argv, json: json, progress: report) else {
            report("hv \(verb.name): the daemon closed the connection")
            return 1
        }
        let status = show(reply, verb: verb.name, json: json)
        if status == 0, verb.name == "create", argv.dropFirst().contains("-c"), let data = reply.json,
           let created = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let id = created["id"] as? Int {
            return ConsoleAttach.run(connection, argv: ["console", "\(id)"])
        }
        return status
    }

    /// Prints a reply (text, or JSON with --json; errors to standard error) and returns its exit status.
    static func show(_ reply: ControlReply, verb: String, json: Bool) -> Int32 {
        if let error = reply.error {
            report("hv \(verb): \(error)")
        } else if json, let data = reply.json {
            print(String(decoding: data, as: UTF8.self))
        } else if !reply.text.isEmpty {
            print(reply.text)
        }
        return reply.exit
    }
}

/// `hv console DOM`: the daemon streams the console; keys go to the guest; Ctrl-] detaches (as xl console).
enum ConsoleAttach {
    static let escape: UInt8 = 0x1d

    static func run(_ connection: ControlConnection, argv: [String]) -> Int32 {
        guard let request = try? JSONEncoder().encode(ControlRequest(argv: Array(argv.prefix(2)))),
              connection.socket.write(request + Data("\n".utf8)), let line = connection.socket.readLine(),
              let reply = ControlReply(line: line) else {
            report("hv console: the daemon closed the connection")
            return 1
        }
        guard reply.stream else { return ControlClient.show(reply, verb: "console", json: false) }
        let raw = RawTerminal(fd: 0)
        if raw != nil { report("Connected to \(argv[1]). Escape character is '^]'.\r") }
        let socket = connection.socket
        let done = DispatchSemaphore(value: 0)
        let output = Thread {
            while true {
                let bytes = socket.readSome()
                if bytes.isEmpty { break }
                bytes.withUnsafeBytes { b in
                    var off = 0
                    while off < b.count {
                        let n = write(1, b.baseAddress! + off, b.count - off)
                        if n <= 0 { if errno == EINTR { continue }; return }
                        off += n
                    }
                }
            }
            done.signal()
        }
        output.start()
        let input = Thread {
            var buffer = [UInt8](repeating: 0, count: 1024)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                // End of input detaches only on a terminal's ^]; a script's input simply ends and the stream goes on.
                if n <= 0 { return }
                let bytes = Array(buffer[..<n])
                if let i = bytes.firstIndex(of: escape) {
                    if i > 0 { socket.write(Data(bytes[..<i])) }
                    socket.shutdown()
                    return
                }
                socket.write(Data(bytes))
            }
        }
        input.start()
        done.wait()
        raw?.restore()
        if raw != nil { report("\r") }
        return 0
    }
}

/// A terminal put into raw mode (no echo, no line editing, no signals) until `restore`.
final class RawTerminal {
    private let fd: Int32
    private var saved = termios()

    init?(fd: Int32) {
        guard isatty(fd) == 1, tcgetattr(fd, &saved) == 0 else { return nil }
        self.fd = fd
        var raw = saved
        cfmakeraw(&raw)
        raw.c_oflag |= tcflag_t(OPOST | ONLCR)     // keep "\n" → "\r\n" for the guest's output
        tcsetattr(fd, TCSAFLUSH, &raw)
    }

    func restore() { tcsetattr(fd, TCSAFLUSH, &saved) }
}

/// `hv top`: refreshes the daemon's sample like xentop; -b prints each one, -n stops after that many.
enum Top {
    static func run(_ connection: ControlConnection, argv: [String]) -> Int32 {
        let batch = argv.contains("-b") || argv.contains("--batch")
        func value(_ names: [String]) -> Double? {
            guard let i = argv.firstIndex(where: names.contains), i + 1 < argv.count else { return nil }
            return Double(argv[i + 1])
        }
        let delay = max(0.1, value(["-d", "--delay"]) ?? 1)
        let iterations = value(["-n", "--iterations"]).map { Int($0) }
        let raw = batch ? nil : RawTerminal(fd: 0)
        defer { raw?.restore() }
        let quit = Atomic<Bool>(false)
        if raw != nil {
            Thread {
                var c: UInt8 = 0
                while read(0, &c, 1) == 1 { if c == UInt8(ascii: "q") || c == 3 { quit.store(true, ordering: .relaxed); return } }
            }.start()
        }
        var n = 0
        while !quit.load(ordering: .relaxed) {
            guard let reply = connection.call(["top"]) else { report("hv top: the daemon closed the connection"); return 1 }
            if let error = reply.error { report("hv top: \(error)"); return reply.exit }
            if batch {
                print(reply.text + "\n")
            } else {
                print("\u{1b}[H\u{1b}[2J" + reply.text.replacingOccurrences(of: "\n", with: "\r\n") + "\r\n\r\nq quits", terminator: "")
            }
            flushStandardOutput()
            n += 1
            if let iterations, n >= iterations { break }
            var slept = 0.0
            while slept < delay && !quit.load(ordering: .relaxed) { usleep(50_000); slept += 0.05 }
        }
        if !batch { print("\r") }
        return 0
    }
}
