/// Why a domain configuration file was refused: the file, the line, the key, what is wrong and what
/// would be accepted instead — e.g. `vm.cfg:7: memory: "64M" is not an integer; accepted: an integer
/// number of MiB, at least 1`.
public struct ConfigFileError: Error, CustomStringConvertible, Equatable {
    /// The file, as it was named to the parser ("<config>" for text without a file).
    public var path: String
    /// 1-based; 0 when the error is not tied to a line (a missing key, a file that cannot be read).
    public var line: Int
    /// The key being set; nil for errors outside any setting (a stray character, an unreadable file).
    public var key: String?
    /// What is wrong, naming the offending value.
    public var problem: String
    /// What would be accepted in its place (a value's form and range, or the list of keys).
    public var accepted: String

    public init(path: String, line: Int, key: String?, problem: String, accepted: String) {
        self.path = path; self.line = line; self.key = key; self.problem = problem; self.accepted = accepted
    }

    public var description: String {
        let place = line > 0 ? "\(path):\(line)" : path
        let subject = key.map { "\($0): " } ?? ""
        return "\(place): \(subject)\(problem); accepted: \(accepted)"
    }
}
