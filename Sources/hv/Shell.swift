import ArgumentParser
import Foundation
import Hypervisor
import LineEditing
import Toolstack

/// `hv shell`: the interactive Dom0 shell. It talks to the daemon at the socket, or, when none answers,
/// hosts the hypervisor itself and serves the socket while it runs (so other `hv` commands work too).
struct Shell: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An interactive Dom0 shell with every verb, line editing, history and Tab completion.",
        discussion: "Verbs as `hv help` lists them, plus exit. With no daemon running it hosts the hypervisor until it exits (its domains end with it).")

    @OptionGroup var options: DaemonOptions

    @Flag(help: "Start the built-in demo domains first.")
    var demo = false


    @Option(help: "Run these commands (separated by ;) instead of reading the terminal, then exit.")
    var command: String?

    /// The control socket.
    var socket: String { options.socket }

    func run() throws {
        var host: DaemonHost? = nil
        if (try? ControlConnection(path: socket)) == nil {
            host = try DaemonHost(socket: socket, machineMemory: options.host.machineMemory, pcpus: options.host.pcpus, echoLog: false)
            print("hv shell: hosting the hypervisor (\(options.host.machineMemory) machine memory, \(options.host.pcpus) pcpus); other hv commands reach it at \(socket)")
        } else {
            print("hv shell: connected to the daemon at \(socket)")
        }
        defer {
            if let host {
                let n = host.manager.domains.count
                if n > 0 { print("hv shell: destroying \(n) domain(s) hosted by this shell") }
                host.shutdown()
            }
        }
        if demo { startDemo() }
        if let command {
            for line in command.split(separator: ";") { _ = execute(String(line)) }
            return
        }
        // Ctrl-C between lines must not end the shell (and the domains it hosts): the editor and top take it as a key.
        signal(SIGINT, SIG_IGN)
        print("Type help for the verbs, help VERB for one, exit to leave. Tab completes verbs, domains and paths.")
        flushStandardOutput()
        let home = ProcessInfo.processInfo.environment["HOME"] ?? "/tmp"
        let editor = LineEditor(historyFile: home + "/.hv_history")
        let socket = self.socket
        editor.completer = { line, cursor in Shell.complete(line, cursor: cursor, socket: socket) }
        while true {
            switch editor.readLine(prompt: "hv> ") {
            case .endOfFile:
                print("")
                return
            case .interrupted:
                continue
            case .line(let line):
                editor.addHistory(line)
                if !execute(line) { return }
            }
        }
    }

    /// Runs one line; false for exit.
    private func execute(_ line: String) -> Bool {
        let words: [String]
        do { words = try Shell.split(line) } catch {
            report("hv: \(error)")
            return true
        }
        guard let verb = words.first else { return true }
        switch verb {
        case "exit", "quit": return false
        case _ where ControlVerbs.named(verb) != nil:
            let status = ControlClient.run(words, socket: socket)
            if status != 0 && status != 64 { report("(exit status \(status))") }
        default:
            report("hv: unknown verb \"\(verb)\" (help lists them)")
        }
        flushStandardOutput()
        return true
    }

    /// Creates the demo domains from configs written to a temporary directory.
    private func startDemo() {
        let dir = NSTemporaryDirectory() + "hv-demo-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, image, extra) in Shell.demoDomains {
            let kernel = defaultImagePath(image)
            guard FileManager.default.fileExists(atPath: kernel) else {
                report("hv shell: \(kernel) is missing: build the images with `make -C Images`")
                continue
            }
            let path = "\(dir)/\(name).cfg"
            let text = "name = \"\(name)\"\nkernel = \"\(kernel)\"\nmemory = 32\n" + extra
            guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else { continue }
            _ = ControlClient.run(["create", path], socket: socket)
        }
        _ = ControlClient.run(["list"], socket: socket)
    }

    /// The demo's domains: name, image, extra config lines.
    static let demoDomains: [(String, String, String)] = [
        ("agent", "agent", "maxmem = 64\non_reboot = \"restart\"\n"),
        ("ticker", "timer", "cmdline = \"count period_ms=1000\"\n"),
        ("idle", "idle", ""),
    ]

    /// Splits a line into words: spaces separate, single and double quotes group, backslash escapes.
    static func split(_ line: String) throws -> [String] {
        struct Unterminated: Error, CustomStringConvertible { let description = "unterminated quote" }
        var words: [String] = [], word = "", inWord = false
        var quote: Character? = nil, escaped = false
        for c in line {
            if escaped { word.append(c); escaped = false; inWord = true; continue }
            if c == "\\" && quote != "'" { escaped = true; continue }
            if let q = quote {
                if c == q { quote = nil } else { word.append(c) }
                continue
            }
            if c == "\"" || c == "'" { quote = c; inWord = true; continue }
            if c.isWhitespace {
                if inWord { words.append(word); word = ""; inWord = false }
                continue
            }
            word.append(c)
            inWord = true
        }
        guard quote == nil else { throw Unterminated() }
        if inWord { words.append(word) }
        return words
    }

    /// Tab: verbs first; then domain names and ids for verbs that take one, paths for create, verbs for help.
    static func complete(_ line: String, cursor: Int, socket: String) -> Completion {
        let before = String(line.prefix(cursor))
        let words = before.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        let atNewWord = before.last == " " || before.isEmpty
        let index = atNewWord ? words.count : words.count - 1
        if index == 0 {
            return Completion.word(in: line, cursor: cursor, from: ControlVerbs.all.map(\.name) + ["exit"])
        }
        let verb = words[0]
        switch verb {
        case "help":
            return Completion.word(in: line, cursor: cursor, from: ControlVerbs.all.map(\.name))
        case "create", "restore":
            return pathCompletion(atNewWord ? "" : words[index], line: line, cursor: cursor)
        default:
            return Completion.word(in: line, cursor: cursor, from: domainNames(socket: socket))
        }
    }

    /// Names and ids of the running domains (asked of the daemon each time: they change).
    static func domainNames(socket: String) -> [String] {
        guard let connection = try? ControlConnection(path: socket), let reply = connection.call(["list"], json: true), let data = reply.json,
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let domains = object["domains"] as? [[String: Any]] else { return [] }
        return domains.compactMap { $0["name"] as? String } + domains.compactMap { ($0["id"] as? Int).map(String.init) }
    }

    /// Files and directories starting with the typed path (directories with a trailing "/").
    static func pathCompletion(_ typed: String, line: String, cursor: Int) -> Completion {
        let dir = typed.contains("/") ? String(typed[...typed.lastIndex(of: "/")!]) : ""
        let listing = (try? FileManager.default.contentsOfDirectory(atPath: dir.isEmpty ? "." : dir)) ?? []
        let candidates = listing.filter { !$0.hasPrefix(".") || typed.hasSuffix(".") }.sorted().map { name -> String in
            var isDir: ObjCBool = false
            let full = dir + name
            _ = FileManager.default.fileExists(atPath: full, isDirectory: &isDir)
            return isDir.boolValue ? full + "/" : full
        }.filter { $0.hasPrefix(typed) }
        return Completion(replaceFrom: cursor - typed.count, candidates: candidates)
    }
}
