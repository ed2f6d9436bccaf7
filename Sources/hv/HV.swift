import ArgumentParser

/// `hv`: the Dom0 command line of the hypervisor.
@main
struct HV: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv",
        abstract: "A Xen-style paravirtualized microhypervisor: PV guest kernels at ring 3 inside KVM.",
        subcommands: [Run.self, ElfInfo.self, Bench.self, Demo.self]
    )
}
