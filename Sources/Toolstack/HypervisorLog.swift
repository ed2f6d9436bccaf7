import Foundation
import Synchronization

/// The hypervisor's message log (`hv dmesg`): domain lifecycle, crashes with their reason, back-end
/// failures. Bounded; each line is also written to the daemon's standard error.
public final class HypervisorLog: Sendable {
    /// One logged message.
    public struct Entry: Sendable, Codable {
        /// Seconds since the daemon started.
        public var time: Double
        public var level: String
        public var message: String
    }
    public let capacity: Int
    private let started = Date()
    private let entries = Mutex<[Entry]>([])
    private let echo: Bool

    public init(capacity: Int = 4096, echo: Bool = true) {
        self.capacity = capacity
        self.echo = echo
    }

    /// Adds a line ("info", "warning" or "error").
    public func add(_ message: String, level: String = "info") {
        let entry = Entry(time: Date().timeIntervalSince(started), level: level, message: message)
        entries.withLock { e in
            if e.count == capacity { e.removeFirst(capacity / 8) }
            e.append(entry)
        }
        if echo { FileHandle.standardError.write(Data((Self.format(entry) + "\n").utf8)) }
    }

    /// Forgets every line (dmesg -c, after reading them).
    public func clear() { entries.withLock { $0 = [] } }

    /// Everything kept, oldest first.
    public var all: [Entry] { entries.withLock { $0 } }

    /// "[   12.345678] message" (with the level unless it is info), as the kernel's dmesg.
    public static func format(_ e: Entry) -> String {
        String(format: "[%12.6f] ", e.time) + (e.level == "info" ? "" : e.level + ": ") + e.message
    }
}
