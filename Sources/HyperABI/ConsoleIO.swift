/// `console_io` (hypercall 18) sub-ops: `console_io(cmd, count, buffer)`.
public enum ConsoleIOCommand: UInt64, Sendable {
    /// Write `count` bytes from `buffer` to the domain's console. Returns 0.
    case write = 0
    /// Read up to `count` pending input bytes into `buffer`. Returns the number read.
    case read = 1
}
