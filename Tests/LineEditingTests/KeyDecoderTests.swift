import Testing
@testable import LineEditing

/// Bytes to keys, without a terminal.
@Suite struct KeyDecoderTests {
    func keys(_ bytes: [UInt8]) -> [Key] {
        var decoder = KeyDecoder()
        return bytes.compactMap { decoder.feed($0) }
    }

    func keys(_ text: String) -> [Key] { keys(Array(text.utf8)) }

    @Test func printableAndControl() {
        #expect(keys("a\u{1}\u{3}\u{4}\u{7f}\u{8}\t") == [.character("a"), .home, .interrupt, .endOfFileOrDelete, .backspace, .backspace, .tab])
        #expect(keys("\u{0}\u{7}") == [])            // NUL and BEL mean nothing
    }

    @Test func crLfIsOneEnter() {
        #expect(keys("a\r\nb\n\r\n\n") == [.character("a"), .enter, .character("b"), .enter, .enter, .enter])
    }

    @Test func escapeSequences() {
        #expect(keys("\u{1b}[A\u{1b}[B\u{1b}[C\u{1b}[D") == [.up, .down, .right, .left])
        #expect(keys("\u{1b}OA\u{1b}OH\u{1b}OF") == [.up, .home, .end])
        #expect(keys("\u{1b}[1~\u{1b}[7~\u{1b}[4~\u{1b}[8~\u{1b}[3~") == [.home, .home, .end, .end, .delete])
        #expect(keys("\u{1b}[1;5C\u{1b}[1;3D") == [.wordRight, .wordLeft])
    }

    @Test func unknownSequencesAreDropped() {
        #expect(keys("\u{1b}[15~x\u{1b}[200~y\u{1b}[12;34;56;78;90;12;34;56;78Zz") == [.character("x"), .character("y"), .character("z")])
        #expect(keys("\u{1b}xq") == [.character("q")])        // unknown Alt key
        #expect(keys("\u{1b}\u{3}") == [.interrupt])          // Escape, then Ctrl-C still counts
        #expect(keys("\u{1b}[\u{3}") == [.interrupt])
    }

    @Test func utf8() {
        #expect(keys("é日🙂") == [.character("é"), .character("日"), .character("🙂")])
        // Invalid: a stray continuation, an overlong "/", a truncated sequence, a surrogate.
        #expect(keys([0x80, 0x61, 0xc0, 0xaf, 0xe6, 0x97, 0x62, 0xed, 0xa0, 0x80, 0x63]) == [.character("a"), .character("b"), .character("c")])
    }
}
