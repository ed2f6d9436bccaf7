import Foundation
import Glibc
@testable import LineEditing

/// A pseudo-terminal for driving a `LineEditor`: the editor reads and writes the slave side, the
/// test types into the master side, and a thread drains the master so the editor never blocks.
final class TestTerminal: @unchecked Sendable {
    struct SetupFailed: Error { var call: String }

    let master: Int32
    let slave: Int32

    /// What the master side has received; owned with the draining thread, so `deinit` still runs.
    private let sink = OutputSink()
    private var calls = 0
    private var masterClosed = false

    init(columns: UInt16 = 80) throws {
        guard let pair = PosixPTY.open() else { throw SetupFailed(call: "posix_openpt/grantpt/unlockpt/ptsname_r") }
        master = pair.master
        slave = open(pair.slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slave >= 0 else {
            Glibc.close(master)
            throw SetupFailed(call: "open \(pair.slavePath)")
        }
        var size = winsize(ws_row: 24, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &size)
        Thread.detachNewThread { [sink, master] in sink.drain(master) }
    }

    deinit {
        if !masterClosed {
            sink.stop()
            Glibc.close(master)
        }
        Glibc.close(slave)
    }

    /// Everything the editor has written so far.
    var output: String { String(decoding: sink.bytes, as: UTF8.self) }

    /// How many bytes the editor has written so far (a mark for `wait(for:after:)`).
    var outputCount: Int { sink.bytes.count }

    /// Waits until the output after byte `offset` contains `text`; false after `timeout` seconds.
    func wait(for text: String, after offset: Int, timeout: Double = 5) -> Bool {
        sink.wait(for: Array(text.utf8), after: offset, timeout: timeout)
    }

    /// Types `text` at the terminal.
    func type(_ text: String) { type(bytes: Array(text.utf8)) }

    /// Sends raw bytes, which need not be whole UTF-8.
    func type(bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(master, $0.baseAddress, $0.count) }
            if n > 0 { offset += n } else if errno != EINTR { return }
        }
    }

    /// Runs one `readLine` on another thread, waits for its prompt, types each of `keys` (one write
    /// each, so sequences may arrive split), and returns the result; nil if it does not finish in time.
    /// The default prompt differs on every call, so output of an earlier line still in flight is never
    /// taken for this prompt (typing before raw mode would let the line discipline act on the keys).
    func readLine(_ editor: LineEditor, prompt: String? = nil, typing keys: [String], timeout: Double = 5) -> ReadResult? {
        calls += 1
        let prompt = prompt ?? "[\(calls)]> "
        let mark = outputCount
        let result = ResultBox()
        Thread.detachNewThread {
            result.set(editor.readLine(prompt: prompt))
        }
        guard wait(for: prompt, after: mark, timeout: timeout) else { return nil }
        for key in keys { type(key) }
        let ended = result.get(timeout: timeout)
        if ended != nil { settle() }
        return ended
    }

    /// Waits until everything written to the slave so far is in `output`. A marker written after it
    /// arrives after it; the marker is then taken out again.
    func settle(timeout: Double = 5) {
        calls += 1
        let marker = Array("\u{1b}]settle \(calls)\u{7}".utf8)
        _ = marker.withUnsafeBytes { Glibc.write(slave, $0.baseAddress, $0.count) }
        sink.remove(marker, timeout: timeout)
    }

    /// Closes the master side, which hangs up the slave: the editor's next read fails.
    func hangUp() {
        sink.stop()
        Glibc.close(master)
        masterClosed = true
    }

    /// The terminal settings of the slave side now.
    var settings: termios {
        var t = termios()
        _ = tcgetattr(slave, &t)
        return t
    }
}

/// posix_openpt and friends. They are in libc, but Swift's Glibc module hides them (they need
/// _XOPEN_SOURCE), so they are looked up by name with their C signatures.
enum PosixPTY {
    private typealias OpenPT = @convention(c) (Int32) -> Int32
    private typealias GrantOrUnlock = @convention(c) (Int32) -> Int32
    private typealias NameR = @convention(c) (Int32, UnsafeMutablePointer<CChar>?, Int) -> Int32

