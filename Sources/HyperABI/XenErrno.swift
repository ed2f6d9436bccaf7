/// Xen's errno values (`xen/include/public/errno.h`); hypercalls return them negated.
public enum XenErrno: Int32, Error, Sendable, CaseIterable, CustomStringConvertible {
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

    /// The value a hypercall leaves in `rax`: the errno negated, as a 64-bit register.
    @inlinable public var hypercallResult: UInt64 { UInt64(bitPattern: Int64(-rawValue)) }

    public var description: String { "\(name) (\(rawValue))" }

    /// The symbolic name, e.g. "EFAULT".
    public var name: String {
        switch self {
        case .EPERM: "EPERM"
        case .ENOENT: "ENOENT"
        case .ESRCH: "ESRCH"
        case .EINTR: "EINTR"
        case .EIO: "EIO"
        case .ENXIO: "ENXIO"
        case .E2BIG: "E2BIG"
        case .ENOEXEC: "ENOEXEC"
        case .EBADF: "EBADF"
        case .ECHILD: "ECHILD"
        case .EAGAIN: "EAGAIN"
        case .ENOMEM: "ENOMEM"
        case .EACCES: "EACCES"
        case .EFAULT: "EFAULT"
        case .EBUSY: "EBUSY"
        case .EEXIST: "EEXIST"
        case .EXDEV: "EXDEV"
        case .ENODEV: "ENODEV"
        case .ENOTDIR: "ENOTDIR"
        case .EISDIR: "EISDIR"
        case .EINVAL: "EINVAL"
        case .ENFILE: "ENFILE"
        case .EMFILE: "EMFILE"
        case .ENOSPC: "ENOSPC"
        case .EROFS: "EROFS"
        case .EMLINK: "EMLINK"
        case .EDOM: "EDOM"
        case .ERANGE: "ERANGE"
        case .EDEADLK: "EDEADLK"
        case .ENAMETOOLONG: "ENAMETOOLONG"
        case .ENOLCK: "ENOLCK"
        case .ENOSYS: "ENOSYS"
        case .ENOTEMPTY: "ENOTEMPTY"
        case .ENODATA: "ENODATA"
        case .ETIME: "ETIME"
        case .EBADMSG: "EBADMSG"
        case .EOVERFLOW: "EOVERFLOW"
        case .EILSEQ: "EILSEQ"
        case .ERESTART: "ERESTART"
        case .ENOTSOCK: "ENOTSOCK"
        case .EMSGSIZE: "EMSGSIZE"
        case .EOPNOTSUPP: "EOPNOTSUPP"
        case .EADDRINUSE: "EADDRINUSE"
        case .EADDRNOTAVAIL: "EADDRNOTAVAIL"
        case .ENOBUFS: "ENOBUFS"
        case .EISCONN: "EISCONN"
        case .ENOTCONN: "ENOTCONN"
        case .ETIMEDOUT: "ETIMEDOUT"
        case .ECONNREFUSED: "ECONNREFUSED"
        }
    }
}
