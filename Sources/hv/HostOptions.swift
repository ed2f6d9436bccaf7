import ArgumentParser
import Hypervisor

/// The options of any `hv` command that brings up a hypervisor: machine memory and physical CPUs.
struct HostOptions: ParsableArguments {
    @Option(help: "Machine memory shared by all domains (sparse until used; default an eighth of host RAM, 512M–4G).")
    var machineMemory = ByteSize.defaultMachineMemory

    @Option(help: "Physical CPUs the credit scheduler hands out to all vCPUs (default: the host's online CPUs).")
    var pcpus = CreditScheduler.hostCPUs
}
