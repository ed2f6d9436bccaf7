import Foundation
import Glibc
import Testing
@testable import LineEditing

/// The editor on a real pseudo-terminal: keys typed at the master side, results from `readLine`.
@Suite struct LineEditorTests {
    /// Types `keys` into a fresh editor on a fresh terminal and returns what `readLine` gave.
    func edit(_ keys: [String], history: [String] = []) throws -> ReadResult? {
        let terminal = try TestTerminal()
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)
        for line in history { editor.addHistory(line) }
        return terminal.readLine(editor, typing: keys)
    }

    @Test func plainLine() throws {
        #expect(try edit(["hello world", Keys.enter]) == .line("hello world"))
    }

    @Test func lineFeedAlsoEnters() throws {
        #expect(try edit(["abc\n"]) == .line("abc"))
    }

    @Test func emptyLine() throws {
        #expect(try edit([Keys.enter]) == .line(""))
    }

    @Test func insertInTheMiddleWithArrows() throws {
        #expect(try edit(["helo", Keys.left, "l", Keys.enter]) == .line("hello"))
        #expect(try edit(["ac", Keys.left, Keys.left, Keys.right, "b", Keys.enter]) == .line("abc"))
        // SS3 arrows (application cursor mode) work too.
        #expect(try edit(["ac", "\u{1b}OD", "b", "\u{1b}OC", "d", Keys.enter]) == .line("abcd"))
    }

    @Test func homeAndEndInEveryForm() throws {
        for (home, end) in [(Keys.home, Keys.end), ("\u{1b}[1~", "\u{1b}[4~"), ("\u{1b}OH", "\u{1b}OF"),
                            (Keys.ctrl("a"), Keys.ctrl("e"))] {
            #expect(try edit(["bc", home, "a", end, "d", Keys.enter]) == .line("abcd"))
        }
    }

    @Test func controlBAndF() throws {
        #expect(try edit(["ad", Keys.ctrl("b"), "c", Keys.ctrl("b"), Keys.ctrl("b"), Keys.ctrl("f"), "b", Keys.enter]) == .line("abcd"))
    }

    @Test func arrowsStopAtTheEnds() throws {
        #expect(try edit(["b", Keys.left, Keys.left, Keys.left, "a", Keys.right, Keys.right, Keys.right, "c", Keys.enter]) == .line("abc"))
    }

    @Test func backspaceAndDelete() throws {
        #expect(try edit(["abcd", Keys.backspace, Keys.enter]) == .line("abc"))
        #expect(try edit(["abcd", "\u{8}", Keys.enter]) == .line("abc"))
        #expect(try edit(["abcd", Keys.home, Keys.delete, Keys.enter]) == .line("bcd"))
        #expect(try edit(["abcd", Keys.left, Keys.left, Keys.backspace, Keys.delete, Keys.enter]) == .line("ad"))
        // At the ends they do nothing.
        #expect(try edit(["ab", Keys.delete, Keys.home, Keys.backspace, Keys.enter]) == .line("ab"))
    }

    @Test func controlDDeletesUnderTheCursorOnAFullLine() throws {
        #expect(try edit(["abc", Keys.home, Keys.ctrl("d"), Keys.enter]) == .line("bc"))
        // At the end of a non-empty line it is not end of file.
        #expect(try edit(["abc", Keys.ctrl("d"), Keys.enter]) == .line("abc"))
    }

    @Test func killsAndWordDelete() throws {
        #expect(try edit(["hello world", Keys.left, Keys.left, Keys.ctrl("k"), Keys.enter]) == .line("hello wor"))
        #expect(try edit(["hello world", Keys.left, Keys.left, Keys.ctrl("u"), Keys.enter]) == .line("ld"))
        #expect(try edit(["domain create  ", Keys.ctrl("w"), Keys.enter]) == .line("domain "))
        #expect(try edit(["one two three", Keys.left, Keys.left, Keys.ctrl("w"), Keys.enter]) == .line("one two ee"))
        #expect(try edit(["alt back", "\u{1b}\u{7f}", Keys.enter]) == .line("alt "))
    }

    @Test func wordMoves() throws {
        #expect(try edit(["one two", "\u{1b}b", "x", Keys.enter]) == .line("one xtwo"))
        #expect(try edit(["one two", Keys.home, "\u{1b}f", "x", Keys.enter]) == .line("onex two"))
        #expect(try edit(["one two", "\u{1b}[1;5D", "\u{1b}[1;5D", "x", Keys.enter]) == .line("xone two"))
    }

    @Test func controlCInterruptsAndEchoes() throws {
        let terminal = try TestTerminal()
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)
        #expect(terminal.readLine(editor, typing: ["half typed", Keys.ctrl("c")]) == .interrupted)
        #expect(terminal.wait(for: "^C", after: 0, timeout: 2))
        // The next line starts afresh.
        #expect(terminal.readLine(editor, typing: ["next", Keys.enter]) == .line("next"))
    }

    @Test func controlDOnAnEmptyLineIsEndOfFile() throws {
        #expect(try edit([Keys.ctrl("d")]) == .endOfFile)
        #expect(try edit(["x", Keys.backspace, Keys.ctrl("d")]) == .endOfFile)
    }

    @Test func hangupIsEndOfFile() throws {
        let terminal = try TestTerminal()
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)
        // Closing the master hangs the slave up; the editor's read then fails.
        let result = ResultBox()
        Thread.detachNewThread { result.set(editor.readLine(prompt: "$ ")) }
        #expect(terminal.wait(for: "$ ", after: 0))
        terminal.hangUp()
        #expect(result.get(timeout: 5) == .endOfFile)
    }

    @Test func utf8TextSurvivesEditing() throws {
        #expect(try edit(["héllo wörld ✓", Keys.enter]) == .line("héllo wörld ✓"))
        #expect(try edit(["日本語", Keys.backspace, Keys.enter]) == .line("日本"))
        #expect(try edit(["añb", Keys.left, Keys.left, Keys.delete, "n", Keys.end, "🙂", Keys.enter]) == .line("anb🙂"))
        // A combining accent joins its letter: one Backspace removes both.
        #expect(try edit(["e\u{301}x", Keys.left, Keys.backspace, Keys.enter]) == .line("x"))
    }

    @Test func multiByteCharacterSplitAcrossWrites() throws {
        let bytes = Array("é".utf8)
        let terminal = try TestTerminal()
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)
        let result = ResultBox()
        Thread.detachNewThread { result.set(editor.readLine(prompt: "% ")) }
        #expect(terminal.wait(for: "% ", after: 0))
        terminal.type(bytes: [bytes[0]])
        terminal.type(bytes: [bytes[1]])
        terminal.type("\u{1b}")
        terminal.type("[D")
        terminal.type("x\r")
        #expect(result.get(timeout: 5) == .line("xé"))
    }

    @Test func typeAheadIsKeptForTheNextLine() throws {
        let terminal = try TestTerminal()
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)
        #expect(terminal.readLine(editor, typing: ["first\r\nsecond\r"]) == .line("first"))
        #expect(terminal.readLine(editor, typing: []) == .line("second"))
    }

    @Test func terminalSettingsAreRestored() throws {
        let terminal = try TestTerminal()
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)
        let before = terminal.settings
        #expect(before.c_lflag & tcflag_t(ICANON | ECHO) == tcflag_t(ICANON | ECHO))
        for ending in [Keys.enter, Keys.ctrl("c")] {
            _ = terminal.readLine(editor, typing: ["x", ending])
            let after = terminal.settings
            #expect(after.c_lflag == before.c_lflag)
            #expect(after.c_iflag == before.c_iflag)
            #expect(after.c_oflag == before.c_oflag)
        }
        _ = terminal.readLine(editor, typing: [Keys.ctrl("d")])
        #expect(terminal.settings.c_lflag == before.c_lflag)
    }

    @Test func redrawShowsPromptAndLine() throws {
        let terminal = try TestTerminal()
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)
        #expect(terminal.readLine(editor, prompt: "hv> ", typing: ["ab", Keys.ctrl("l"), Keys.enter]) == .line("ab"))
        let output = terminal.output
        #expect(output.contains("\u{1b}[H\u{1b}[2J"))
        #expect(output.contains("\rhv> ab\u{1b}[0K"))
        #expect(output.hasSuffix("\r\n"))
    }

    @Test func historyUpAndDownComeBackToTheEditedLine() throws {
        #expect(try edit(["draft", Keys.up, Keys.enter], history: ["first", "second"]) == .line("second"))
        #expect(try edit(["draft", Keys.up, Keys.up, Keys.up, Keys.enter], history: ["first", "second"]) == .line("first"))
        #expect(try edit(["draft", Keys.up, Keys.up, Keys.down, Keys.down, Keys.enter], history: ["first", "second"]) == .line("draft"))
        #expect(try edit(["draft", Keys.ctrl("p"), Keys.ctrl("p"), Keys.ctrl("n"), Keys.enter], history: ["first", "second"]) == .line("second"))
        // Down past the newest entry stays on the edited line.
        #expect(try edit(["draft", Keys.down, Keys.enter], history: ["first"]) == .line("draft"))
        // Edits to an old entry are kept while browsing.
        #expect(try edit([Keys.up, "!", Keys.up, Keys.down, Keys.enter], history: ["first", "second"]) == .line("second!"))
    }

    @Test func readLineDoesNotAddToHistory() throws {
        let terminal = try TestTerminal()
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)
        editor.addHistory("old")
        #expect(terminal.readLine(editor, typing: [Keys.up, "er", Keys.enter]) == .line("older"))
        #expect(editor.history == ["old"])
        editor.addHistory("older")
        #expect(terminal.readLine(editor, typing: [Keys.up, Keys.up, Keys.enter]) == .line("old"))
    }

    @Test func longLinesScrollSideways() throws {
        let terminal = try TestTerminal(columns: 20)
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)
        let long = String(repeating: "abcdefghij", count: 5)
        #expect(terminal.readLine(editor, prompt: "> ", typing: [long, Keys.home, "X", Keys.enter]) == .line("X" + long))
        // No redraw is wider than the terminal.
        for redraw in terminal.output.split(separator: "\r") where redraw.hasPrefix("> ") {
            let text = redraw.split(separator: "\u{1b}").first ?? ""
            #expect(text.count <= 19)
        }
    }
}

