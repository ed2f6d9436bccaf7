// Every system call of the line editor: terminal modes, window size, reads, writes, the history file.
// The rest of the module sees only these small wrappers.
import Glibc

/// A terminal switched to raw mode; `restore()` puts back the settings it found.
struct RawMode {
    private let fd: Int32
    private let saved: termios

    /// Switches `fd` to raw input (no line buffering, echo, signals or CR→NL); nil when it is not a terminal.
    /// Output processing (OPOST) stays on so "\n" still means a new line to everyone else writing.
    init?(fd: Int32) {
        var original = termios()
        guard tcgetattr(fd, &original) == 0 else { return nil }
        var raw = original
        raw.c_iflag &= ~tcflag_t(BRKINT | ICRNL | INPCK | ISTRIP | IXON)
        raw.c_cflag |= tcflag_t(CS8)
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | IEXTEN | ISIG)
        // One byte at a time, no timer: read() returns as soon as anything arrives.
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        // TCSANOW, not TCSAFLUSH: keystrokes typed ahead must survive the switch.
        guard tcsetattr(fd, TCSANOW, &raw) == 0 else { return nil }
        self.fd = fd
        self.saved = original
    }

    func restore() {
        var settings = saved
        _ = tcsetattr(fd, TCSANOW, &settings)
    }
}

enum Terminal {
    /// Whether `fd` is a terminal (and so gets line editing).
    static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    /// The terminal's width in columns, 80 when it does not say.
    static func columns(_ fd: Int32) -> Int {
        var size = winsize()
        guard ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    /// Appends what is available (blocking for at least one byte); false at end of file or on an error.
    static func read(_ fd: Int32, into bytes: inout [UInt8]) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                bytes.append(contentsOf: chunk[0..<n])
                return true
            }
            if n < 0 && errno == EINTR { continue }
            return false
        }
    }

    /// Writes all of `text`; gives up silently if the terminal went away (nothing useful to do then).
    static func write(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        writeAll(fd, &bytes)
    }

    @discardableResult
    private static func writeAll(_ fd: Int32, _ bytes: inout [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return false }
        }
        return true
    }

    /// The whole content of the file at `path`, nil if it cannot be read.
    static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        while read(fd, into: &bytes) {}
        return bytes
    }

    /// Replaces the file at `path` with `bytes`, readable by its owner only (it may hold secrets typed at
    /// the prompt). Written to a temporary file and renamed, so a crash never leaves half a file.
    @discardableResult
    static func replaceFile(_ path: String, with bytes: [UInt8]) -> Bool {
        let temporary = path + ".tmp\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        var data = bytes
        let ok = writeAll(fd, &data) && fsync(fd) == 0
        close(fd)
        guard ok, rename(temporary, path) == 0 else {
            unlink(temporary)
            return false
        }
        return true
    }
}
