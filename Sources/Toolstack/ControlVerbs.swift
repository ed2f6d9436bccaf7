import Foundation

/// A command of the control interface (`hv VERB …`, the same in `hv shell`): how it is written, what it
/// does, and its handler, which runs in the daemon.
public struct ControlVerb: Sendable {
    public let name: String
    /// Arguments after the verb, as `help` shows them.
    public let usage: String
    public let summary: String
    /// Longer help: options and what the output means.
    public let detail: String
    /// Flags without a value and options with one (each spelled as typed, e.g. "-l", "--long").
    let flags: Set<String>
    let options: Set<String>
    /// How many positional arguments it takes.
    let positional: ClosedRange<Int>
    let run: @Sendable (VerbCall) throws(VerbFailure) -> ControlReply

    init(_ name: String, _ usage: String, _ summary: String, detail: String = "", flags: Set<String> = [], options: Set<String> = [],
         positional: ClosedRange<Int> = 0...0, run: @escaping @Sendable (VerbCall) throws(VerbFailure) -> ControlReply) {
        self.name = name; self.usage = usage; self.summary = summary; self.detail = detail
        self.flags = flags; self.options = options; self.positional = positional; self.run = run
    }

    /// "VERB USAGE" and the summary, then the detail: the text of `help VERB`.
    public var help: String {
        "usage: hv \(name)\(usage.isEmpty ? "" : " " + usage)\n\n\(summary)" + (detail.isEmpty ? "" : "\n\n" + detail)
    }
}

/// Why a verb failed: the message and the exit status (64 for wrong usage, as sysexits).
public struct VerbFailure: Error, CustomStringConvertible {
    public let message: String
    public let exit: Int32
    public init(_ message: String, exit: Int32 = 1) { self.message = message; self.exit = exit }
    public var description: String { message }
    static func usage(_ verb: ControlVerb, _ problem: String) -> VerbFailure {
        VerbFailure("\(problem)\nusage: hv \(verb.name) \(verb.usage)", exit: 64)
    }
}

/// One invocation of a verb: its parsed arguments and the daemon it runs in.
public struct VerbCall: Sendable {
    public let manager: DomainManager
    public let positional: [String]
    public let flags: Set<String>
    public let options: [String: String]
    /// Where the client runs: relative paths are resolved against it.
    public let cwd: String
    public let json: Bool
    let verb: ControlVerb
    /// Sends a progress line to the client before the reply (long verbs).
    let progress: @Sendable (String) -> Void

    func has(_ names: String...) -> Bool { names.contains { flags.contains($0) } }
    func option(_ names: String...) -> String? { names.lazy.compactMap { options[$0] }.first }

    /// An absolute path for a path the client typed.
    func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: cwd, isDirectory: true)).standardizedFileURL.path
    }

    /// The live domain named (id or name), or a clear failure.
    func domain(_ text: String) throws(VerbFailure) -> DomainManager.Managed {
        guard let m = manager.find(text) else {
            throw VerbFailure(manager.findEnded(text) != nil ? "domain \(text) has ended (hv list -l shows why)" : "no domain \(text) (hv list shows them)")
        }
        return m
    }

    /// An integer argument in a range, or a usage failure naming it.
    func integer(_ text: String, _ what: String, in range: ClosedRange<Int>) throws(VerbFailure) -> Int {
        guard let n = Int(text), range.contains(n) else { throw .usage(verb, "\(what) \"\(text)\" is not a whole number in \(range.lowerBound)–\(range.upperBound)") }
        return n
    }

    /// The reply: text for people, or the same result as JSON.
    func reply<T: Encodable>(_ text: String, _ result: T) -> ControlReply {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return ControlReply(text: text, json: try? encoder.encode(result))
    }
}

/// Every verb the daemon answers, and the dispatcher from a request to a reply.
public enum ControlVerbs {
    public static let all: [ControlVerb] = domainVerbs + saveVerbs + inspectionVerbs + xenStoreVerbs + [helpVerb]

    public static func named(_ name: String) -> ControlVerb? { all.first { $0.name == name } }

