// XenStore's wire format (xen/include/public/io/xs_wire.h): message types, the 16-byte header, error
// names, limits, and the NUL-separated payload fields every request is made of.

/// xs_wire.h's `enum xsd_sockmsg_type`: the `type` field of every header. Numbers never move; 20
/// (XS_RESTRICT) was removed from Xen and is answered as unknown.
public enum XenStoreMessageType: UInt32, Sendable, CaseIterable {
    case control = 0
    case directory = 1
    case read = 2
    case getPerms = 3
    case watch = 4
    case unwatch = 5
    case transactionStart = 6
    case transactionEnd = 7
    case introduce = 8
    case release = 9
    case getDomainPath = 10
    case write = 11
    case mkdir = 12
    case rm = 13
    case setPerms = 14
    case watchEvent = 15
    case error = 16
    case isDomainIntroduced = 17
    case resume = 18
    case setTarget = 19
    case resetWatches = 21
    case directoryPart = 22
    case getFeature = 23
    case setFeature = 24
    case getQuota = 25
    case setQuota = 26
}

/// xs_wire.h's `xsd_errors`: the errors a reply of type ERROR names (the name is sent, not the number).
/// Each case's doc comment is what it means from XenStore.
public enum XenStoreError: String, Error, Sendable, CaseIterable {
    /// Malformed request: missing NUL, bad path, bad argument, unknown permission letter.
    case EINVAL
    /// The caller's permissions (or the privilege the request needs) do not allow it.
    case EACCES
    /// The thing to create exists already (a watch with this path and token).
    case EEXIST
    /// Is a directory (not produced by this store; kept for the wire's table).
    case EISDIR
    /// No such node, transaction, watch or domain.
    case ENOENT
    /// Out of memory (a transaction that had to be failed internally ends with this).
    case ENOMEM
    /// A quota is exhausted: nodes, node size, transactions, permissions per node.
    case ENOSPC
    /// Input/output error (not produced by this store).
    case EIO
    /// Directory not empty (not produced by this store).
    case ENOTEMPTY
    /// The request type is unknown or not implemented.
    case ENOSYS
    /// Read-only (not produced by this store).
    case EROFS
    /// A transaction is already in progress on this request's tx_id.
    case EBUSY
    /// The transaction conflicted with another change: retry it from the start.
    case EAGAIN
    /// Already connected (not produced by this store).
    case EISCONN
    /// Too big: a reply beyond the payload limit, or the watch quota.
    case E2BIG
    /// Not permitted: an unprivileged domain tried to give its node away.
    case EPERM

    /// The Linux errno each name stands for (xs_wire.h uses the host's values).
    public var errno: Int32 {
        switch self {
        case .EINVAL: 22
        case .EACCES: 13
        case .EEXIST: 17
        case .EISDIR: 21
        case .ENOENT: 2
        case .ENOMEM: 12
        case .ENOSPC: 28
        case .EIO: 5
        case .ENOTEMPTY: 39
        case .ENOSYS: 38
        case .EROFS: 30
        case .EBUSY: 16
        case .EAGAIN: 11
        case .EISCONN: 106
        case .E2BIG: 7
        case .EPERM: 1
        }
    }
}

/// Sizes xs_wire.h fixes for every message.
public enum XenStoreLimits {
    /// `sizeof(struct xsd_sockmsg)`: type, req_id, tx_id, len, each a little-endian u32.
    public static let headerSize = 16
    /// XENSTORE_PAYLOAD_MAX: the longest payload in either direction.
    public static let payloadMax = 4096
    /// XENSTORE_ABS_PATH_MAX: the longest absolute path.
    public static let absolutePathMax = 3072
    /// XENSTORE_REL_PATH_MAX: the longest relative path a domain may send.
    public static let relativePathMax = 2048
}

