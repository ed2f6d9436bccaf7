import Glibc
import Hypervisor
import Synchronization

/// Streams several domains' consoles to one file descriptor, whole lines at a time,
/// each prefixed with the domain when more than one is shown.
public final class ConsoleMux: Sendable {
    private let fd: Int32
    private let prefixed: Bool
    private let partial = Mutex<[UInt16: [UInt8]]>([:])

    public init(fd: Int32 = 1, prefixed: Bool) {
        self.fd = fd
        self.prefixed = prefixed
    }

    /// Starts streaming `domain`'s console; returns the attachment token.
    @discardableResult
    public func attach(_ domain: Domain) -> Int {
        let id = domain.id
        let prefix = Array("[\(domain.id) \(domain.name)] ".utf8)
        return domain.console.attach { [self] bytes in
            emit(id, prefix: prefix, bytes)
        }
    }

    /// Writes out a domain's unfinished last line (when it ends without a newline).
    public func flush(_ domain: Domain) {
        let prefix = Array("[\(domain.id) \(domain.name)] ".utf8)
        let rest = partial.withLock { $0.removeValue(forKey: domain.id) ?? [] }
        if !rest.isEmpty { write((prefixed ? prefix : []) + rest + [10]) }
    }

    private func emit(_ id: UInt16, prefix: [UInt8], _ bytes: UnsafeRawBufferPointer) {
        var out: [UInt8] = []
        partial.withLock { p in
            var line = p[id] ?? []
            for b in bytes {
                if b == 10 {
                    if prefixed { out += prefix }
                    out += line
                    out.append(10)
                    line.removeAll(keepingCapacity: true)
                } else if b != 13 {
                    line.append(b)
                }
            }
            p[id] = line
        }
        if !out.isEmpty { write(out) }
    }

    private func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + off, raw.count - off)
                if n <= 0 { if errno == EINTR { continue } else { return } }
                off += n
            }
        }
    }
}
