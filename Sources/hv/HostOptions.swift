import ArgumentParser
import Hypervisor
import Toolstack

/// The options of any `hv` command that brings up a hypervisor: machine memory and physical CPUs.
struct HostOptions: ParsableArguments {
    @Option(help: "Machine memory shared by all domains (sparse until used; default an eighth of host RAM, 512M–4G).")
    var machineMemory = ByteSize.defaultMachineMemory

    @Option(help: "Physical CPUs the credit scheduler hands out to all vCPUs (default: the host's online CPUs).")
    var pcpus = CreditScheduler.hostCPUs
}

/// What `hv daemon` and `hv shell` share: the control socket and the hypervisor they may host.
struct DaemonOptions: ParsableArguments {
    @Option(help: "The control socket (default: $HV_SOCKET, else /run/hv/control.sock for root, else $XDG_RUNTIME_DIR/hv/control.sock).")
    var socket = ControlProtocol.defaultSocketPath

    @OptionGroup var host: HostOptions
}