/// Why a header or a framed message could not be read: the transport should drop the connection
/// (Xen's xenstored sets the ring's error field to XENSTORE_ERROR_PROTO and ignores the domain).
public enum XenStoreWireError: Error, Equatable, Sendable {
    /// A header is exactly 16 bytes; this many were given.
    case headerSize(Int)
    /// The header announces a payload longer than XENSTORE_PAYLOAD_MAX (4096).
    case payloadTooLong(UInt32)
    /// The bytes after the header are not as long as the header says.
    case lengthMismatch(declared: UInt32, actual: Int)
}

/// One xs_wire message: a request, a reply, or a watch event (`struct xsd_sockmsg` and its payload).
public struct XenStoreMessage: Equatable, Sendable {
    /// The header's type as sent; unknown numbers are kept so that they can be answered.
    public var rawType: UInt32
    /// Echoed in the reply; 0 in watch events.
    public var requestID: UInt32
    /// The transaction the request runs in (0: none); echoed in the reply.
    public var transactionID: UInt32
    public var payload: [UInt8]

    public init(type: XenStoreMessageType, requestID: UInt32 = 0, transactionID: UInt32 = 0, payload: [UInt8] = []) {
        self.init(rawType: type.rawValue, requestID: requestID, transactionID: transactionID, payload: payload)
    }

    public init(rawType: UInt32, requestID: UInt32 = 0, transactionID: UInt32 = 0, payload: [UInt8] = []) {
        self.rawType = rawType
        self.requestID = requestID
        self.transactionID = transactionID
        self.payload = payload
    }

    /// The type, or nil for a number xs_wire.h does not define.
    public var type: XenStoreMessageType? { XenStoreMessageType(rawValue: rawType) }

    /// The error an ERROR reply names, or nil when this is not one.
    public var error: XenStoreError? {
        guard type == .error, payload.last == 0 else { return nil }
        return XenStoreError(rawValue: String(decoding: payload.dropLast(), as: UTF8.self))
    }

    /// The ERROR reply to `request`: the error's name and one NUL, with the request's req_id and tx_id.
    public static func error(_ error: XenStoreError, replyingTo request: XenStoreMessage) -> XenStoreMessage {
        XenStoreMessage(type: .error, requestID: request.requestID, transactionID: request.transactionID,
                        payload: Array(error.rawValue.utf8) + [0])
    }

    /// The ERROR reply to a request known only as bytes (it could not be decoded): req_id and tx_id
    /// are taken from its header when there is one, else 0.
    public static func error(_ error: XenStoreError, replyingTo bytes: [UInt8]) -> XenStoreMessage {
        let h = bytes.count >= XenStoreLimits.headerSize ? try? header(bytes[0..<XenStoreLimits.headerSize]) : nil
        return XenStoreMessage(type: .error, requestID: h?.requestID ?? 0, transactionID: h?.transactionID ?? 0,
                               payload: Array(error.rawValue.utf8) + [0])
    }

    /// Header (four little-endian u32: type, req_id, tx_id, len) followed by the payload.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(XenStoreLimits.headerSize + payload.count)
        for word in [rawType, requestID, transactionID, UInt32(truncatingIfNeeded: payload.count)] {
            withUnsafeBytes(of: word.littleEndian) { bytes.append(contentsOf: $0) }
        }
        bytes.append(contentsOf: payload)
        return bytes
    }

    /// Reads a 16-byte header; refuses a payload length above XENSTORE_PAYLOAD_MAX before anything
    /// is allocated for it.
    public static func header(_ bytes: some Collection<UInt8>) throws(XenStoreWireError)
        -> (type: UInt32, requestID: UInt32, transactionID: UInt32, length: UInt32) {
        guard bytes.count == XenStoreLimits.headerSize else { throw .headerSize(bytes.count) }
        let b = Array(bytes)
        func word(_ i: Int) -> UInt32 {
            UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
        }
        let length = word(12)
        guard length <= UInt32(XenStoreLimits.payloadMax) else { throw .payloadTooLong(length) }
        return (word(0), word(4), word(8), length)
    }

    /// One whole request (`decode` without the reason): nil unless `bytes` are exactly a header and
    /// the payload it announces, within the limits.
    public static func request(_ bytes: [UInt8]) -> XenStoreMessage? { try? decode(bytes) }

    /// Reads one whole message: a header and exactly the payload it announces.
    public static func decode(_ bytes: [UInt8]) throws(XenStoreWireError) -> XenStoreMessage {
        guard bytes.count >= XenStoreLimits.headerSize else { throw .headerSize(bytes.count) }
        let h = try header(bytes[0..<XenStoreLimits.headerSize])
        let body = bytes[XenStoreLimits.headerSize...]
        guard body.count == Int(h.length) else { throw .lengthMismatch(declared: h.length, actual: body.count) }
        return XenStoreMessage(rawType: h.type, requestID: h.requestID, transactionID: h.transactionID,
                               payload: Array(body))
    }
}

