import ArgumentParser
import Foundation
import Hypervisor
import Toolstack

/// `hv daemon`: hosts the hypervisor and answers every other `hv` verb over the control socket.
struct Daemon: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Host the hypervisor and serve the control socket (create, list, console … talk to it).",
        discussion: "Runs in the foreground until SIGINT or SIGTERM, which destroy every domain. The log goes to standard error and to `hv dmesg`.")

    @OptionGroup var options: DaemonOptions

    @Option(help: "Create these domains from xl.cfg files at start.")
    var create: [String] = []

    func run() throws {
        let daemon = try DaemonHost(socket: options.socket, machineMemory: options.host.machineMemory, pcpus: options.host.pcpus, echoLog: true)
        for path in create {
            let reply = ControlVerbs.execute(ControlRequest(argv: ["create", path]), manager: daemon.manager)
            if let error = reply.error { report("hv daemon: \(error)") }
        }
        print("hv daemon: listening on \(options.socket) (\(ControlProtocol.hypervisorVersion), control protocol \(ControlProtocol.version))")
        flushStandardOutput()
        daemon.waitForSignal()
    }
}

/// A running hypervisor with its control socket: what `hv daemon` and a first `hv shell` host.
final class DaemonHost: @unchecked Sendable {
    let manager: DomainManager
    let server: ControlServer

    init(socket: String, machineMemory: ByteSize, pcpus: Int, echoLog: Bool) throws {
        let toolstack: Toolstack
        do {
            toolstack = try Toolstack(machineMemoryBytes: machineMemory.bytes, pcpus: pcpus, log: HypervisorLog(echo: echoLog))
        } catch {
            report("hv: \(error)")
            throw ExitCode(1)
        }
        manager = DomainManager(toolstack: toolstack)
        do {
            server = try ControlServer(manager: manager, path: socket)
        } catch {
            report("hv: cannot serve the control socket: \(error)")
            throw ExitCode(1)
        }
        server.start()
        manager.log.add("hypervisor up: \(machineMemory) machine memory, \(pcpus) pcpus, control socket \(socket)")
    }

    /// Destroys every domain and removes the socket.
    func shutdown() {
        server.stop()
        for m in manager.domains { _ = try? manager.destroy("\(m.domain.id)") }
    }

    /// Blocks until SIGINT or SIGTERM, then shuts down.
    func waitForSignal() {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let done = DispatchSemaphore(value: 0)
        let sources = [SIGINT, SIGTERM].map { DispatchSource.makeSignalSource(signal: $0, queue: .global()) }
        for s in sources {
            s.setEventHandler { done.signal() }
            s.resume()
        }
        done.wait()
        manager.log.add("stopping: destroying \(manager.domains.count) domain(s)")
        shutdown()
    }
}
