import ArgumentParser
import Foundation
import Toolstack

/// `hv`: the Dom0 command line of the hypervisor.
@main
struct HV: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv",
        abstract: "A Xen-style paravirtualized microhypervisor: PV guest kernels at ring 3 inside KVM.",
        discussion: "Verbs served by a running daemon (hv daemon, or the first hv shell), as xl's:\n"
            + ControlVerbs.all.map(\.name).joined(separator: " ")
            + "\n`hv help VERB` explains one; `hv [--socket PATH] VERB …` talks to another daemon.",
        subcommands: [Run.self, Daemon.self, Shell.self, ElfInfo.self, Bench.self, Demo.self]
    )

    /// The control verbs go to the daemon; everything else is parsed as a subcommand.
    static func main() {
        var args = Array(CommandLine.arguments.dropFirst())
        var socket = ControlProtocol.defaultSocketPath
        if args.count >= 2, args[0] == "--socket" {
            socket = args[1]
            args.removeFirst(2)
        }
        if let verb = args.first, ControlVerbs.named(verb) != nil {
            flushStandardOutput()
            Foundation.exit(ControlClient.run(args, socket: socket))
        }
        main(args)
    }
}
