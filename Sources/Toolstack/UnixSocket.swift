import Foundation
import Glibc

/// A connected Unix stream socket (the control socket's either end): whole writes and buffered lines.
/// The sockaddr handling, the only unsafe part, stays in here.
public final class UnixSocket: @unchecked Sendable {
    public let fd: Int32
    private var buffer: [UInt8] = []
    private var closed = false

    public init(fd: Int32) { self.fd = fd }
    deinit { if !closed { Glibc.close(fd) } }

    /// Why a socket call failed: the call and the system's reason.
    public struct Failure: Error, CustomStringConvertible {
        public let call: String
        public let errno: Int32
        public var description: String { "\(call): \(String(cString: strerror(errno)))" }
    }

    /// Connects to the socket at `path`.
    public static func connect(to path: String) throws(Failure) -> UnixSocket {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(call: "socket", errno: errno) }
        let rc = withAddress(path) { Glibc.connect(fd, $0, $1) }
        guard rc == 0 else {
            let e = rc == -2 ? ENAMETOOLONG : errno
            Glibc.close(fd)
            throw Failure(call: "connect \(path)", errno: e)
        }
        return UnixSocket(fd: fd)
    }

    /// Listens at `path` (mode 0600 in a 0700 directory made if missing). A stale socket file nobody
    /// answers on is replaced; a live one is refused with EADDRINUSE.
    public static func listen(at path: String) throws(Failure) -> UnixSocket {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty, !FileManager.default.fileExists(atPath: dir) {
            guard (try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                            attributes: [.posixPermissions: 0o700])) != nil else {
                throw Failure(call: "mkdir \(dir)", errno: errno)
            }
        }
        if FileManager.default.fileExists(atPath: path) {
            if (try? connect(to: path)) != nil { throw Failure(call: "listen \(path) (a daemon already answers there)", errno: EADDRINUSE) }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(call: "socket", errno: errno) }
        let old = umask(0o177)
        let rc = withAddress(path) { Glibc.bind(fd, $0, $1) }
        umask(old)
        guard rc == 0, Glibc.listen(fd, 64) == 0 else {
            let e = rc == -2 ? ENAMETOOLONG : errno
            Glibc.close(fd)
            throw Failure(call: "bind \(path)", errno: e)
        }
        return UnixSocket(fd: fd)
    }

    /// Waits for the next client; nil when the listening socket was shut down.
    public func accept() -> UnixSocket? {
        while true {
            let c = Glibc.accept(fd, nil, nil)
            if c >= 0 {
                _ = fcntl(c, F_SETFD, FD_CLOEXEC)      // accept4 is hidden behind _GNU_SOURCE in Glibc's module
                return UnixSocket(fd: c)
            }
            if errno == EINTR || errno == ECONNABORTED { continue }
            return nil
        }
    }

    /// Writes everything; false if the peer is gone.
    @discardableResult
    public func write(_ data: Data) -> Bool {
        data.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = send(fd, raw.baseAddress! + off, raw.count - off, Int32(MSG_NOSIGNAL))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                off += n
            }
            return true
        }
    }

    /// Reads one line (without its newline); nil at end of stream, on error, or past `limit` bytes.
    public func readLine(limit: Int = ControlProtocol.maximumLine) -> Data? {
        var scanned = 0
        while true {
            if let nl = buffer[scanned...].firstIndex(of: 10) {
                let line = Data(buffer[..<nl])
                buffer.removeSubrange(...nl)
                return line
            }
            scanned = buffer.count
            guard buffer.count <= limit else { return nil }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            buffer += chunk[..<n]
        }
    }

    /// Reads whatever arrives next (first the bytes already buffered); empty at end of stream.
    public func readSome() -> [UInt8] {
        if !buffer.isEmpty { defer { buffer = [] }; return buffer }
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            return n > 0 ? Array(chunk[..<n]) : []
        }
    }

    /// Stops both directions (wakes a thread blocked in `accept` or a read).
    public func shutdown() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }

    /// Fills a sockaddr_un for `path`; returns -2 from the body's place when the path does not fit.
    private static func withAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { return -2 }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}
