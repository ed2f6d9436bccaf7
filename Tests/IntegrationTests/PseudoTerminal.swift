import Foundation
import Glibc

/// An executable running on a new pseudo-terminal, driven the way a user at a keyboard would: for
/// testing interactive verbs such as `hv shell`.
///
/// The child's stdin, stdout and stderr are the slave side, which is also its controlling terminal
/// (it runs in a session of its own). A thread drains the master side, so the child never blocks on
/// output and `output` always holds everything so far.
final class PseudoTerminal: @unchecked Sendable {
    /// What a keyboard sends for the keys tests need most.
    static let enter = "\r", tab = "\t", backspace = "\u{7f}"
    static let up = "\u{1b}[A", down = "\u{1b}[B", right = "\u{1b}[C", left = "\u{1b}[D"
    static let ctrlC = "\u{3}", ctrlD = "\u{4}"

    /// A system call that failed while starting the child.
    struct StartFailed: Error, CustomStringConvertible {
        var call: String
        var code: Int32
        var description: String { "\(call): \(String(cString: strerror(code)))" }
    }

    let pid: pid_t
    private let master: Int32
    private let received = Received()
    // Guards `status` and `mark`.
    private let lock = NSLock()
    private var status: Int32?
    private var mark = 0

    /// Starts `executable` (a path, or a name looked up in PATH) with `arguments`. The environment is
    /// this process's, with TERM=xterm unless set, then `environment` on top.
    init(executable: String, arguments: [String] = [], environment: [String: String] = [:],
         columns: UInt16 = 80, rows: UInt16 = 24) throws {
        let (master, slavePath) = try Self.openPair()
        self.master = master
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &size)

