import ArgumentParser

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

    var description: String {
        bytes % (1 << 30) == 0 ? "\(bytes >> 30)G" : bytes % (1 << 20) == 0 ? "\(bytes >> 20)M" : bytes % 1024 == 0 ? "\(bytes >> 10)K" : "\(bytes)"
    }
}
