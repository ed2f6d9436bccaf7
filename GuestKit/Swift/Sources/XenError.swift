// XenError.swift - Xen's error numbers as a Swift error type.

import CGuestKit

/// An error a hypercall reported. Hypercalls return `-rawValue` in rax;
/// the raw values are Xen's (`XEN_E*` in <xen/errno.h>).
public enum XenError: Int32, Error {
    case EPERM = 1
    case ENOENT = 2
    case ESRCH = 3
    case EINTR = 4
    case EIO = 5
    case ENXIO = 6
    case E2BIG = 7
    case ENOEXEC = 8
    case EBADF = 9
    case ECHILD = 10
    case EAGAIN = 11
    case ENOMEM = 12
    case EACCES = 13
    case EFAULT = 14
    case EBUSY = 16
    case EEXIST = 17
    case EXDEV = 18
    case ENODEV = 19
    case ENOTDIR = 20
    case EISDIR = 21
    case EINVAL = 22
    case ENFILE = 23
    case EMFILE = 24
    case ENOSPC = 28
    case EROFS = 30
    case EMLINK = 31
    case EDOM = 33
    case ERANGE = 34
    case EDEADLK = 35
    case ENAMETOOLONG = 36
    case ENOLCK = 37
    case ENOSYS = 38
    case ENOTEMPTY = 39
    case ENODATA = 61
    case ETIME = 62
    case EBADMSG = 74
    case EOVERFLOW = 75
    case EILSEQ = 84
    case ERESTART = 85
    case ENOTSOCK = 88
    case EMSGSIZE = 90
    case EOPNOTSUPP = 95
    case EADDRINUSE = 98
    case EADDRNOTAVAIL = 99
    case ENOBUFS = 105
    case EISCONN = 106
    case ENOTCONN = 107
    case ETIMEDOUT = 110
    case ECONNREFUSED = 111

    /// XEN_EWOULDBLOCK is another name for XEN_EAGAIN.
    public static let EWOULDBLOCK = XenError.EAGAIN
    /// XEN_EDEADLOCK is another name for XEN_EDEADLK.
    public static let EDEADLOCK = XenError.EDEADLK

    /// The error behind a negative hypercall result. A value outside Xen's
    /// list (Xen never returns one) is reported as `.EIO`.
    public init(result: Int) {
        self = XenError(rawValue: Int32(truncatingIfNeeded: -result)) ?? .EIO
    }

    /// `result` if it is not negative; otherwise throws its error.
    @inline(__always)
    public static func check(_ result: Int) throws(XenError) -> Int {
        if result < 0 { throw XenError(result: result) }
        return result
    }

    /// Xen's name for the error, e.g. "EFAULT".
    public var name: StaticString {
        switch self {
        case .EPERM: return "EPERM"
        case .ENOENT: return "ENOENT"
        case .ESRCH: return "ESRCH"
        case .EINTR: return "EINTR"
        case .EIO: return "EIO"
        case .ENXIO: return "ENXIO"
        case .E2BIG: return "E2BIG"
        case .ENOEXEC: return "ENOEXEC"
        case .EBADF: return "EBADF"
        case .ECHILD: return "ECHILD"
        case .EAGAIN: return "EAGAIN"
        case .ENOMEM: return "ENOMEM"
        case .EACCES: return "EACCES"
        case .EFAULT: return "EFAULT"
        case .EBUSY: return "EBUSY"
        case .EEXIST: return "EEXIST"
        case .EXDEV: return "EXDEV"
        case .ENODEV: return "ENODEV"
        case .ENOTDIR: return "ENOTDIR"
        case .EISDIR: return "EISDIR"
        case .EINVAL: return "EINVAL"
        case .ENFILE: return "ENFILE"
        case .EMFILE: return "EMFILE"
        case .ENOSPC: return "ENOSPC"
        case .EROFS: return "EROFS"
        case .EMLINK: return "EMLINK"
        case .EDOM: return "EDOM"
        case .ERANGE: return "ERANGE"
        case .EDEADLK: return "EDEADLK"
        case .ENAMETOOLONG: return "ENAMETOOLONG"
        case .ENOLCK: return "ENOLCK"
        case .ENOSYS: return "ENOSYS"
        case .ENOTEMPTY: return "ENOTEMPTY"
        case .ENODATA: return "ENODATA"
        case .ETIME: return "ETIME"
        case .EBADMSG: return "EBADMSG"
        case .EOVERFLOW: return "EOVERFLOW"
        case .EILSEQ: return "EILSEQ"
        case .ERESTART: return "ERESTART"
        case .ENOTSOCK: return "ENOTSOCK"
        case .EMSGSIZE: return "EMSGSIZE"
        case .EOPNOTSUPP: return "EOPNOTSUPP"
        case .EADDRINUSE: return "EADDRINUSE"
        case .EADDRNOTAVAIL: return "EADDRNOTAVAIL"
        case .ENOBUFS: return "ENOBUFS"
        case .EISCONN: return "EISCONN"
        case .ENOTCONN: return "ENOTCONN"
        case .ETIMEDOUT: return "ETIMEDOUT"
        case .ECONNREFUSED: return "ECONNREFUSED"
        }
    }

