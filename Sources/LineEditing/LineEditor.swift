/// What `LineEditor.readLine` ended with.
public enum ReadResult: Equatable, Sendable {
    /// The line entered, without its line ending.
    case line(String)
    /// Ctrl-C: the line was abandoned.
    case interrupted
    /// Ctrl-D on an empty line, or the input ended.
    case endOfFile
}

/// Reads lines from a terminal with editing, history and Tab completion; from anything else, plainly.
///
/// Not thread-safe: use it from one thread at a time. It is Sendable only so a reading thread can own it.
public final class LineEditor: @unchecked Sendable {
    /// Called on Tab with the line and the cursor (a Character index); nil means Tab does nothing.
    public var completer: (@Sendable (_ line: String, _ cursor: Int) -> Completion)?

    /// Past lines, oldest first, at most `historyLimit`. Assigning (or `addHistory`) rewrites the
    /// history file when there is one.
    public var history: [String] {
        didSet {
            if history.count > historyLimit { history.removeFirst(history.count - historyLimit) }
            if let historyFile { HistoryFile.save(history, to: historyFile) }
        }
    }

    /// Where history is kept between runs, if anywhere.
    public let historyFile: String?
    /// The most history entries kept, in memory and in the file.
    public let historyLimit: Int

    private let input: Int32
    private let output: Int32
    /// Bytes read but not used yet: type-ahead, or the lines after this one when input is a pipe.
    private var pending: [UInt8] = []
    private var pendingStart = 0
    private var decoder = KeyDecoder()

    /// An editor reading `input` and drawing on `output`; history is loaded from `historyFile` if it exists.
    public init(input: Int32 = 0, output: Int32 = 1, historyFile: String? = nil, historyLimit: Int = 1000) {
        self.input = input
        self.output = output
        self.historyFile = historyFile
        self.historyLimit = max(historyLimit, 0)
        self.history = historyFile.map { HistoryFile.load($0, limit: max(historyLimit, 0)) } ?? []
    }

    /// Adds `line` to the history (and the file), unless it is blank or the same as the last entry.
    /// `readLine` never does this itself: the caller decides what is worth remembering.
    public func addHistory(_ line: String) {
        let entry = HistoryFile.entry(line)
        guard !entry.allSatisfy(\.isWhitespace), entry != history.last else { return }
        history.append(entry)
    }

    /// Reads one line. On a terminal it shows `prompt` and lets the user edit in raw mode, which it
    /// undoes before returning. Otherwise it reads up to the next newline without echo or prompt
    /// (a script piped in should not print prompts).
    public func readLine(prompt: String) -> ReadResult {
        guard Terminal.isTerminal(input), let raw = RawMode(fd: input) else { return readPlainLine() }
        defer { raw.restore() }
        return editLine(prompt: prompt)
    }

    // MARK: - Editing

    private func editLine(prompt: String) -> ReadResult {
        var line = LineBuffer()
        // History as browsed: the line being typed is the newest entry, and edits to older ones
        // last until the line is entered.
        var entries = history + [""]
        var index = entries.count - 1
        // A Tab that could insert nothing; the next Tab lists the candidates.
        var tabShouldList = false
        var stale = true

        let draw = { [self] in
            Terminal.write(output, Display.refresh(prompt: prompt, line: line, columns: Terminal.columns(output)))
            stale = false
        }

        while true {
            // Draw only when about to wait: pasted text is drawn once, not once per character.
            guard let key = nextKey(beforeWaiting: { if stale { draw() } }) else {
                Terminal.write(output, "\r\n")
                return .endOfFile
            }
            let listNow = tabShouldList
            tabShouldList = false
            stale = true

            switch key {
            case .character(let scalar): line.insert(scalar)
            case .left: line.moveLeft()
            case .right: line.moveRight()
            case .wordLeft: line.moveWordLeft()
            case .wordRight: line.moveWordRight()
            case .home: line.moveHome()
            case .end: line.moveEnd()
            case .backspace: line.deleteBackward()
            case .delete: line.deleteForward()
            case .killToEnd: line.killToEnd()
            case .killToStart: line.killToStart()
            case .deleteWordBefore: line.deleteWordBackward()

            case .endOfFileOrDelete:
                if line.isEmpty {
                    Terminal.write(output, "\r\n")
                    return .endOfFile
                }
                line.deleteForward()

            case .enter:
                line.moveEnd()
                draw()
                Terminal.write(output, "\r\n")
                return .line(line.text)

            case .interrupt:
                line.moveEnd()
                draw()
                Terminal.write(output, "^C\r\n")
                return .interrupted

            case .up, .down:
                let next = index + (key == .up ? -1 : 1)
                guard entries.indices.contains(next) else { continue }
                entries[index] = line.text
                index = next
                line = LineBuffer(entries[index])

            case .clearScreen:
                Terminal.write(output, "\u{1b}[H\u{1b}[2J")

            case .tab:
                tabShouldList = complete(&line, list: listNow, prompt: prompt)
            }
        }
    }

