// XenStore.swift - the XenStore client (GuestKit's C xenbus.h: one request
// at a time over the store ring) from Swift. Paths and values are bytes;
// paths are absolute or relative to the domain's home, as in C.

import CGuestKit

public enum XenStore {
    /// A transaction, or `.none` for an operation outside any.
    public struct Transaction: Equatable {
        public let id: UInt32
        public static let none = Transaction(id: 0)
    }

    /// One watch event: the node that changed and the watch's token.
    public struct WatchEvent {
        public let path: [UInt8]
        public let token: [UInt8]
    }

    /// Finds the store page and port (every call does this on first use).
    public static func connect() throws(XenError) {
        _ = try XenError.check(Int(gk_xs_init()))
    }

    /// XS_READ: the node's value.
    public static func read(_ path: [UInt8], in tx: Transaction = .none) throws(XenError) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: Int(GK_XS_BUF_SIZE))
        let rc = withCString(path) { p in
            buf.withUnsafeMutableBytes { b in
                Int(gk_xs_read(tx.id, p, b.baseAddress!.assumingMemoryBound(to: CChar.self), b.count))
            }
        }
        return Array(buf[0..<(try XenError.check(rc))])
    }

    /// XS_WRITE (parents are created).
    public static func write(_ path: [UInt8], _ value: [UInt8], in tx: Transaction = .none) throws(XenError) {
        let rc = withCString(path) { p in
            value.withUnsafeBytes { v in Int(gk_xs_write_bytes(tx.id, p, v.baseAddress, v.count)) }
        }
        _ = try XenError.check(rc)
    }

    /// XS_MKDIR.
    public static func makeDirectory(_ path: [UInt8], in tx: Transaction = .none) throws(XenError) {
        _ = try XenError.check(withCString(path) { p in Int(gk_xs_mkdir(tx.id, p)) })
    }

    /// XS_RM (recursive).
    public static func remove(_ path: [UInt8], in tx: Transaction = .none) throws(XenError) {
        _ = try XenError.check(withCString(path) { p in Int(gk_xs_rm(tx.id, p)) })
    }

    /// XS_DIRECTORY: the child names.
    public static func directory(_ path: [UInt8], in tx: Transaction = .none) throws(XenError) -> [[UInt8]] {
        var buf = [UInt8](repeating: 0, count: Int(GK_XS_BUF_SIZE))
        let rc = withCString(path) { p in
            buf.withUnsafeMutableBytes { b in
                Int(gk_xs_directory(tx.id, p, b.baseAddress!.assumingMemoryBound(to: CChar.self), b.count))
            }
        }
        return strings(buf, count: try XenError.check(rc))
    }

    /// XS_GET_DOMAIN_PATH: "/local/domain/<domid>".
    public static func domainPath(_ domid: UInt16) throws(XenError) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: 64)
        let rc = buf.withUnsafeMutableBytes { b in
            Int(gk_xs_get_domain_path(domid, b.baseAddress!.assumingMemoryBound(to: CChar.self), b.count))
        }
        return Array(buf[0..<(try XenError.check(rc))])
    }

    /// XS_TRANSACTION_START.
    public static func startTransaction() throws(XenError) -> Transaction {
        var id: UInt32 = 0
        _ = try XenError.check(Int(gk_xs_transaction_start(&id)))
        return Transaction(id: id)
    }

    /// XS_TRANSACTION_END: commit (`.EAGAIN`: a conflict, start over) or abort.
    public static func endTransaction(_ tx: Transaction, commit: Bool = true) throws(XenError) {
        _ = try XenError.check(Int(gk_xs_transaction_end(tx.id, commit ? 0 : 1)))
    }

    /// XS_WATCH: the server fires one event at once.
    public static func watch(_ path: [UInt8], token: [UInt8]) throws(XenError) {
        _ = try XenError.check(withCString(path) { p in withCString(token) { t in Int(gk_xs_watch(p, t)) } })
    }

    /// XS_UNWATCH.
    public static func unwatch(_ path: [UInt8], token: [UInt8]) throws(XenError) {
        _ = try XenError.check(withCString(path) { p in withCString(token) { t in Int(gk_xs_unwatch(p, t)) } })
    }

    /// The next watch event, waiting until system time `deadline` (0: forever);
    /// nil when the deadline passed.
    public static func nextEvent(until deadline: UInt64 = 0) throws(XenError) -> WatchEvent? {
        var buf = [UInt8](repeating: 0, count: Int(GK_XS_BUF_SIZE))
        let rc = buf.withUnsafeMutableBytes { b in
            Int(gk_xs_wait_watch(b.baseAddress!.assumingMemoryBound(to: CChar.self), b.count, nil, nil, deadline))
        }
        if rc == -Int(XEN_ETIMEDOUT) { return nil }
        _ = try XenError.check(rc)
        let parts = strings(buf, count: 2)
        return WatchEvent(path: parts[0], token: parts[1])
    }

    /// `bytes` with a NUL after them, as a C string for `body`.
    static func withCString<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
        var z = bytes
        z.append(0)
        return z.withUnsafeBufferPointer { b in
            body(UnsafeRawPointer(b.baseAddress!).assumingMemoryBound(to: CChar.self))
        }
    }

    /// The first `count` NUL-terminated strings of `buf`.
    static func strings(_ buf: [UInt8], count: Int) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var start = 0
        while out.count < count && start < buf.count {
            var end = start
            while end < buf.count && buf[end] != 0 { end += 1 }
            out.append(Array(buf[start..<end]))
            start = end + 1
        }
        return out
    }
}
