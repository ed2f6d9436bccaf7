/// One value of an xl.cfg setting and the line it starts on (list elements keep their own lines, so an
/// error in the third disk of a list that spans lines points at that disk).
struct XLConfigValue: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// A quoted string, escapes already decoded.
        case string(String)
        /// An unquoted number as written ("64", "0x40", "-1", "1.5"): its key decides what it must be.
        case number(String)
        /// `[ v1, v2, ... ]`: strings and numbers, never nested.
        case list([XLConfigValue])
    }
    var kind: Kind
    var line: Int
}

/// One `key = value` setting as written, before its key is interpreted.
struct XLConfigSetting: Sendable, Equatable {
    var key: String
    var line: Int
    var value: XLConfigValue
}

/// A syntax error: the line, the key being set if the parser had got that far, and what is expected
/// there (nil: what the key accepts, which only the caller knows).
struct XLConfigSyntaxError: Error, Equatable {
    var line: Int
    var key: String?
    var problem: String
    var expected: String?
}

/// libxlu's configuration grammar, as xl reads it:
///
///     file    := { setting | ";" | newline }
///     setting := KEY "=" value ( ";" | newline | end of file )
///     value   := STRING | NUMBER | "[" [ atom { "," atom } [ "," ] ] "]"     (newlines allowed inside [ ])
///     atom    := STRING | NUMBER
///
/// KEY is `[A-Za-z_][A-Za-z0-9_]*`; STRING is `"..."` (escapes \\ \" \' \n \t \r) or `'...'` (taken
/// literally), on one line; NUMBER starts with a digit (or `-` and a digit); `#` starts a comment to
/// the end of the line. Unlike libxlu, a bare word as a value is refused rather than read as a string.
enum XLConfigSyntax {
    static let settingShape = "key = value, one per line or separated by ;"
    static let keyShape = "a key of letters, digits and _, not starting with a digit"
    static let escapes = #"the escapes \\ \" \' \n \t \r inside double quotes (single quotes take text literally)"#

    static func parse(_ text: String) throws(XLConfigSyntaxError) -> [XLConfigSetting] {
        var scanner = Scanner(bytes: Array(text.utf8))
        return try scanner.settings()
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        var line = 1

        init(bytes: [UInt8]) { self.bytes = bytes }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }
        var next: UInt8? { index + 1 < bytes.count ? bytes[index + 1] : nil }

        mutating func settings() throws(XLConfigSyntaxError) -> [XLConfigSetting] {
            var result: [XLConfigSetting] = []
            while true {
                skipBlanks()
                guard let c = current else { return result }
                if c == ascii("\n") { index += 1; line += 1; continue }
                if c == ascii(";") { index += 1; continue }
                guard Self.isKeyStart(c) else {
                    throw fail(nil, "\(describe(c)) where a setting should start", expected: "\(XLConfigSyntax.settingShape), \(XLConfigSyntax.keyShape)")
                }
                let keyLine = line
                let key = word()
                skipBlanks()
                guard current == ascii("=") else {
                    let found = current.map(describe) ?? "end of file"
                    throw fail(key, "\(found) after the key where = should be", expected: XLConfigSyntax.settingShape)
                }
                index += 1
                skipBlanks()
                let value = try value(for: key)
                skipBlanks()
                if let c = current, c != ascii("\n"), c != ascii(";") {
                    throw fail(key, "\(describe(c)) after the value; a setting ends at the end of the line or at ;",
                               expected: XLConfigSyntax.settingShape)
                }
                result.append(XLConfigSetting(key: key, line: keyLine, value: value))
            }
        }

        private mutating func value(for key: String) throws(XLConfigSyntaxError) -> XLConfigValue {
            guard current == ascii("[") else { return try atom(for: key, inList: false) }
            let openLine = line
            index += 1
            var items: [XLConfigValue] = []
            while true {
                skipBlanksAndNewlines()
                guard let c = current else {
                    throw XLConfigSyntaxError(line: openLine, key: key, problem: "the list opened with [ on this line is never closed with ]", expected: nil)
                }
                if c == ascii("]") { index += 1; return XLConfigValue(kind: .list(items), line: openLine) }
                if c == ascii("[") { throw fail(key, "lists cannot be nested", expected: nil) }
                items.append(try atom(for: key, inList: true))
                skipBlanksAndNewlines()
                if current == ascii(",") { index += 1; continue }
                if current == ascii("]") { continue }
                guard let after = current else { continue }  // the loop's top reports the unclosed list
                throw fail(key, "\(describe(after)) after a list element where , or ] should be", expected: nil)
            }
        }