/// The fields of a request payload: NUL-terminated strings, as xenstored's `onearg`/`get_strings` see them.
enum XenStorePayload {
    /// The single argument of a payload that must be exactly one NUL-terminated string.
    static func oneArgument(_ payload: [UInt8]) throws(XenStoreError) -> ArraySlice<UInt8> {
        guard let nul = payload.firstIndex(of: 0), nul == payload.count - 1 else { throw .EINVAL }
        return payload[..<nul]
    }

    /// A payload made of exactly `count` NUL-terminated strings (stricter than Xen, which ignores
    /// unterminated bytes after the last NUL).
    static func arguments(_ payload: [UInt8], count: Int) throws(XenStoreError) -> [ArraySlice<UInt8>] {
        let fields = try strings(payload)
        guard fields.count == count else { throw .EINVAL }
        return fields
    }

    /// Every NUL-terminated string of a payload; bytes after the last NUL are refused.
    static func strings(_ payload: [UInt8]) throws(XenStoreError) -> [ArraySlice<UInt8>] {
        guard payload.last == 0 else { throw .EINVAL }
        return payload.dropLast().split(separator: 0, omittingEmptySubsequences: false)
    }

    /// WRITE's `path|value`: the path up to the first NUL, the value (any bytes) after it.
    static func pathAndValue(_ payload: [UInt8]) throws(XenStoreError) -> (ArraySlice<UInt8>, [UInt8]) {
        guard let nul = payload.firstIndex(of: 0) else { throw .EINVAL }
        return (payload[..<nul], Array(payload[(nul + 1)...]))
    }

    /// A decimal number (digits only, no sign, no spaces) of at most `limit`.
    static func decimal(_ bytes: some Collection<UInt8>, limit: UInt64) throws(XenStoreError) -> UInt64 {
        guard !bytes.isEmpty, bytes.count <= 20 else { throw .EINVAL }
        var value: UInt64 = 0
        for b in bytes {
            guard (0x30...0x39).contains(b) else { throw .EINVAL }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(b - 0x30))
            guard !o1, !o2 else { throw .EINVAL }
            value = s
        }
        guard value <= limit else { throw .EINVAL }
        return value
    }

    /// A domid in decimal (0 … 65535).
    static func domid(_ bytes: some Collection<UInt8>) throws(XenStoreError) -> UInt16 {
        UInt16(try decimal(bytes, limit: UInt64(UInt16.max)))
    }

    /// Strings each followed by one NUL: the layout of DIRECTORY and GET_PERMS replies.
    static func joined(_ strings: [String]) -> [UInt8] {
        var bytes: [UInt8] = []
        for s in strings { bytes.append(contentsOf: s.utf8); bytes.append(0) }
        return bytes
    }

    /// "OK" and its NUL: the reply of every request that returns nothing else.
    static let ok: [UInt8] = Array("OK".utf8) + [0]
}
