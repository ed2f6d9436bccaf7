import Glibc
import HyperABI

/// An error from the hypervisor or its control interface: what, which operation, the Xen errno, why.
public struct HypervisorError: Error, Sendable, CustomStringConvertible, Equatable {
    public let errno: XenErrno
    /// The object acted on, e.g. "domain 3 (hello-c)".
    public let object: String
    /// The operation, e.g. "create VM".
    public let operation: String
    /// Detail and, where it helps, what to do.
    public let detail: String

    public init(_ errno: XenErrno, _ object: String, _ operation: String, _ detail: String = "") {
        self.errno = errno
        self.object = object
        self.operation = operation
        self.detail = detail
    }

    /// Wraps a host errno (from a failed system call); the Xen errno is the closest match.
    public init(errno hostErrno: Int32, _ object: String, _ operation: String, _ hint: String = "") {
        let xen = XenErrno(rawValue: hostErrno) ?? .EIO
        let text = String(cString: strerror(hostErrno))
        self.init(xen, object, operation,
                  "\(HypervisorError.hostErrnoName(hostErrno)): \(text)" + (hint.isEmpty ? "" : "; \(hint)"))
    }

    public var description: String {
        "\(object): \(operation) failed: \(errno.name)" + (detail.isEmpty ? "" : " (\(detail))")
    }

    /// The symbolic name of a Linux errno.
    public static func hostErrnoName(_ e: Int32) -> String {
        switch e {
        case EPERM: "EPERM"
        case ENOENT: "ENOENT"
        case EINTR: "EINTR"
        case EIO: "EIO"
        case EBADF: "EBADF"
        case EAGAIN: "EAGAIN"
        case ENOMEM: "ENOMEM"
        case EACCES: "EACCES"
        case EFAULT: "EFAULT"
        case EBUSY: "EBUSY"
        case EEXIST: "EEXIST"
        case ENODEV: "ENODEV"
        case ENOTDIR: "ENOTDIR"
        case EISDIR: "EISDIR"
        case EINVAL: "EINVAL"
        case EMFILE: "EMFILE"
        case ENOSPC: "ENOSPC"
        case E2BIG: "E2BIG"
        case ENOSYS: "ENOSYS"
        case ENXIO: "ENXIO"
        case ENOTTY: "ENOTTY"
        case EOPNOTSUPP: "EOPNOTSUPP"
        default: "errno \(e)"
        }
    }
}
