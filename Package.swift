// swift-tools-version:6.1
// A Xen-style paravirtualized microhypervisor: PV guest kernels at ring 3 inside KVM.
import PackageDescription

let package = Package(
    name: "SwiftXen",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hv", targets: ["hv"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Xen's guest ABI: numbers, errno, fixed-layout structs. Depends on nothing.
        .target(name: "HyperABI"),
        // linux/kvm.h constants and non-variadic ioctl wrappers.
        .target(name: "CKVM"),
        // libelf from libelf-dev, found through pkg-config.
        .systemLibrary(name: "CLibELF", pkgConfig: "libelf",
                       providers: [.apt(["libelf-dev"])]),
        // Load plan of a PV kernel ELF: segments, entry, Xen notes.
        .target(name: "ELFImage", dependencies: ["CLibELF", "HyperABI"]),
        // Linux calls Swift's Glibc module lacks (memfd_create, fallocate).
        .target(name: "CHost"),
        // The hypervisor core: domains, hypercalls, guest memory. No KVM in it.
        .target(name: "Hypervisor", dependencies: ["HyperABI", "CHost"]),
        // The only module with ioctls: VMs, vCPU exit loop, ring-0 stub.
        .target(name: "KVM", dependencies: ["CKVM", "CHost", "CBaseline", "Hypervisor", "HyperABI"]),
        // A minimal C KVM loop: the in-run baseline for `hv bench`.
        .target(name: "CBaseline", dependencies: ["CKVM"]),
        // Domain builder and lifecycle (Dom0's toolstack).
        .target(name: "Toolstack", dependencies: ["ELFImage", "Hypervisor", "KVM", "HyperABI", "CHost", "CBaseline"]),
        // A terminal line editor (history, completion) for `hv shell`. Depends on nothing.
        .target(name: "LineEditing"),
        // The Dom0 shell and CLI.
        .executableTarget(name: "hv", dependencies: [
            "Toolstack", "LineEditing",
            "HyperABI", "Hypervisor", "ELFImage",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "HyperABITests", dependencies: ["HyperABI", "CGuestABI", "Toolstack"]),
        .target(name: "CGuestABI", path: "Tests/CGuestABI",
                cSettings: [.headerSearchPath("../../GuestKit/include")]),
        .testTarget(name: "ELFImageTests", dependencies: ["ELFImage"]),
        .testTarget(name: "HypervisorTests", dependencies: ["Hypervisor", "HyperABI", "Toolstack"]),
        .testTarget(name: "LineEditingTests", dependencies: ["LineEditing"]),
        .testTarget(name: "IntegrationTests", dependencies: ["Toolstack", "KVM", "Hypervisor", "HyperABI"]),
    ]
)
