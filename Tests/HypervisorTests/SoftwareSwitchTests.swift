import Synchronization
import Testing
@testable import Toolstack

/// Dom0's learning switch: flooding, learning, no echo, forgetting a detached port.
@Suite struct SoftwareSwitchTests {
    final class Inbox: Sendable {
        let frames = Mutex<[[UInt8]]>([])
        func take() -> [[UInt8]] { frames.withLock { f in defer { f = [] }; return f } }
    }

    func frame(to: UInt8, from: UInt8) -> [UInt8] {
        [to == 0xff ? 0xff : 0x00, to == 0xff ? 0xff : 0x16, to == 0xff ? 0xff : 0x3e, to == 0xff ? 0xff : 0, to == 0xff ? 0xff : 0, to]
            + [0x00, 0x16, 0x3e, 0, 0, from] + [0x08, 0x00] + [UInt8](repeating: from, count: 46)
    }

    @Test func learnsFloodsAndForgets() {
        let sw = SoftwareSwitch(name: "sw0")
        let boxes = (0..<3).map { _ in Inbox() }
        let ports = boxes.map { box in sw.attach { f in box.frames.withLock { $0.append(f) } } }
        sw.forward(frame(to: 0xff, from: 1), from: ports[0])                 // broadcast from a: b and c
        #expect(boxes.map { $0.take().count } == [0, 1, 1])
        sw.forward(frame(to: 1, from: 2), from: ports[1])                    // b → a: learnt, only a
        #expect(boxes.map { $0.take().count } == [1, 0, 0])
        sw.forward(frame(to: 9, from: 3), from: ports[2])                    // unknown destination: flooded
        #expect(boxes.map { $0.take().count } == [1, 1, 0])
        sw.forward(frame(to: 2, from: 1), from: ports[0])                    // a → b (learnt from b's frame)
        #expect(boxes.map { $0.take().count } == [0, 1, 0])
        sw.forward([1, 2, 3], from: ports[0])                                 // a runt: dropped
        #expect(boxes.map { $0.take().count } == [0, 0, 0])
        sw.detach(ports[0])
        sw.forward(frame(to: 1, from: 3), from: ports[2])                    // a is gone: flooded to b only
        #expect(boxes.map { $0.take().count } == [0, 1, 0])
    }
}
