import Testing
@testable import LineEditing

/// Widths and the single-line redraw.
@Suite struct DisplayTests {
    @Test func widths() {
        #expect(Display.width(of: "hv> ") == 4)
        #expect(Display.width(of: "\u{1b}[1;32mhv\u{1b}[0m> ") == 4)
        #expect(Display.width(of: "日本") == 4)
        #expect(Display.width(of: "e\u{301}") == 1)
    }

    @Test func refreshPlacesTheCursor() {
        var line = LineBuffer("hello")
        line.moveLeft()
        #expect(Display.refresh(prompt: "> ", line: line, columns: 80) == "\r> hello\u{1b}[0K\r\u{1b}[6C")
        #expect(Display.refresh(prompt: "", line: LineBuffer(), columns: 80) == "\r\u{1b}[0K\r")
    }

    @Test func longLineScrollsToTheCursor() {
        var line = LineBuffer("0123456789abcdefghij")
        // Ten columns: prompt 2, room 7 (the last column stays free).
        #expect(Display.refresh(prompt: "> ", line: line, columns: 10) == "\r> defghij\u{1b}[0K\r\u{1b}[9C")
        line.moveHome()
        #expect(Display.refresh(prompt: "> ", line: line, columns: 10) == "\r> 0123456\u{1b}[0K\r\u{1b}[2C")
    }

    @Test func wideCharactersTakeTwoColumns() {
        let line = LineBuffer("日本語")
        #expect(Display.refresh(prompt: "", line: line, columns: 80) == "\r日本語\u{1b}[0K\r\u{1b}[6C")
        #expect(Display.refresh(prompt: "", line: line, columns: 5) == "\r本語\u{1b}[0K\r\u{1b}[4C")
    }
}
