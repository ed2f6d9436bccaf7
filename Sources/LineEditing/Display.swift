/// How the prompt and line are drawn: column widths and the single-line refresh.
enum Display {
    /// Columns a Character takes: 0 for combining marks and controls, 2 for East Asian wide and emoji.
    static func width(of character: Character) -> Int {
        guard let first = character.unicodeScalars.first else { return 0 }
        let value = first.value
        if value < 0x20 || (0x7f..<0xa0).contains(value) { return 0 }
        if value < 0x7f { return 1 }
        switch first.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return 0
        default: break
        }
        if first.properties.isEmojiPresentation || isWide(value) { return 2 }
        return 1
    }

    /// Columns `text` takes on screen, not counting escape sequences (a coloured prompt is no wider).
    static func width(of text: String) -> Int {
        var columns = 0
        var inEscape = false
        var inCSI = false
        for character in text {
            if inCSI {
                // A CSI sequence ends at its final byte (@ to ~).
                if let scalar = character.unicodeScalars.first, (0x40...0x7e).contains(scalar.value) { inCSI = false }
                continue
            }
            if inEscape {
                inEscape = false
                inCSI = character == "["
                continue
            }
            if character == "\u{1b}" {
                inEscape = true
                continue
            }
            columns += width(of: character)
        }
        return columns
    }

    /// The bytes that redraw `prompt` and `line` on the current row and place the cursor: go to column 0,
    /// write everything, clear the rest of the row, then move right to the cursor. A line too long for
    /// `columns` scrolls sideways so the cursor stays in view; the last column stays free so the
    /// terminal never wraps.
    static func refresh(prompt: String, line: LineBuffer, columns: Int) -> String {
        let promptWidth = width(of: prompt)
        let room = max(columns - promptWidth - 1, 1)
        let widths = line.characters.map { width(of: $0) }

        var start = 0
        var beforeCursor = widths[0..<line.cursor].reduce(0, +)
        while beforeCursor > room && start < line.cursor {
            beforeCursor -= widths[start]
            start += 1
        }
        var end = start
        var used = 0
        while end < widths.count && used + widths[end] <= room {
            used += widths[end]
            end += 1
        }

        var out = "\r" + prompt + String(line.characters[start..<end]) + "\u{1b}[0K\r"
        let column = promptWidth + beforeCursor
        if column > 0 { out += "\u{1b}[\(column)C" }
        return out
    }

    /// Whether a code point is East Asian Wide or Fullwidth (the common blocks; rare ones count as 1).
    private static func isWide(_ value: UInt32) -> Bool {
        switch value {
        case 0x1100...0x115f, 0x2e80...0x303e, 0x3041...0x33ff, 0x3400...0x4dbf, 0x4e00...0x9fff,
             0xa000...0xa4cf, 0xac00...0xd7a3, 0xf900...0xfaff, 0xfe30...0xfe4f, 0xff00...0xff60,
             0xffe0...0xffe6, 0x1f300...0x1f64f, 0x1f900...0x1f9ff, 0x20000...0x3fffd:
            return true
        default:
            return false
        }
    }
}
