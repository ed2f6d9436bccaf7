import Foundation

/// The control socket's wire protocol: one JSON object per line each way. The daemon greets with
/// `{"protocol":N,"hypervisor":"…"}`; a client sends a `ControlRequest` and gets one `ControlReply`.
/// A reply with `stream` set turns the connection into a raw byte stream both ways (`console`).
public enum ControlProtocol {
    /// Bumped whenever a request or reply changes meaning; both sides refuse a different one.
    public static let version = 1
    /// What `hv` reports as its own version (in the greeting, `info` and save files).
    public static let hypervisorVersion = "hv 0.8 (Xen 4.19 PV ABI)"
    /// Longest request or reply line accepted (a `list --json` of 1000 domains fits).
    public static let maximumLine = 16 << 20

    /// Where the daemon listens: `$HV_SOCKET`, else /run/hv/control.sock for root, else
    /// `$XDG_RUNTIME_DIR/hv/control.sock`, else /tmp/hv-UID/control.sock.
    public static var defaultSocketPath: String {
        let env = ProcessInfo.processInfo.environment
        if let path = env["HV_SOCKET"], !path.isEmpty { return path }
        if getuid() == 0 { return "/run/hv/control.sock" }
        if let runtime = env["XDG_RUNTIME_DIR"], !runtime.isEmpty { return runtime + "/hv/control.sock" }
        return "/tmp/hv-\(getuid())/control.sock"
    }
}

/// The daemon's greeting, first line on every connection.
public struct ControlGreeting: Codable, Sendable {
    public var `protocol`: Int
    public var hypervisor: String
    public init(protocol: Int = ControlProtocol.version, hypervisor: String = ControlProtocol.hypervisorVersion) {
        self.protocol = `protocol`; self.hypervisor = hypervisor
    }
}

/// One command: the verb and its arguments as typed, where the client runs (relative paths), and the output wanted.
public struct ControlRequest: Codable, Sendable {
    public var `protocol`: Int
    public var argv: [String]
    public var cwd: String
    public var json: Bool
    public init(argv: [String], cwd: String = FileManager.default.currentDirectoryPath, json: Bool = false) {
        self.protocol = ControlProtocol.version; self.argv = argv; self.cwd = cwd; self.json = json
    }
}

/// The answer: text for people, the same facts as JSON for scripts, or an error; `exit` is the status
/// the client exits with.
public struct ControlReply: Sendable {
    public var exit: Int32
    public var text: String
    /// Encoded JSON of the result (already serialized), nil when the verb prints nothing structured.
    public var json: Data?
    public var error: String?
    /// The connection becomes a raw byte stream after this reply.
    public var stream: Bool
    /// Not the answer yet: a progress message (`text`); the reply follows.
    public var progress = false

    public init(exit: Int32 = 0, text: String = "", json: Data? = nil, error: String? = nil, stream: Bool = false) {
        self.exit = exit; self.text = text; self.json = json; self.error = error; self.stream = stream
    }

    /// A failed command: the message and the status (1 unless the usage was wrong: 64).
    public static func failure(_ message: String, exit: Int32 = 1) -> ControlReply { ControlReply(exit: exit, error: message) }

    /// A progress line sent before the reply of a long verb (save, restore).
    public static func progress(_ message: String) -> ControlReply {
        var r = ControlReply(text: message)
        r.progress = true
        return r
    }

    /// One line of JSON: the envelope with the result embedded as it was encoded.
    public func encodedLine() -> Data {
        var out = Data("{\"exit\":\(exit),\"stream\":\(stream),\"progress\":\(progress),\"text\":".utf8)
        out += (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        if let error { out += Data(",\"error\":".utf8) + ((try? JSONEncoder().encode(error)) ?? Data("\"\"".utf8)) }
        if let json { out += Data(",\"json\":".utf8) + json }
        out += Data("}\n".utf8)
        return out
    }

    /// Decodes a reply line; nil if it is not one.
    public init?(line: Data) {
        guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
              let exit = object["exit"] as? Int, let text = object["text"] as? String else { return nil }
        self.exit = Int32(clamping: exit)
        self.text = text
        self.error = object["error"] as? String
        self.stream = object["stream"] as? Bool ?? false
        self.progress = object["progress"] as? Bool ?? false
        if let json = object["json"] {
            self.json = try? JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed])
        } else {
            self.json = nil
        }
    }
}
