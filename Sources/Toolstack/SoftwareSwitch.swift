import Synchronization

/// A learning Ethernet switch in Dom0 joining the vifs of one bridge: a frame goes to the port that last
/// sent from its destination address, or to every other port when the destination is broadcast, multicast
/// or not yet learnt. Needs no root and no host set-up.
final class SoftwareSwitch: Sendable {
    let name: String
    /// What a port takes: a frame to deliver to its guest.
    struct Port: Sendable {
        let id: Int
        let deliver: @Sendable ([UInt8]) -> Void
    }
    private struct State {
        var ports: [Int: Port] = [:]
        var table: [[UInt8]: Int] = [:]
        var nextID = 0
    }
    private let state = Mutex(State())
    /// Frames forwarded and flooded, for tools.
    let forwarded = Atomic<UInt64>(0)
    let flooded = Atomic<UInt64>(0)

    init(name: String) { self.name = name }

    func attach(_ deliver: @escaping @Sendable ([UInt8]) -> Void) -> Int {
        state.withLock { s in
            let id = s.nextID
            s.nextID += 1
            s.ports[id] = Port(id: id, deliver: deliver)
            return id
        }
    }

    func detach(_ id: Int) {
        state.withLock { s in
            s.ports[id] = nil
            s.table = s.table.filter { $0.value != id }
        }
    }

    /// A frame sent by port `from` (at least an Ethernet header).
    func forward(_ frame: [UInt8], from: Int) {
        guard frame.count >= 14 else { return }
        let destination = Array(frame[0..<6]), source = Array(frame[6..<12])
        let targets: [Port] = state.withLock { s in
            if source[0] & 1 == 0 { s.table[source] = from }
            if destination[0] & 1 == 0, let port = s.table[destination], port != from, let p = s.ports[port] { return [p] }
            if destination[0] & 1 == 0, s.table[destination] == from { return [] }     // back where it came from
            return s.ports.values.filter { $0.id != from }
        }
        if targets.count == 1 { forwarded.add(1, ordering: .relaxed) } else { flooded.add(1, ordering: .relaxed) }
        for t in targets { t.deliver(frame) }
    }
}