    /// True when every case's raw value equals the C header's XEN_E* value
    /// (the two lists are written separately; this keeps them honest).
    public static func matchesCHeaders() -> Bool {
        let pairs: [(XenError, Int32)] = [
            (.EPERM, XEN_EPERM), (.ENOENT, XEN_ENOENT), (.ESRCH, XEN_ESRCH),
            (.EINTR, XEN_EINTR), (.EIO, XEN_EIO), (.ENXIO, XEN_ENXIO),
            (.E2BIG, XEN_E2BIG), (.ENOEXEC, XEN_ENOEXEC), (.EBADF, XEN_EBADF),
            (.ECHILD, XEN_ECHILD), (.EAGAIN, XEN_EAGAIN), (.ENOMEM, XEN_ENOMEM),
            (.EACCES, XEN_EACCES), (.EFAULT, XEN_EFAULT), (.EBUSY, XEN_EBUSY),
            (.EEXIST, XEN_EEXIST), (.EXDEV, XEN_EXDEV), (.ENODEV, XEN_ENODEV),
            (.ENOTDIR, XEN_ENOTDIR), (.EISDIR, XEN_EISDIR), (.EINVAL, XEN_EINVAL),
            (.ENFILE, XEN_ENFILE), (.EMFILE, XEN_EMFILE), (.ENOSPC, XEN_ENOSPC),
            (.EROFS, XEN_EROFS), (.EMLINK, XEN_EMLINK), (.EDOM, XEN_EDOM),
            (.ERANGE, XEN_ERANGE), (.EDEADLK, XEN_EDEADLK),
            (.ENAMETOOLONG, XEN_ENAMETOOLONG), (.ENOLCK, XEN_ENOLCK),
            (.ENOSYS, XEN_ENOSYS), (.ENOTEMPTY, XEN_ENOTEMPTY),
            (.ENODATA, XEN_ENODATA), (.ETIME, XEN_ETIME), (.EBADMSG, XEN_EBADMSG),
            (.EOVERFLOW, XEN_EOVERFLOW), (.EILSEQ, XEN_EILSEQ),
            (.ERESTART, XEN_ERESTART), (.ENOTSOCK, XEN_ENOTSOCK),
            (.EMSGSIZE, XEN_EMSGSIZE), (.EOPNOTSUPP, XEN_EOPNOTSUPP),
            (.EADDRINUSE, XEN_EADDRINUSE), (.EADDRNOTAVAIL, XEN_EADDRNOTAVAIL),
            (.ENOBUFS, XEN_ENOBUFS), (.EISCONN, XEN_EISCONN),
            (.ENOTCONN, XEN_ENOTCONN), (.ETIMEDOUT, XEN_ETIMEDOUT),
            (.ECONNREFUSED, XEN_ECONNREFUSED),
        ]
        for (e, c) in pairs where e.rawValue != c { return false }
        return XenError.EWOULDBLOCK.rawValue == XEN_EWOULDBLOCK
            && XenError.EDEADLOCK.rawValue == XEN_EDEADLOCK
    }
}
