/// One editing action, decoded from the bytes a terminal sends.
enum Key: Equatable, Sendable {
    case character(Unicode.Scalar)
    case enter
    case tab
    case interrupt              // Ctrl-C
    case endOfFileOrDelete      // Ctrl-D
    case left, right, wordLeft, wordRight, home, end
    case up, down
    case backspace, delete
    case killToEnd              // Ctrl-K
    case killToStart            // Ctrl-U
    case deleteWordBefore       // Ctrl-W, Alt-Backspace
    case clearScreen            // Ctrl-L
}

/// Turns terminal input bytes into keys: control characters, VT100/xterm escape sequences and UTF-8.
/// Fed one byte at a time, so a sequence split across reads decodes the same as one read whole.
struct KeyDecoder {
    private enum State {
        case ground
        case escape             // after ESC
        case csi                // after ESC [
        case ss3                // after ESC O
        case utf8(remaining: Int, minimum: UInt32)
    }

    private var state = State.ground
    /// CSI parameter bytes so far.
    private var parameters: [UInt8] = []
    /// The UTF-8 scalar being assembled.
    private var scalar: UInt32 = 0
    /// Whether the last byte was a CR, so the LF of a CR LF pair (pasted text) is not a second Enter.
    private var afterCR = false

    /// Longest CSI parameter string kept; longer ones are still consumed, just not understood.
    private static let parameterLimit = 16

    /// The key `byte` completes, if any. Unknown sequences and invalid UTF-8 are dropped.
    mutating func feed(_ byte: UInt8) -> Key? {
        switch state {
        case .ground:
            return ground(byte)

        case .escape:
            switch byte {
            case UInt8(ascii: "["): parameters = []; state = .csi; return nil
            case UInt8(ascii: "O"): state = .ss3; return nil
            case 0x1b: return nil
            default: break
            }
            state = .ground
            switch byte {
            case UInt8(ascii: "b"): return .wordLeft
            case UInt8(ascii: "f"): return .wordRight
            case 0x7f, 0x08: return .deleteWordBefore
            // A lone Escape then a control key: the control key still counts (Ctrl-C must always work).
            case ..<0x20: return ground(byte)
            default: return nil
            }

        case .csi:
            switch byte {
            case 0x20...0x3f:
                if parameters.count < Self.parameterLimit { parameters.append(byte) }
                return nil
            case 0x40...0x7e:
                state = .ground
                return csi(final: byte)
            default:
                // Not a sequence after all: drop it and read the byte afresh.
                state = .ground
                return ground(byte)
            }

        case .ss3:
            state = .ground
            switch byte {
            case UInt8(ascii: "A"): return .up
            case UInt8(ascii: "B"): return .down
            case UInt8(ascii: "C"): return .right
            case UInt8(ascii: "D"): return .left
            case UInt8(ascii: "H"): return .home
            case UInt8(ascii: "F"): return .end
            case ..<0x20: return ground(byte)
            default: return nil
            }

        case .utf8(let remaining, let minimum):
            guard byte & 0xc0 == 0x80 else {
                state = .ground
                return ground(byte)
            }
            scalar = scalar << 6 | UInt32(byte & 0x3f)
            if remaining > 1 {
                state = .utf8(remaining: remaining - 1, minimum: minimum)
                return nil
            }
            state = .ground
            // Overlong forms and surrogates are invalid UTF-8; dropping them keeps the line valid.
            guard scalar >= minimum, let value = Unicode.Scalar(scalar) else { return nil }
            return .character(value)
        }
    }

    private mutating func ground(_ byte: UInt8) -> Key? {
        let wasCR = afterCR
        afterCR = byte == 0x0d
        switch byte {
        case 0x01: return .home
        case 0x02: return .left
        case 0x03: return .interrupt
        case 0x04: return .endOfFileOrDelete
        case 0x05: return .end
        case 0x06: return .right
        case 0x08, 0x7f: return .backspace
        case 0x09: return .tab
        case 0x0a: return wasCR ? nil : .enter
        case 0x0b: return .killToEnd
        case 0x0c: return .clearScreen
        case 0x0d: return .enter
        case 0x0e: return .down
        case 0x10: return .up
        case 0x15: return .killToStart
        case 0x17: return .deleteWordBefore
        case 0x1b: state = .escape; return nil
        case 0x20...0x7e: return .character(Unicode.Scalar(byte))
        case 0xc2...0xdf: return startUTF8(byte & 0x1f, remaining: 1, minimum: 0x80)
        case 0xe0...0xef: return startUTF8(byte & 0x0f, remaining: 2, minimum: 0x800)
        case 0xf0...0xf4: return startUTF8(byte & 0x07, remaining: 3, minimum: 0x10000)
        default: return nil      // other control characters, stray continuation bytes, invalid leads
        }
    }

    private mutating func startUTF8(_ bits: UInt8, remaining: Int, minimum: UInt32) -> Key? {
        scalar = UInt32(bits)
        state = .utf8(remaining: remaining, minimum: minimum)
        return nil
    }

    /// ESC [ params final. A modifier parameter (as in ESC [ 1 ; 5 D, Ctrl-Left) turns a move into a word move.
    private func csi(final: UInt8) -> Key? {
        let fields = String(decoding: parameters, as: UTF8.self).split(separator: ";", omittingEmptySubsequences: false)
        let first = fields.first.flatMap { Int($0) } ?? 1
        let modified = fields.count > 1 && (Int(fields[1]) ?? 1) > 1
        switch final {
        case UInt8(ascii: "A"): return .up
        case UInt8(ascii: "B"): return .down
        case UInt8(ascii: "C"): return modified ? .wordRight : .right
        case UInt8(ascii: "D"): return modified ? .wordLeft : .left
        case UInt8(ascii: "H"): return .home
        case UInt8(ascii: "F"): return .end
        case UInt8(ascii: "~"):
            switch first {
            case 1, 7: return .home
            case 4, 8: return .end
            case 3: return .delete
            default: return nil
            }
        default: return nil
        }
    }
}
