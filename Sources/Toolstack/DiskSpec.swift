import HyperABI

/// A domain's disk, written as xl's `disk` entries: `file:/path/to/image,xvda,w` (or `r` for read-only).
public struct DiskSpec: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    /// The guest's name for it: xvda … xvdp.
    public var virtualDevice: String
    public var writable: Bool

    public init(path: String, virtualDevice: String = "xvda", writable: Bool = true) {
        self.path = path; self.virtualDevice = virtualDevice; self.writable = writable
    }

    /// Parses `[file:]PATH,VDEV,MODE` with MODE `w`/`rw` or `r`/`ro`.
    public init(parsing text: String) throws(ToolstackError) {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let accepted = "file:/path/to/image,xvda,w (or ,r): a raw image file, xvda…xvdp, w or r"
        guard parts.count == 3, !parts[0].isEmpty else { throw .invalid(object: "disk \"\(text)\"", problem: "expected \(accepted)") }
        var path = parts[0]
        if path.hasPrefix("file:") { path.removeFirst(5) }
        guard !path.isEmpty, !path.contains(":") else {
            throw .invalid(object: "disk \"\(text)\"", problem: "only raw files (file:PATH) are supported; expected \(accepted)")
        }
        guard DiskSpec.diskIndex(parts[1]) != nil else {
            throw .invalid(object: "disk \"\(text)\"", problem: "device \"\(parts[1])\" is not one of xvda…xvdp")
        }
        let writable: Bool
        switch parts[2] {
        case "w", "rw": writable = true
        case "r", "ro": writable = false
        default: throw .invalid(object: "disk \"\(text)\"", problem: "mode \"\(parts[2])\" is not w, rw, r or ro")
        }
        self.init(path: path, virtualDevice: parts[1], writable: writable)
    }

    private static func diskIndex(_ vdev: String) -> Int? {
        guard vdev.count == 4, vdev.hasPrefix("xvd"), let c = vdev.last?.asciiValue, c >= 97, c <= 112 else { return nil }
        return Int(c - 97)
    }

    /// Xen's `virtual-device` number (xvda = 51712).
    public var deviceNumber: Int { BlockInterface.xvdNumber(disk: DiskSpec.diskIndex(virtualDevice) ?? 0) }

    public var description: String { "file:\(path),\(virtualDevice),\(writable ? "w" : "r")" }
}