    /// Runs a request's verb in `manager` (everything but the console stream).
    public static func execute(_ request: ControlRequest, manager: DomainManager,
                               progress: @escaping @Sendable (String) -> Void = { _ in }) -> ControlReply {
        guard request.protocol == ControlProtocol.version else {
            return .failure("this client speaks control protocol \(request.protocol); the daemon speaks \(ControlProtocol.version): use the hv binary the daemon runs", exit: 2)
        }
        guard let name = request.argv.first else { return .failure("no verb given (hv help lists them)", exit: 64) }
        guard let verb = named(name) else { return .failure("unknown verb \"\(name)\" (hv help lists them)", exit: 64) }
        do throws(VerbFailure) {
            let call = try parse(verb, Array(request.argv.dropFirst()), manager: manager, cwd: request.cwd, json: request.json, progress: progress)
            return try verb.run(call)
        } catch {
            return .failure(error.message, exit: error.exit)
        }
    }

    /// Splits arguments into flags, options (`-o V`, `--opt V`, `--opt=V`) and positionals, checking each.
    static func parse(_ verb: ControlVerb, _ args: [String], manager: DomainManager, cwd: String, json: Bool,
                      progress: @escaping @Sendable (String) -> Void) throws(VerbFailure) -> VerbCall {
        var positional: [String] = [], flags: Set<String> = [], options: [String: String] = [:]
        var json = json
        var i = 0
        var onlyPositional = false
        while i < args.count {
            let a = args[i]
            i += 1
            if onlyPositional || !a.hasPrefix("-") || a == "-" || Int(a) != nil { positional.append(a); continue }
            if a == "--" { onlyPositional = true; continue }
            if a == "--json" { json = true; continue }
            let (key, inline) = a.hasPrefix("--") && a.contains("=")
                ? (String(a[..<a.firstIndex(of: "=")!]), String(a[a.index(after: a.firstIndex(of: "=")!)...])) : (a, nil)
            if verb.flags.contains(key), inline == nil {
                flags.insert(key)
            } else if verb.options.contains(key) {
                if let inline { options[key] = inline } else {
                    guard i < args.count else { throw .usage(verb, "\(key) needs a value") }
                    options[key] = args[i]
                    i += 1
                }
            } else {
                throw .usage(verb, "unknown option \(a)")
            }
        }
        guard verb.positional.contains(positional.count) else {
            throw .usage(verb, positional.count < verb.positional.lowerBound ? "missing arguments" : "too many arguments")
        }
        return VerbCall(manager: manager, positional: positional, flags: flags, options: options, cwd: cwd, json: json, verb: verb,
                        progress: progress)
    }

    static let helpVerb = ControlVerb("help", "[VERB]", "List the verbs, or explain one.", positional: 0...1) { call throws(VerbFailure) in
        if let name = call.positional.first {
            guard let verb = named(name) else { throw VerbFailure("unknown verb \"\(name)\"", exit: 64) }
            return call.reply(verb.help, ["verb": verb.name, "usage": verb.usage, "summary": verb.summary])
        }
        return call.reply(overview, all.map { ["verb": $0.name, "usage": $0.usage, "summary": $0.summary] })
    }

    /// The list of verbs with their one-line summaries.
    public static var overview: String {
        let width = (all.map(\.name.count).max() ?? 8) + 2
        return "verbs (hv help VERB for one; --json on any that prints):\n"
            + all.map { "  " + $0.name.padding(toLength: width, withPad: " ", startingAt: 0) + $0.summary }.joined(separator: "\n")
    }
}

/// Column-aligned text: a header row and data rows, each column as wide as its widest cell.
func textTable(_ header: [String], _ rows: [[String]], rightAligned: Set<Int> = []) -> String {
    let all = [header] + rows
    let widths = header.indices.map { c in all.map { $0.indices.contains(c) ? $0[c].count : 0 }.max() ?? 0 }
    return all.map { row in
        row.enumerated().map { (c, cell) in
            let pad = String(repeating: " ", count: max(0, widths[c] - cell.count))
            return rightAligned.contains(c) ? pad + cell : (c == row.count - 1 ? cell : cell + pad)
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}

/// "0x" and lowercase hex.
func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
