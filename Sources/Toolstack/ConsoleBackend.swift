import HyperABI
import Hypervisor

/// Dom0's console back-end for one domain: Xen's console ring (`xencons_interface`: in[1024] @0 to the
/// guest, out[2048] @1024 from it, in_cons @3072, in_prod @3076, out_cons @3080, out_prod @3084) in the
/// page the guest granted at ref 0. Output goes to the domain's console log and live readers, the same
/// place console_io writes; input queued for the domain goes into the ring once the guest uses it.
final class ConsoleBackend: @unchecked Sendable {
    typealias L = ConsoleRingLayout

    let page: GrantedPage
    let console: DomainConsole
    let channel: Dom0Channel
    private var outConsumer: UInt32
    /// The guest has written to the ring: from then on its input goes there (not to console_io reads).
    private var inUse = false
    /// Set when the guest broke the ring protocol; the console ring is then ignored (console_io still works).
    private(set) var failure: String?

    init(page: GrantedPage, console: DomainConsole, channel: Dom0Channel) {
        self.page = page
        self.console = console
        self.channel = channel
        outConsumer = page.load32(at: L.outputConsumer)
    }

    /// Moves whatever the guest produced to the log and whatever input waits into the ring.
    func service() {
        guard failure == nil, page.isMapped else { return }
        var notify = false
        let produced = page.load32(at: L.outputProducer)
        let pending = produced &- outConsumer
        guard pending <= UInt32(L.outputSize) else {
            failure = "out_prod \(produced) is \(pending) bytes ahead of out_cons \(outConsumer) in a \(L.outputSize)-byte ring"
            return
        }
        if pending > 0 {
            inUse = true
            var bytes = [UInt8](repeating: 0, count: Int(pending))
            bytes.withUnsafeMutableBytes { page.readRing(base: L.output, size: L.outputSize, index: outConsumer, into: $0) }
            outConsumer = produced
            page.store32(outConsumer, at: L.outputConsumer)
            bytes.withUnsafeBytes { console.output($0) }
            notify = true
        }
        if inUse { notify = forwardInput() || notify }
        if notify { channel.notify() }
    }

    /// Copies queued input into the in ring as far as it has room; true if anything moved.
    private func forwardInput() -> Bool {
        let consumed = page.load32(at: L.inputConsumer)
        var produced = page.load32(at: L.inputProducer)
        let used = produced &- consumed
        guard used <= UInt32(L.inputSize) else {
            failure = "in_cons \(consumed) is behind in_prod \(produced) by more than the ring"
            return false
        }
        let room = L.inputSize - Int(used)
        guard room > 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: room)
        let n = buffer.withUnsafeMutableBytes { console.takeInput(into: $0) }
        guard n > 0 else { return false }
        buffer.withUnsafeBytes { page.writeRing(base: L.input, size: L.inputSize, index: produced, bytes: UnsafeRawBufferPointer(rebasing: $0[..<n])) }
        produced &+= UInt32(n)
        page.store32(produced, at: L.inputProducer)
        return true
    }
}