        /// A string or a number: a single value, or one element of a list.
        private mutating func atom(for key: String, inList: Bool) throws(XLConfigSyntaxError) -> XLConfigValue {
            let startLine = line
            guard let c = current, inList || (c != ascii("\n") && c != ascii(";")) else {
                throw fail(key, "no value after =", expected: nil)
            }
            if c == ascii("\"") { return XLConfigValue(kind: .string(try doubleQuoted(key)), line: startLine) }
            if c == ascii("'") { return XLConfigValue(kind: .string(try singleQuoted(key)), line: startLine) }
            if Self.isDigit(c) || (c == ascii("-") && next.map(Self.isDigit) == true) {
                let start = index
                index += 1
                while let d = current, Self.isWordByte(d) || d == ascii(".") { index += 1 }
                return XLConfigValue(kind: .number(String(decoding: bytes[start..<index], as: UTF8.self)), line: startLine)
            }
            if Self.isKeyStart(c) {
                // xl's own parser takes some bare words; it documents quotes as required, and so do we.
                throw fail(key, "bare word \(word()): value must be quoted", expected: nil)
            }
            let place = inList ? "where a list element should be" : "where a value should be"
            throw fail(key, "\(describe(c)) \(place)", expected: nil)
        }

        private mutating func doubleQuoted(_ key: String) throws(XLConfigSyntaxError) -> String {
            index += 1
            var out: [UInt8] = []
            while true {
                guard let c = current, c != ascii("\n") else { throw unterminated(key, quote: "\"") }
                index += 1
                switch c {
                case ascii("\""):
                    return String(decoding: out, as: UTF8.self)
                case 0:
                    throw fail(key, "a NUL byte inside a string", expected: nil)
                case ascii("\\"):
                    guard let e = current, e != ascii("\n") else { throw unterminated(key, quote: "\"") }
                    index += 1
                    switch e {
                    case ascii("\\"), ascii("\""), ascii("'"): out.append(e)
                    case ascii("n"): out.append(ascii("\n"))
                    case ascii("t"): out.append(ascii("\t"))
                    case ascii("r"): out.append(ascii("\r"))
                    default: throw fail(key, "unknown escape \\\(printable(e))", expected: XLConfigSyntax.escapes)
                    }
                default:
                    out.append(c)
                }
            }
        }

        private mutating func singleQuoted(_ key: String) throws(XLConfigSyntaxError) -> String {
            index += 1
            let start = index
            while true {
                guard let c = current, c != ascii("\n") else { throw unterminated(key, quote: "'") }
                if c == 0 { throw fail(key, "a NUL byte inside a string", expected: nil) }
                if c == ascii("'") { break }
                index += 1
            }
            defer { index += 1 }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        private func unterminated(_ key: String, quote: String) -> XLConfigSyntaxError {
            fail(key, "unterminated string: no closing \(quote) on this line", expected: "a string that ends with \(quote) on the line it starts")
        }

        private mutating func word() -> String {
            let start = index
            while let c = current, Self.isWordByte(c) { index += 1 }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        /// Spaces, tabs, carriage returns (CRLF files) and comments, but not newlines: they end settings.
        private mutating func skipBlanks() {
            while let c = current {
                if c == ascii(" ") || c == ascii("\t") || c == ascii("\r") {
                    index += 1
                } else if c == ascii("#") {
                    while let d = current, d != ascii("\n") { index += 1 }
                } else {
                    return
                }
            }
        }

        private mutating func skipBlanksAndNewlines() {
            while true {
                skipBlanks()
                guard current == ascii("\n") else { return }
                index += 1
                line += 1
            }
        }

        private func fail(_ key: String?, _ problem: String, expected: String?) -> XLConfigSyntaxError {
            XLConfigSyntaxError(line: line, key: key, problem: problem, expected: expected)
        }

        private func describe(_ c: UInt8) -> String {
            switch c {
            case ascii("\n"): "end of line"
            case 0x21...0x7e: "\"\(printable(c))\""
            case 0x80...: "a non-ASCII character"
            default: "control character 0x\(String(c, radix: 16))"
            }
        }

        private func printable(_ c: UInt8) -> String {
            (0x21...0x7e).contains(c) ? String(UnicodeScalar(c)) : "0x\(String(c, radix: 16))"
        }

        static func isKeyStart(_ c: UInt8) -> Bool { (c | 0x20) >= ascii("a") && (c | 0x20) <= ascii("z") || c == ascii("_") }
        static func isDigit(_ c: UInt8) -> Bool { c >= ascii("0") && c <= ascii("9") }
        static func isWordByte(_ c: UInt8) -> Bool { isKeyStart(c) || isDigit(c) }
    }
}

@inline(__always) private func ascii(_ s: Unicode.Scalar) -> UInt8 { UInt8(truncatingIfNeeded: s.value) }