/// When input is not a terminal the editor reads plain lines.
@Suite struct PlainInputTests {
    @Test func pipeGivesLinesThenEndOfFile() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]) }
        let text = Array("one\ntwo\r\n\nthré\u{1b}[A\nlast".utf8)
        _ = text.withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }
        close(fds[1])
        let editor = LineEditor(input: fds[0], output: fds[0])
        #expect(editor.readLine(prompt: "> ") == .line("one"))
        #expect(editor.readLine(prompt: "> ") == .line("two"))
        #expect(editor.readLine(prompt: "> ") == .line(""))
        #expect(editor.readLine(prompt: "> ") == .line("thré\u{1b}[A"))
        #expect(editor.readLine(prompt: "> ") == .line("last"))
        #expect(editor.readLine(prompt: "> ") == .endOfFile)
        #expect(editor.readLine(prompt: "> ") == .endOfFile)
    }

    @Test func longLinesAcrossManyReads() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("le-plain-\(UUID().uuidString)").path
        defer { unlink(path) }
        let lines = (0..<500).map { "line \($0) " + String(repeating: "x", count: $0 * 7) }
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        let editor = LineEditor(input: fd, output: -1)
        for line in lines { #expect(editor.readLine(prompt: "") == .line(line)) }
        #expect(editor.readLine(prompt: "") == .endOfFile)
    }
}
