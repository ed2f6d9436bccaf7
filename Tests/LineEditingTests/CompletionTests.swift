import Foundation
import Testing
@testable import LineEditing

/// Tab completion through a pseudo-terminal, and the pieces it is made of.
@Suite struct CompletionTests {
    static let verbs = ["console", "create", "destroy", "domain-list", "domain-pause", "list"]

    func editor(on terminal: TestTerminal, words: [String] = verbs) -> LineEditor {
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)
        editor.completer = { line, cursor in Completion.word(in: line, cursor: cursor, from: words) }
        return editor
    }

    @Test func oneCandidateIsInsertedWithASpace() throws {
        let terminal = try TestTerminal()
        let editor = editor(on: terminal)
        #expect(terminal.readLine(editor, typing: ["li", Keys.tab, "x", Keys.enter]) == .line("list x"))
        #expect(terminal.readLine(editor, typing: ["de", Keys.tab, Keys.enter]) == .line("destroy "))
    }

    @Test func oneDirectoryCandidateGetsNoSpace() throws {
        let terminal = try TestTerminal()
        let editor = editor(on: terminal, words: ["Images/", "README.md"])
        #expect(terminal.readLine(editor, typing: ["cat Im", Keys.tab, "x", Keys.enter]) == .line("cat Images/x"))
    }

    @Test func severalCandidatesInsertTheirCommonPrefix() throws {
        let terminal = try TestTerminal()
        let editor = editor(on: terminal)
        #expect(terminal.readLine(editor, typing: ["do", Keys.tab, Keys.enter]) == .line("domain-"))
        #expect(terminal.readLine(editor, typing: ["do", Keys.tab, "p", Keys.tab, Keys.enter]) == .line("domain-pause "))
    }

    @Test func completionInTheMiddleOfALine() throws {
        let terminal = try TestTerminal()
        let editor = editor(on: terminal)
        #expect(terminal.readLine(editor, typing: ["li 3", Keys.left, Keys.left, Keys.tab, Keys.enter]) == .line("list  3"))
    }

    @Test func secondTabListsTheCandidates() throws {
        let terminal = try TestTerminal()
        let editor = editor(on: terminal)
        let mark = terminal.outputCount
        #expect(terminal.readLine(editor, prompt: "hv> ", typing: ["c", Keys.tab, Keys.tab, "r", Keys.tab, Keys.enter]) == .line("create "))
        let output = String(terminal.output.dropFirst(mark))
        #expect(output.contains("\u{7}"))                       // the first Tab only rings
        // The second lists, in columns, each row on a line of its own (the tty turns "\n" into "\r\n").
        #expect(output.contains("\nconsole  create\r"))
        // and the prompt and line come back below the list.
        let list = try #require(output.range(of: "console  create"))
        #expect(output[list.upperBound...].contains("hv> c"))
    }

    @Test func firstTabThatInsertsDoesNotArmTheListing() throws {
        let terminal = try TestTerminal()
        let editor = editor(on: terminal)
        _ = terminal.readLine(editor, typing: ["do", Keys.tab, Keys.tab, Keys.enter])
        // "do" → "domain-" (inserted), then the second Tab inserts nothing: it rings, no list yet.
        #expect(!terminal.output.contains("domain-list  domain-pause"))
    }

    @Test func noCandidatesOrNoCompleterChangeNothing() throws {
        let terminal = try TestTerminal()
        #expect(terminal.readLine(editor(on: terminal), typing: ["zz", Keys.tab, Keys.tab, Keys.enter]) == .line("zz"))
        let plain = LineEditor(input: terminal.slave, output: terminal.slave)
        #expect(terminal.readLine(plain, typing: ["a", Keys.tab, "b", Keys.enter]) == .line("ab"))
    }

    @Test func completerSeesLineAndCursor() throws {
        let terminal = try TestTerminal()
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)
        let seen = Seen()
        editor.completer = { line, cursor in
            seen.record(line, cursor)
            return Completion(replaceFrom: 0, candidates: ["é"])
        }
        #expect(terminal.readLine(editor, typing: ["aé b", Keys.left, Keys.tab, Keys.enter]) == .line("é b"))
        #expect(seen.calls == [Seen.Call(line: "aé b", cursor: 3)])
    }

    @Test func commonPrefix() {
        #expect(Completion.commonPrefix(["domain-list", "domain-pause", "domain"]) == "domain")
        #expect(Completion.commonPrefix(["abc"]) == "abc")
        #expect(Completion.commonPrefix(["abc", "xyz"]) == "")
        #expect(Completion.commonPrefix([]) == "")
        #expect(Completion.commonPrefix(["né", "ne"]) == "n")
    }

    @Test func rowsGoDownThenAcross() {
        #expect(Completion.rows(["a", "bb", "c", "d", "e"], columns: 12) == ["a   c   e", "bb  d"])
        #expect(Completion.rows(["one", "two"], columns: 3) == ["one", "two"])
        #expect(Completion.rows([], columns: 80) == [])
    }

    @Test func wordHelper() {
        let c = Completion.word(in: "hv cr 1", cursor: 5, from: ["create", "console", "crash"])
        #expect(c == Completion(replaceFrom: 3, candidates: ["create", "crash"]))
        #expect(Completion.word(in: "", cursor: 0, from: ["a", "b"]).candidates == ["a", "b"])
    }
}

/// Records what a completer was called with (from the reading thread).
final class Seen: @unchecked Sendable {
    struct Call: Equatable { var line: String; var cursor: Int }
    private let lock = NSLock()
    private var recorded: [Call] = []
    var calls: [Call] { lock.withLock { recorded } }
    func record(_ line: String, _ cursor: Int) { lock.withLock { recorded.append(Call(line: line, cursor: cursor)) } }
}
