import ArgumentParser
import Glibc

/// A size such as 64M, 1G, 512K or a plain byte count.
struct ByteSize: ExpressibleByArgument, CustomStringConvertible {
    let bytes: Int

    init(bytes: Int) { self.bytes = bytes }

    init?(argument: String) {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        var text = argument.uppercased()
        if text.hasSuffix("IB") { text.removeLast(2) } else if text.hasSuffix("B") { text.removeLast() }
        var scale = 1
        if let last = text.last, let u = units[last] { scale = u; text.removeLast() }
        guard let n = Int(text), n > 0, !n.multipliedReportingOverflow(by: scale).overflow else { return nil }
        bytes = n * scale
    }

    /// An eighth of the host's RAM, between 512 MiB and 4 GiB: room for several domains, while the
    /// per-VM KVM slot (as large as machine memory) stays cheap to set up.
    static var defaultMachineMemory: ByteSize {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        let eighth = pages > 0 && size > 0 ? Int(pages) * Int(size) / 8 : 1 << 30
        return ByteSize(bytes: min(max(eighth, 512 << 20), 4 << 30) & ~((1 << 20) - 1))
    }

    var description: String {
        bytes % (1 << 30) == 0 ? "\(bytes >> 30)G" : bytes % (1 << 20) == 0 ? "\(bytes >> 20)M" : bytes % 1024 == 0 ? "\(bytes >> 10)K" : "\(bytes)"
    }
}
