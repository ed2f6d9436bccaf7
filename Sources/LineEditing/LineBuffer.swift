/// The line being edited and the cursor in it, counted in Characters. No I/O: the editor draws it.
struct LineBuffer: Equatable {
    private(set) var characters: [Character]
    /// Index in `characters` the cursor sits before; `characters.count` is the end of the line.
    private(set) var cursor: Int

    init(_ text: String = "") {
        characters = Array(text)
        cursor = characters.count
    }

    var text: String { String(characters) }
    var isEmpty: Bool { characters.isEmpty }

    /// Inserts one typed scalar. A combining mark joins the Character before it, so indices stay
    /// the Characters of `text`.
    mutating func insert(_ scalar: Unicode.Scalar) {
        if cursor > 0 {
            let joined = String(characters[cursor - 1]) + String(scalar)
            if joined.count == 1, let character = joined.first {
                characters[cursor - 1] = character
                return
            }
        }
        characters.insert(Character(scalar), at: cursor)
        cursor += 1
    }

    /// Replaces the text from `start` up to the cursor with `text` and leaves the cursor after it.
    mutating func replace(from start: Int, with text: String) {
        let start = min(max(start, 0), cursor)
        let inserted = Array(text)
        characters.replaceSubrange(start..<cursor, with: inserted)
        cursor = start + inserted.count
    }

    mutating func moveLeft() { cursor = max(cursor - 1, 0) }
    mutating func moveRight() { cursor = min(cursor + 1, characters.count) }
    mutating func moveHome() { cursor = 0 }
    mutating func moveEnd() { cursor = characters.count }

    /// Back over spaces, then over the word before them.
    mutating func moveWordLeft() { cursor = wordStart(before: cursor) }

    /// Forward over spaces, then to the end of the word after them.
    mutating func moveWordRight() {
        var i = cursor
        while i < characters.count && characters[i].isWhitespace { i += 1 }
        while i < characters.count && !characters[i].isWhitespace { i += 1 }
        cursor = i
    }

    mutating func deleteBackward() {
        guard cursor > 0 else { return }
        characters.remove(at: cursor - 1)
        cursor -= 1
    }

    mutating func deleteForward() {
        guard cursor < characters.count else { return }
        characters.remove(at: cursor)
    }

    mutating func killToEnd() { characters.removeSubrange(cursor...) }

    mutating func killToStart() {
        characters.removeSubrange(..<cursor)
        cursor = 0
    }

    mutating func deleteWordBackward() {
        let start = wordStart(before: cursor)
        characters.removeSubrange(start..<cursor)
        cursor = start
    }

    private func wordStart(before index: Int) -> Int {
        var i = index
        while i > 0 && characters[i - 1].isWhitespace { i -= 1 }
        while i > 0 && !characters[i - 1].isWhitespace { i -= 1 }
        return i
    }
}
