import Foundation
import Hypervisor
import KVM
import Testing
import Toolstack

/// Whether this machine can run the KVM tests; when not, say so loudly (once) and skip them with the reason.
let kvmAvailable: Bool = {
    let ok = KVMDevice.isAvailable
    if !ok {
        let banner = """

        ************************************************************************
        * KVM INTEGRATION TESTS SKIPPED: /dev/kvm is missing or not usable.    *
        * They boot real guests and need a Linux host with KVM (run as root).  *
        ************************************************************************

        """
        FileHandle.standardError.write(banner.data(using: .utf8)!)
    }
    return ok
}()

let kvmReason: Comment = "needs /dev/kvm: these tests boot real guests under KVM"

/// Every suite that boots guests, one at a time: two machine cores, and some tests measure the whole
/// process's CPU and memory, which another suite's guests would disturb.
@Suite(.serialized, .enabled(if: kvmAvailable, kvmReason))
struct KVMIntegration {}

/// The package root (two levels above this file's folder).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Images/build/NAME.elf; a missing image is a test failure that says how to build it.
func imagePath(_ name: String) throws -> String {
    let path = packageRoot.appendingPathComponent("Images/build/\(name).elf").path
    guard FileManager.default.fileExists(atPath: path) else {
        throw ToolstackError.invalid(object: path, problem: "not built: run `make -C Images` (the README's test command does)")
    }
    return path
}

/// What an image's EXPECT file says it must do.
struct Expectation {
    var exit: String = ""
    var console: [String] = []

    init(image: String) throws {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("Images/\(image)/EXPECT"), encoding: .utf8)
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("exit:") { exit = line.dropFirst(5).trimmingCharacters(in: .whitespaces) }
            if line.hasPrefix("console:") { console.append(line.dropFirst(8).trimmingCharacters(in: .whitespaces)) }
        }
    }

    /// Checks the console lines appear in order and the domain ended as stated.
    func check(_ domain: Domain, sourceLocation: SourceLocation = #_sourceLocation) {
        let lines = domain.console.text.split(separator: "\n").map(String.init)
        var next = 0
        for line in lines where next < console.count && line.contains(console[next]) { next += 1 }
        #expect(next == console.count, "missing console line \(next < console.count ? console[next] : ""); console was:\n\(domain.console.text)", sourceLocation: sourceLocation)
        switch exit {
        case "never": #expect(domain.state == .running, "ended as \(domain.state)", sourceLocation: sourceLocation)
        case "poweroff": #expect(domain.state == .shutdown(.poweroff), "ended as \(domain.state)", sourceLocation: sourceLocation)
        case "crash":
            if case .crashed = domain.state {} else { Issue.record("expected a crash, ended as \(domain.state)", sourceLocation: sourceLocation) }
        default: Issue.record("EXPECT has no exit line", sourceLocation: sourceLocation)
        }
    }
}

/// A toolstack with a modest machine memory, shared by the tests of one suite.
func makeToolstack(_ bytes: Int = 512 << 20, pcpus: Int = CreditScheduler.hostCPUs) throws -> Toolstack {
    try Toolstack(machineMemoryBytes: bytes, pcpus: pcpus)
}

extension Domain {
    /// Waits until the console shows `text` (or `seconds` pass).
    func waitForConsole(_ text: String, seconds: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if console.text.contains(text) { return true }
            if state.isFinal { return console.text.contains(text) }
            usleep(5_000)
        }
        return false
    }

    /// Waits for the domain to end; records a failure (and destroys it) if it takes longer than `seconds`.
    func finish(within seconds: Double = 60, _ toolstack: Toolstack, sourceLocation: SourceLocation = #_sourceLocation) {
        if !waitUntilFinished(seconds: seconds) {
            Issue.record("\(label) still running after \(seconds) s", sourceLocation: sourceLocation)
            toolstack.destroy(self)
            waitUntilFinished()
        }
    }
}
