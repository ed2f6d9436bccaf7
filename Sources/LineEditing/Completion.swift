/// What a completer offers for the word before the cursor: the whole words that may replace it.
///
/// The editor replaces the text from `replaceFrom` up to the cursor. One candidate is put in whole,
/// followed by a space unless it ends in "/" (a directory, so the user goes on typing the path).
/// Several put in their longest common prefix; when that adds nothing, a second Tab lists them.
public struct Completion: Sendable, Equatable {
    /// Character index in the line where the word being completed starts (at most the cursor).
    public var replaceFrom: Int
    /// Whole words, in the order they should be listed.
    public var candidates: [String]

    public init(replaceFrom: Int, candidates: [String]) {
        self.replaceFrom = replaceFrom
        self.candidates = candidates
    }

    /// Nothing to offer.
    public static let empty = Completion(replaceFrom: 0, candidates: [])

    /// Completes the word under the cursor (what follows the last space before it) from `words`:
    /// the ones that start with it. A helper for the common case; completers may do anything.
    public static func word(in line: String, cursor: Int, from words: [String]) -> Completion {
        let characters = Array(line)
        let cursor = min(max(cursor, 0), characters.count)
        var start = cursor
        while start > 0 && !characters[start - 1].isWhitespace { start -= 1 }
        let typed = String(characters[start..<cursor])
        return Completion(replaceFrom: start, candidates: words.filter { $0.hasPrefix(typed) })
    }
}

extension Completion {
    /// The longest prefix, in Characters, that every candidate shares.
    static func commonPrefix(_ words: [String]) -> String {
        guard var prefix = words.first.map(Array.init) else { return "" }
        for word in words.dropFirst() {
            let other = Array(word)
            var n = 0
            while n < prefix.count && n < other.count && prefix[n] == other[n] { n += 1 }
            prefix.removeSubrange(n...)
        }
        return String(prefix)
    }

    /// `words` laid out in columns down then across (as `ls` does) within `columns`; one string per row.
    static func rows(_ words: [String], columns: Int) -> [String] {
        guard !words.isEmpty else { return [] }
        let cell = (words.map { Display.width(of: $0) }.max() ?? 0) + 2
        let across = max(columns / cell, 1)
        let down = (words.count + across - 1) / across
        return (0..<down).map { row in
            var text = ""
            for column in 0..<across {
                let index = column * down + row
                guard index < words.count else { break }
                let word = words[index]
                let isLast = column == across - 1 || index + down >= words.count
                text += word
                if !isLast { text += String(repeating: " ", count: cell - Display.width(of: word)) }
            }
            return text
        }
    }
}
