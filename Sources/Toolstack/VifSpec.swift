import Foundation

/// A domain's network interface, written as xl's `vif` entries: `mac=00:16:3e:00:00:01,bridge=sw0`.
public struct VifSpec: Sendable, Equatable, CustomStringConvertible {
    public var mac: [UInt8]
    /// Vifs with the same bridge name share one software switch in Dom0.
    public var bridge: String

    public init(mac: [UInt8], bridge: String = "sw0") { self.mac = mac; self.bridge = bridge }

    /// Parses `key=value` pairs separated by commas: `mac` (six hex bytes with colons; default: Xen's
    /// 00:16:3e prefix and three bytes from `defaultSuffix`) and `bridge` (default sw0).
    public init(parsing text: String, defaultSuffix: UInt32 = 0) throws(ToolstackError) {
        var mac: [UInt8] = [0x00, 0x16, 0x3e, UInt8(defaultSuffix >> 16 & 0xff), UInt8(defaultSuffix >> 8 & 0xff), UInt8(defaultSuffix & 0xff)]
        var bridge = "sw0"
        for pair in text.split(separator: ",") where !pair.isEmpty {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { throw .invalid(object: "vif \"\(text)\"", problem: "\"\(pair)\" is not key=value (keys: mac, bridge)") }
            switch kv[0] {
            case "mac":
                let bytes = kv[1].split(separator: ":").compactMap { $0.count == 2 ? UInt8($0, radix: 16) : nil }
                guard bytes.count == 6, bytes[0] & 1 == 0 else {
                    throw .invalid(object: "vif \"\(text)\"", problem: "mac \"\(kv[1])\" is not six hex bytes of a unicast address (e.g. 00:16:3e:00:00:01)")
                }
                mac = bytes
            case "bridge":
                guard !kv[1].isEmpty, kv[1].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                    throw .invalid(object: "vif \"\(text)\"", problem: "bridge \"\(kv[1])\" is not a name of letters, digits, - and _")
                }
                bridge = kv[1]
            default:
                throw .invalid(object: "vif \"\(text)\"", problem: "unknown key \"\(kv[0])\" (mac, bridge)")
            }
        }
        self.init(mac: mac, bridge: bridge)
    }

    public var macText: String { mac.map { String(format: "%02x", $0) }.joined(separator: ":") }
    public var description: String { "mac=\(macText),bridge=\(bridge)" }
}
