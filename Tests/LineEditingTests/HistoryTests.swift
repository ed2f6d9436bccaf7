import Foundation
import Glibc
import Testing
@testable import LineEditing

/// History in memory and in its file.
@Suite struct HistoryTests {
    func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("le-history-\(UUID().uuidString)").path
    }

    @Test func addSkipsBlankLinesAndRepeats() {
        let editor = LineEditor(input: -1, output: -1)
        for line in ["a", "", "   ", "a", "b", "a"] { editor.addHistory(line) }
        #expect(editor.history == ["a", "b", "a"])
    }

    @Test func limitKeepsTheNewest() {
        let editor = LineEditor(input: -1, output: -1, historyLimit: 3)
        for n in 1...5 { editor.addHistory("\(n)") }
        #expect(editor.history == ["3", "4", "5"])
    }

    @Test func lineBreaksInAnEntryBecomeSpaces() {
        let editor = LineEditor(input: -1, output: -1)
        editor.addHistory("a\nb\r\nc")
        #expect(editor.history == ["a b c"])
    }

    @Test func fileSurvivesANewEditor() throws {
        let path = temporaryPath()
        defer { unlink(path) }
        let first = LineEditor(input: -1, output: -1, historyFile: path, historyLimit: 3)
        #expect(first.history.isEmpty)                       // no file yet
        for line in ["list", "create a", "create a", "", "destroy 1", "console 2 ✓"] { first.addHistory(line) }
        #expect(first.history == ["create a", "destroy 1", "console 2 ✓"])

        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "create a\ndestroy 1\nconsole 2 ✓\n")

        let second = LineEditor(input: -1, output: -1, historyFile: path, historyLimit: 3)
        #expect(second.history == first.history)
    }

    @Test func loadingKeepsOnlyTheLimit() throws {
        let path = temporaryPath()
        defer { unlink(path) }
        try "1\n2\n\n3\r\n4\n5".write(toFile: path, atomically: false, encoding: .utf8)
        let editor = LineEditor(input: -1, output: -1, historyFile: path, historyLimit: 3)
        #expect(editor.history == ["3", "4", "5"])
    }

    @Test func anExistingFileBecomesPrivate() throws {
        let path = temporaryPath()
        defer { unlink(path) }
        try "old\n".write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o644)
        let editor = LineEditor(input: -1, output: -1, historyFile: path)
        editor.addHistory("new")
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(LineEditor(input: -1, output: -1, historyFile: path).history == ["old", "new"])
    }

    @Test func unwritableFileIsNotAnError() {
        let editor = LineEditor(input: -1, output: -1, historyFile: "/nonexistent-dir/history")
        editor.addHistory("still kept in memory")
        #expect(editor.history == ["still kept in memory"])
    }
}
