import Foundation
import Hypervisor
import Synchronization

/// The daemon's control socket: one thread per client, each request answered by `ControlVerbs`;
/// `console` turns the connection into the domain's console stream.
public final class ControlServer: @unchecked Sendable {
    public let manager: DomainManager
    public let path: String
    private let listener: UnixSocket
    private let stopped = Atomic<Bool>(false)

    /// Listens at `path` (see `UnixSocket.listen` for a stale or live socket there).
    public init(manager: DomainManager, path: String = ControlProtocol.defaultSocketPath) throws(UnixSocket.Failure) {
        self.manager = manager
        self.path = path
        listener = try UnixSocket.listen(at: path)
    }

    /// Accepts clients on a thread of its own until `stop`.
    public func start() {
        let thread = Thread { [self] in
            while !stopped.load(ordering: .acquiring), let client = listener.accept() {
                let t = Thread { [self] in serve(client) }
                t.name = "control-client"
                t.start()
            }
        }
        thread.name = "control-accept"
        thread.start()
    }

    /// Stops accepting and removes the socket file.
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        listener.shutdown()
        unlink(path)
    }

    private func serve(_ client: UnixSocket) {
        let encoder = JSONEncoder()
        guard let greeting = try? encoder.encode(ControlGreeting()), client.write(greeting + Data("\n".utf8)) else { return }
        while let line = client.readLine() {
            guard let request = try? JSONDecoder().decode(ControlRequest.self, from: line) else {
                client.write(ControlReply.failure("malformed request: expected one JSON object per line with protocol, argv, cwd, json", exit: 2).encodedLine())
                return
            }
            if request.protocol == ControlProtocol.version, request.argv.first == "console", request.argv.count == 2,
               let m = manager.find(request.argv[1]) {
                client.write(ControlReply(stream: true).encodedLine())
                streamConsole(m.domain, client)
                return
            }
            let reply = ControlVerbs.execute(request, manager: manager) { message in client.write(ControlReply.progress(message).encodedLine()) }
            guard client.write(reply.encodedLine()) else { return }
        }
    }

    /// The console of a running domain: the log so far, then live output; bytes from the client are
    /// the guest's input. Ends when the client goes or the domain does.
    private func streamConsole(_ domain: Domain, _ client: UnixSocket) {
        let outbox = ConsoleOutbox()
        let (token, log) = domain.console.attachAfterLog { bytes in outbox.append(bytes) }
        outbox.append(log)
        let writer = Thread {
            while let chunk = outbox.take() {
                guard client.write(Data(chunk)) else { break }
            }
            client.shutdown()
        }
        writer.name = "console-\(domain.id)"
        writer.start()
        let watcher = Thread {
            domain.waitUntilFinished()
            outbox.append(Array("\r\n[hv: \(domain.label) ended: \(domain.state)]\r\n".utf8))
            outbox.close()
        }
        watcher.stackSize = 128 << 10
        watcher.start()
        while true {
            let input = client.readSome()
            if input.isEmpty { break }
            manager.toolstack.services.consoleInput(domain, input)
        }
        domain.console.detach(token)
        outbox.close()
    }
}

/// Console output waiting for one slow reader: bounded (a reader that stops reading loses the oldest
/// output, never slows the guest), taken by the writer thread.
final class ConsoleOutbox: @unchecked Sendable {
    private let state = Mutex<(bytes: [UInt8], closed: Bool)>(([], false))
    private let ready = DispatchSemaphore(value: 0)
    static let capacity = 1 << 20

    func append(_ bytes: UnsafeRawBufferPointer) { append(Array(bytes)) }

    func append(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        state.withLock { s in
            s.bytes += bytes
            if s.bytes.count > Self.capacity { s.bytes.removeFirst(s.bytes.count - Self.capacity) }
        }
        ready.signal()
    }

    func close() {
        state.withLock { $0.closed = true }
        ready.signal()
    }

    /// The next bytes; nil once closed and drained.
    func take() -> [UInt8]? {
        while true {
            let (bytes, closed) = state.withLock { s in
                defer { s.bytes = [] }
                return (s.bytes, s.closed)
            }
            if !bytes.isEmpty { return bytes }
            if closed { return nil }
            ready.wait()
        }
    }
}
