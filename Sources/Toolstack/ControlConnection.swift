import Foundation

/// A connection to the daemon's control socket: the greeting checked, then requests and replies.
public final class ControlConnection {
    public let socket: UnixSocket
    public let path: String

    /// Why no connection: the message says how to get a daemon.
    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    public init(path: String) throws(Unavailable) {
        self.path = path
        do { socket = try UnixSocket.connect(to: path) } catch {
            throw Unavailable(description: "no hypervisor daemon answers at \(path) (\(error)); start one with `hv daemon &` or `hv shell`, or point HV_SOCKET at one")
        }
        guard let line = socket.readLine(), let greeting = try? JSONDecoder().decode(ControlGreeting.self, from: line) else {
            throw Unavailable(description: "\(path) answered, but not with a hypervisor daemon's greeting")
        }
        guard greeting.protocol == ControlProtocol.version else {
            throw Unavailable(description: "the daemon at \(path) (\(greeting.hypervisor)) speaks control protocol \(greeting.protocol); this hv speaks \(ControlProtocol.version): use the same hv for both")
        }
    }

    /// Sends one request and waits for its reply, handing progress lines to `progress` meanwhile; nil if
    /// the daemon went away.
    public func call(_ argv: [String], json: Bool = false, progress: (String) -> Void = { _ in }) -> ControlReply? {
        guard let request = try? JSONEncoder().encode(ControlRequest(argv: argv, json: json)),
              socket.write(request + Data("\n".utf8)) else { return nil }
        while let line = socket.readLine(), let reply = ControlReply(line: line) {
            guard reply.progress else { return reply }
            progress(reply.text)
        }
        return nil
    }
}