    /// Completes at the cursor. Returns whether nothing could be inserted among several candidates,
    /// so that the next Tab lists them.
    private func complete(_ line: inout LineBuffer, list: Bool, prompt: String) -> Bool {
        guard let completer else { return false }
        let offer = completer(line.text, line.cursor)
        let start = min(max(offer.replaceFrom, 0), line.cursor)
        let typed = String(line.characters[start..<line.cursor])

        switch offer.candidates.count {
        case 0:
            bell()
            return false
        case 1:
            let word = offer.candidates[0]
            line.replace(from: start, with: word.hasSuffix("/") ? word : word + " ")
            return false
        default:
            let prefix = Completion.commonPrefix(offer.candidates)
            if prefix.count > typed.count {
                line.replace(from: start, with: prefix)
                return false
            }
            guard list else {
                bell()
                return true
            }
            // Below the line as it stands; the caller redraws prompt and line after the list.
            let rows = Completion.rows(offer.candidates, columns: Terminal.columns(output))
            var text = Display.refresh(prompt: prompt, line: line, columns: Terminal.columns(output)) + "\r\n"
            for row in rows { text += row + "\r\n" }
            Terminal.write(output, text)
            return true
        }
    }

    private func bell() { Terminal.write(output, "\u{7}") }

    // MARK: - Input

    /// The next key, reading more input when needed (after calling `beforeWaiting`); nil at end of input.
    private func nextKey(beforeWaiting: () -> Void) -> Key? {
        while true {
            while pendingStart < pending.count {
                let byte = pending[pendingStart]
                pendingStart += 1
                if let key = decoder.feed(byte) { return key }
            }
            beforeWaiting()
            guard fill() else { return nil }
        }
    }

    /// Reads more input into `pending`; false at end of input.
    private func fill() -> Bool {
        // Drop what was used so the buffer holds at most a partial line plus one read.
        pending.removeSubrange(0..<pendingStart)
        pendingStart = 0
        return Terminal.read(input, into: &pending)
    }

    /// A line from a pipe or file: bytes up to "\n", without it or a "\r" before it.
    private func readPlainLine() -> ReadResult {
        while true {
            if let newline = pending[pendingStart...].firstIndex(of: 0x0a) {
                var end = newline
                if end > pendingStart && pending[end - 1] == 0x0d { end -= 1 }
                let text = String(decoding: pending[pendingStart..<end], as: UTF8.self)
                pendingStart = newline + 1
                return .line(text)
            }
            guard fill() else { break }
        }
        // The input ended: what is left is a last line without a newline.
        guard pendingStart < pending.count else { return .endOfFile }
        var end = pending.count
        if pending[end - 1] == 0x0d { end -= 1 }
        let text = String(decoding: pending[pendingStart..<end], as: UTF8.self)
        pendingStart = pending.count
        return .line(text)
    }
}
