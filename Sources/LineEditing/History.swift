/// The history file: one entry a line, oldest first, at most the editor's limit.
enum HistoryFile {
    /// The last `limit` non-empty lines of the file at `path`; none if it is missing or unreadable.
    static func load(_ path: String, limit: Int) -> [String] {
        guard let bytes = Terminal.readFile(path) else { return [] }
        // Split the bytes, not the String: there "\r\n" is one Character and would hide the break.
        let lines = bytes.split(separator: 0x0a)
            .map { String(decoding: $0.last == 0x0d ? $0.dropLast() : $0, as: UTF8.self) }
            .filter { !$0.isEmpty }
        return Array(lines.suffix(max(limit, 0)))
    }

    /// Writes `entries` as the whole file, mode 0600. A failure is ignored: losing history must not
    /// stop the shell.
    static func save(_ entries: [String], to path: String) {
        var text = ""
        for entry in entries { text += entry + "\n" }
        Terminal.replaceFile(path, with: Array(text.utf8))
    }

    /// An entry fit for the file: its own line breaks become spaces.
    static func entry(_ line: String) -> String {
        String(line.map { $0 == "\n" || $0 == "\r" || $0 == "\r\n" ? " " : $0 })
    }
}
