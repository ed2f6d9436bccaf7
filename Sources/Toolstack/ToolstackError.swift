import ELFImage
import Hypervisor

/// Why the toolstack could not build or run a domain.
public enum ToolstackError: Error, CustomStringConvertible {
    /// The kernel image was refused by the ELF loader.
    case image(ELFImageError)
    /// The hypervisor refused an operation.
    case hypervisor(HypervisorError)
    /// The request itself is wrong (bad size, command line too long …): object, problem, what to do.
    case invalid(object: String, problem: String)

    public var description: String {
        switch self {
        case .image(let e): e.description
        case .hypervisor(let e): e.description
        case .invalid(let object, let problem): "\(object): \(problem)"
        }
    }
}
