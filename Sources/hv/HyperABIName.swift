import HyperABI

/// Xen's name of a hypercall number, when it has one.
enum HyperABIName {
    static func of(_ nr: UInt64) -> String? { Hypercall(rawValue: nr)?.xenName }
}
