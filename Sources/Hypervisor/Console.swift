import Synchronization

/// A domain's console: a bounded log of everything it wrote, pending input, and a live output sink.
public final class DomainConsole: Sendable {
    /// Receives output bytes as the guest writes them (called on the vCPU thread).
    public typealias Sink = @Sendable (UnsafeRawBufferPointer) -> Void

    /// Bytes of output kept for later readers.
    public let logCapacity: Int
    private struct State {
        var log: [UInt8] = []
        var logStart = 0          // ring start once the log is full
        var dropped = 0           // bytes that fell out of the log
        var input: [UInt8] = []
        var sinks: [Int: Sink] = [:]
        var nextSink = 0
    }
    private let state: Mutex<State>

    public init(logCapacity: Int = 64 << 10) {
        self.logCapacity = logCapacity
        state = Mutex(State())
    }

    /// Adds a live reader; returns a token for `detach`.
    @discardableResult
    public func attach(_ sink: @escaping Sink) -> Int {
        state.withLock { s in
            let token = s.nextSink
            s.nextSink += 1
            s.sinks[token] = sink
            return token
        }
    }

    /// Adds a live reader and returns the log up to that moment with it: nothing is missed or seen twice.
    public func attachAfterLog(_ sink: @escaping Sink) -> (token: Int, log: [UInt8]) {
        state.withLock { s in
            let token = s.nextSink
            s.nextSink += 1
            s.sinks[token] = sink
            return (token, Array(s.log[s.logStart...] + s.log[..<s.logStart]))
        }
    }

    public func detach(_ token: Int) { state.withLock { _ = $0.sinks.removeValue(forKey: token) } }

    /// Guest output (console_io, or the console ring through Dom0's back-end): appended to the log and
    /// handed to every sink.
    public func output(_ bytes: UnsafeRawBufferPointer) {
        let sinks: Dictionary<Int, Sink>.Values = state.withLock { s in
            for b in bytes {
                if s.log.count < logCapacity {
                    s.log.append(b)
                } else {
                    s.log[s.logStart] = b
                    s.logStart = (s.logStart + 1) % logCapacity
                    s.dropped += 1
                }
            }
            return s.sinks.values
        }
        for sink in sinks { sink(bytes) }
    }

    /// Everything still in the log, oldest first.
    public var log: [UInt8] {
        state.withLock { s in Array(s.log[s.logStart...] + s.log[..<s.logStart]) }
    }

    /// The log as text (invalid UTF-8 repaired).
    public var text: String { String(decoding: log, as: UTF8.self) }

    /// Queues input for the guest's CONSOLEIO_read.
    public func input(_ bytes: [UInt8]) { state.withLock { $0.input.append(contentsOf: bytes) } }

    /// Takes up to `buffer.count` pending input bytes into `buffer`; returns how many.
    public func takeInput(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        state.withLock { s in
            let n = min(buffer.count, s.input.count)
            for i in 0..<n { buffer[i] = s.input[i] }
            s.input.removeFirst(n)
            return n
        }
    }
}