        var env = ProcessInfo.processInfo.environment
        if env["TERM"] == nil { env["TERM"] = "xterm" }
        env.merge(environment) { _, new in new }
        do {
            pid = try Self.spawn(executable, arguments: arguments, environment: env, terminal: slavePath)
        } catch {
            close(master)
            throw error
        }
        Thread.detachNewThread { [received, master] in received.drain(master) }
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        }
        received.stop()
        close(master)
    }

    /// Everything the child has written so far.
    var output: String { String(decoding: received.bytes, as: UTF8.self) }

    /// Types `text` at the terminal.
    func send(_ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
            if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
        }
    }

    /// Waits until the output contains `needle` and returns all of it; nil after `timeout` seconds, or
    /// as soon as the child has closed the terminal without writing it.
    func read(until needle: String, timeout: Double) -> String? {
        guard received.wait(for: Array(needle.utf8), from: 0, timeout: timeout) != nil else { return nil }
        return output
    }

    /// Like `read(until:timeout:)`, but looks only past where the previous `readNext` matched and
    /// returns just the output from there up to and including `needle`: waiting for the second prompt
    /// is `readNext(until: "> ")` twice.
    func readNext(until needle: String, timeout: Double) -> String? {
        let from = lock.withLock { mark }
        let bytes = Array(needle.utf8)
        guard let end = received.wait(for: bytes, from: from, timeout: timeout) else { return nil }
        lock.withLock { mark = end }
        return String(decoding: received.bytes[from..<end], as: UTF8.self)
    }

    /// The child's exit code (128 + the signal if a signal killed it), waiting up to `timeout`
    /// seconds; nil if it is still running.
    func waitForExit(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let code = exitStatus { return code }
            if Date() >= deadline { return nil }
            usleep(2_000)
        }
    }

    /// Sends SIGTERM, then SIGKILL if the child has not exited within a second; reaps it either way.
    func terminate() {
        guard exitStatus == nil else { return }
        kill(pid, SIGTERM)
        if waitForExit(timeout: 1) == nil {
            kill(pid, SIGKILL)
            _ = waitForExit(timeout: 5)
        }
    }

    /// The exit code if the child has ended (reaping it the first time), else nil.
    private var exitStatus: Int32? {
        lock.withLock {
            if status != nil { return status }
            var raw: Int32 = 0
            guard waitpid(pid, &raw, WNOHANG) == pid else { return nil }
            // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift does not import.
            let signal = raw & 0x7f
            status = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
            return status
        }
    }

    // MARK: - Starting

    /// posix_openpt, grantpt, unlockpt and ptsname_r are in libc, but Swift's Glibc module hides them
    /// (they need _XOPEN_SOURCE), so they are looked up by name with their C signatures.
    private static func openPair() throws -> (master: Int32, slavePath: String) {
        typealias IntToInt = @convention(c) (Int32) -> Int32
        typealias NameR = @convention(c) (Int32, UnsafeMutablePointer<CChar>?, Int) -> Int32
        func function<F>(_ name: String, _ type: F.Type) throws -> F {
            // A nil handle is RTLD_DEFAULT: search the libraries already loaded (libc is).
            guard let symbol = dlsym(nil, name) else { throw StartFailed(call: "dlsym \(name)", code: ENOSYS) }
            return unsafeBitCast(symbol, to: F.self)
        }
        let openpt = try function("posix_openpt", IntToInt.self)
        let grantpt = try function("grantpt", IntToInt.self)
        let unlockpt = try function("unlockpt", IntToInt.self)
        let ptsname = try function("ptsname_r", NameR.self)

        let master = openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard master >= 0 else { throw StartFailed(call: "posix_openpt", code: errno) }
        var name = [CChar](repeating: 0, count: 128)
        guard grantpt(master) == 0, unlockpt(master) == 0 else {
            let code = errno
            close(master)
            throw StartFailed(call: "grantpt/unlockpt", code: code)
        }
        let failed = ptsname(master, &name, name.count)
        guard failed == 0 else {
            close(master)
            throw StartFailed(call: "ptsname_r", code: failed)
        }
        return (master, String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// posix_spawn with the slave as fds 0, 1 and 2 (Swift may not fork). The child opens the slave
    /// itself after setsid, which makes it its controlling terminal.
    private static func spawn(_ executable: String, arguments: [String], environment: [String: String],
                              terminal: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, terminal, O_RDWR, 0)
        posix_spawn_file_actions_adddup2(&actions, 0, 1)
        posix_spawn_file_actions_adddup2(&actions, 0, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The test runner may block or ignore signals; the child should start as a shell would.
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD, SIGTSTP, SIGTTIN, SIGTTOU, SIGWINCH] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        let basic = Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        // POSIX_SPAWN_SETSID (glibc 2.26+) is hidden from Swift like the pty calls; without it the
        // child still runs, just without a controlling terminal.
        let setsid: Int16 = 0x80
        if posix_spawnattr_setflags(&attributes, basic | setsid) != 0 {
            posix_spawnattr_setflags(&attributes, basic)
        }

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let failed = posix_spawnp(&pid, executable, &actions, &attributes, argv, envp)
        guard failed == 0 else { throw StartFailed(call: "posix_spawn \(executable)", code: failed) }
        return pid
    }

    // MARK: - Output

    /// The bytes from the master side, filled by a thread of their own (which holds this, not the
    /// terminal, so the terminal's deinit still runs).
    private final class Received: @unchecked Sendable {
        // Guards everything below; signalled whenever output arrives or ends.
        private let condition = NSCondition()
        private var data: [UInt8] = []
        private var ended = false
        private var stopping = false
        private let finished = DispatchSemaphore(value: 0)

        var bytes: [UInt8] {
            condition.lock()
            defer { condition.unlock() }
            return data
        }

        /// Waits until the bytes from `from` on contain `needle`; returns the offset just past it, or nil
        /// on timeout or once the output has ended without it.
        func wait(for needle: [UInt8], from: Int, timeout: Double) -> Int? {
            let deadline = Date().addingTimeInterval(timeout)
            condition.lock()
            defer { condition.unlock() }
            while true {
                if let end = find(needle, from: from) { return end }
                if ended || !condition.wait(until: deadline) { return nil }
            }
        }

        func stop() {
            condition.lock()
            stopping = true
            condition.unlock()
            finished.wait()
        }

        func drain(_ master: Int32) {
            var chunk = [UInt8](repeating: 0, count: 4096)
            while !shouldStop {
                // Poll briefly so `stop` can end this thread without closing the fd under it.
                var waiting = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
                guard poll(&waiting, 1, 20) > 0 else { continue }
                let n = chunk.withUnsafeMutableBytes { Glibc.read(master, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                condition.lock()
                if n > 0 { data.append(contentsOf: chunk[0..<n]) } else { ended = true }
                condition.broadcast()
                condition.unlock()
                // EIO: every slave fd is closed, the child (and anything it started) is gone.
                if n <= 0 { break }
            }
            finished.signal()
        }

        private var shouldStop: Bool {
            condition.lock()
            defer { condition.unlock() }
            return stopping
        }

        /// Call with the lock held.
        private func find(_ needle: [UInt8], from: Int) -> Int? {
            guard from <= data.count else { return nil }
            if needle.isEmpty { return from }
            var i = from
            while i + needle.count <= data.count {
                if data[i] == needle[0] && data[i..<i + needle.count].elementsEqual(needle) { return i + needle.count }
                i += 1
            }
            return nil
        }
    }
}