    private static func function<F>(_ name: String, _ type: F.Type) -> F? {
        // A nil handle is RTLD_DEFAULT: search the libraries already loaded (libc is).
        guard let symbol = dlsym(nil, name) else { return nil }
        return unsafeBitCast(symbol, to: F.self)
    }

    /// A new pair: the master (close-on-exec) and the path of its slave.
    static func open() -> (master: Int32, slavePath: String)? {
        guard let openpt = function("posix_openpt", OpenPT.self),
              let grantpt = function("grantpt", GrantOrUnlock.self),
              let unlockpt = function("unlockpt", GrantOrUnlock.self),
              let ptsname = function("ptsname_r", NameR.self) else { return nil }
        let master = openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard master >= 0 else { return nil }
        var name = [CChar](repeating: 0, count: 128)
        guard grantpt(master) == 0, unlockpt(master) == 0, ptsname(master, &name, name.count) == 0 else {
            close(master)
            return nil
        }
        return (master, String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}

/// Bytes drained from a master side by a thread of their own.
final class OutputSink: @unchecked Sendable {
    // Guards `received` and `stopping`; signalled whenever output arrives.
    private let condition = NSCondition()
    private var received: [UInt8] = []
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)

    var bytes: [UInt8] {
        condition.lock()
        defer { condition.unlock() }
        return received
    }

    func wait(for needle: [UInt8], after offset: Int, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if received.count >= offset && contains(received[offset...], needle) { return true }
            if !condition.wait(until: deadline) { return false }
        }
    }

    /// Waits for `marker` and cuts it out of the bytes received.
    func remove(_ marker: [UInt8], timeout: Double) {
        guard wait(for: marker, after: 0, timeout: timeout) else { return }
        condition.lock()
        defer { condition.unlock() }
        var i = received.count - marker.count
        while i >= 0 && !received[i..<i + marker.count].elementsEqual(marker) { i -= 1 }
        if i >= 0 { received.removeSubrange(i..<i + marker.count) }
    }

    /// Ends `drain` and waits for it.
    func stop() {
        condition.lock()
        stopping = true
        condition.unlock()
        finished.wait()
    }

    func drain(_ master: Int32) {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            condition.lock()
            let stop = stopping
            condition.unlock()
            if stop { break }
            // Poll with a short timeout so `stop` can end this thread without closing the fd under it.
            var waiting = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            guard poll(&waiting, 1, 20) > 0 else { continue }
            let n = chunk.withUnsafeMutableBytes { Glibc.read(master, $0.baseAddress, $0.count) }
            if n > 0 {
                condition.lock()
                received.append(contentsOf: chunk[0..<n])
                condition.broadcast()
                condition.unlock()
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                usleep(1_000)   // EIO while no slave is open: nothing to read, keep waiting for stop
            }
        }
        finished.signal()
    }

    private func contains(_ haystack: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard haystack.count >= needle.count else { return false }
        var i = haystack.startIndex
        while i + needle.count <= haystack.endIndex {
            if haystack[i..<i + needle.count].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }
}

/// A result handed from the reading thread to the test.
final class ResultBox: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var value: ReadResult?

    func set(_ result: ReadResult) {
        lock.withLock { value = result }
        done.signal()
    }

    func get(timeout: Double) -> ReadResult? {
        guard done.wait(timeout: .now() + timeout) == .success else { return nil }
        return lock.withLock { value }
    }
}

/// Key sequences as a VT100/xterm sends them.
enum Keys {
    static let left = "\u{1b}[D", right = "\u{1b}[C", up = "\u{1b}[A", down = "\u{1b}[B"
    static let home = "\u{1b}[H", end = "\u{1b}[F", delete = "\u{1b}[3~"
    static let enter = "\r", tab = "\t", backspace = "\u{7f}"
    static func ctrl(_ letter: Character) -> String {
        String(UnicodeScalar(letter.asciiValue! & 0x1f))
    }
}
