import Dispatch
import Foundation
import Glibc
import HyperABI
import Hypervisor
import Synchronization

/// `hv bench net`: two `net-ping` guests on one bridge of Dom0's software switch (vif → netif tx ring →
/// switch → the peer's rx ring, by copy) against two host threads doing the same over loopback UDP, in
/// the same run.
extension Benchmarks {
    /// What the pinging guest printed: round trips (µs, guest-timed) and its UDP stream.
    struct NetworkRun {
        let pingMicros: Double
        let echoMicros: Double
        let streamMiBps: Double
        let sent: Int
        let received: Int
    }

    /// The UDP stream (MiB/s and datagrams delivered) and the round trips of ICMP echo (56 bytes) and UDP
    /// echo (1000 bytes), each next to its host loopback counterpart.
    public func network(netPing: String, bytes: Int = 64 << 20, count: Int = 200) throws -> [BenchFigure] {
        let run = try Benchmarks.networkPair(toolstack, image: netPing, bytes: bytes, count: count)
        let datagram = 1472                                            // net-ping's stream datagrams (GK_UDP_MAX_PAYLOAD)
        let host = try Benchmarks.hostUDPStream(bytes: bytes, datagram: datagram)
        let hostPing = try Benchmarks.hostUDPRoundTrip(size: 56, count: count)
        let hostEcho = try Benchmarks.hostUDPRoundTrip(size: 1000, count: count)
        func percent(_ got: Int, _ of: Int) -> Double { of > 0 ? 100 * Double(got) / Double(of) : 0 }
        let loss = String(format: "guest lost %d of %d (%.1f %%), host %d of %d (%.1f %%)",
                          run.sent - run.received, run.sent, 100 - percent(run.received, run.sent),
                          host.sent - host.received, host.sent, 100 - percent(host.received, host.sent))
        return [
            BenchFigure("net.udp_stream", value: run.streamMiBps, unit: "MiB/s", baseline: host.mibPerSecond,
                        note: "\(bytes >> 20) MiB as \(datagram)-byte UDP datagrams guest to guest across Dom0's switch: bytes received / the sender's time, vs two host threads over loopback UDP (receive buffer sized to the guest path's rx ring + back-end queue); \(loss)"),
            BenchFigure("net.udp_delivered", value: percent(run.received, run.sent), unit: "%", baseline: percent(host.received, host.sent),
                        note: "datagrams of that stream that reached the receiver (receive ring or socket buffer overflowing drops the rest)"),
            BenchFigure("net.ping_rtt", value: run.pingMicros, unit: "us", baseline: hostPing,
                        note: "ICMP echo of 56 bytes, guest to guest, mean of \(count) (guest-timed), vs a 56-byte UDP round trip between two host threads over loopback"),
            BenchFigure("net.udp_echo_rtt", value: run.echoMicros, unit: "us", baseline: hostEcho,
                        note: "UDP echo of 1000 bytes, guest to guest, mean of \(count), vs the same between two host threads over loopback"),
        ]
    }

    /// Boots an echo guest (10.0.0.2) and a pinging guest (10.0.0.1) with vifs on bridge `bench0`, waits
    /// for both, and reads the pinger's figures.
    static func networkPair(_ toolstack: Toolstack, image: String, bytes: Int, count: Int, timeout: Double = 300) throws -> NetworkRun {
        func make(_ name: String, _ cmdline: String, mac: UInt8) throws -> Domain {
            try toolstack.create(DomainConfig(name: name, kernel: image, memoryBytes: 32 << 20, cmdline: cmdline,
                                              vifs: [VifSpec(mac: [0x00, 0x16, 0x3e, 0x00, 0x00, mac], bridge: "bench0")]))
        }
        let echo = try make("net-echo", "role=echo ip=10.0.0.2", mac: 2)
        let ping: Domain
        do { ping = try make("net-ping", "role=ping ip=10.0.0.1 peer=10.0.0.2 count=\(count) bytes=\(bytes)", mac: 1) } catch {
            toolstack.destroy(echo)
            throw error
        }
        try toolstack.start(echo)
        try toolstack.start(ping)
        for d in [ping, echo] where !d.waitUntilFinished(seconds: timeout) {
            toolstack.destroy(d)
            d.waitUntilFinished()
        }
        guard ping.state == .shutdown(.poweroff),
              let rtt = line(ping, containing: "rtt min/avg/max"), let echoLine = line(ping, containing: "UDP echoes ok"),
              let stream = line(ping, containing: "received by the peer"),
              let avg = rtt.split(separator: " ").dropLast().last?.split(separator: "/").dropFirst().first.flatMap({ Double($0) }),
              let each = number(echoLine, before: " us each"), let rate = number(stream, before: " MiB/s,"),
              let sent = number(stream, before: " sent,"), let received = number(stream, before: " received by") else {
            throw ToolstackError.invalid(object: ping.label, problem: "net-ping ended as \(ping.state): \(ping.console.text.suffix(600))")
        }
        return NetworkRun(pingMicros: avg, echoMicros: each, streamMiBps: rate, sent: Int(sent), received: Int(received))
    }

    /// A UDP socket bound to 127.0.0.1 on a port the kernel picks; the descriptor and the port.
    private static func loopbackSocket() throws -> (fd: Int32, address: sockaddr_in) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw ToolstackError.invalid(object: "loopback UDP", problem: "socket: \(String(cString: strerror(errno)))") }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard ok else {
            close(fd)
            throw ToolstackError.invalid(object: "loopback UDP", problem: "bind: \(String(cString: strerror(errno)))")
        }
        return (fd, a)
    }

    private static func setReceiveTimeout(_ fd: Int32, micros: Int) {
        var t = timeval(tv_sec: micros / 1_000_000, tv_usec: micros % 1_000_000)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
    }

    private static func sendTo(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, _ to: sockaddr_in) -> Int {
        var to = to
        return withUnsafePointer(to: &to) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, buffer.baseAddress, buffer.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    /// The host's UDP stream: a sender thread (this one) sends `bytes` in `datagram`-byte pieces with
    /// sendto as fast as the socket takes them; a receiver thread counts what recvfrom gets until 200 ms
    /// pass without a datagram after the sender is done. Rate: bytes received / the sender's time. The
    /// receive buffer is sized to what the guest path can hold between sender and receiver (a full rx
    /// ring plus the back-end's queue), so neither side is favoured by buffering.
    static func hostUDPStream(bytes: Int, datagram: Int) throws -> (mibPerSecond: Double, sent: Int, received: Int) {
        let receiver = try loopbackSocket()
        defer { close(receiver.fd) }
        let sender = try loopbackSocket()
        defer { close(sender.fd) }
        setReceiveTimeout(receiver.fd, micros: 200_000)
        var buffered = Int32((BackRing.slots(entrySize: NetworkInterface.rxSlot) + NetworkBackend.maximumQueued) * datagram)
        _ = setsockopt(receiver.fd, SOL_SOCKET, SO_RCVBUF, &buffered, socklen_t(MemoryLayout<Int32>.size))
        let shared = StreamShared()
        let finished = DispatchSemaphore(value: 0)
        let fd = receiver.fd
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            var datagrams = 0, total = 0
            while true {
                let n = buffer.withUnsafeMutableBytes { recvfrom(fd, $0.baseAddress, $0.count, 0, nil, nil) }
                if n >= 0 { datagrams += 1; total += n; continue }
                if errno == EINTR { continue }
                if shared.senderDone.load(ordering: .acquiring) { break }         // silent for 200 ms after the last send
            }
            shared.counts.withLock { $0 = (datagrams, total) }
            finished.signal()
        }
        thread.start()
        var message = [UInt8](repeating: 0, count: datagram)
        for k in 0..<datagram { message[k] = UInt8(truncatingIfNeeded: k) }
        var sent = 0
        let t0 = monotonicNanos()
        var left = bytes
        while left > 0 {
            let n = min(left, datagram)
            let r = message.withUnsafeBytes { sendTo(sender.fd, UnsafeRawBufferPointer(rebasing: $0[0..<n]), receiver.address) }
            if r < 0 && (errno == EINTR || errno == ENOBUFS || errno == EAGAIN) { continue }
            guard r == n else {
                shared.senderDone.store(true, ordering: .releasing)
                finished.wait()
                throw ToolstackError.invalid(object: "loopback UDP", problem: "sendto: \(String(cString: strerror(errno)))")
            }
            left -= n
            sent += 1
        }
        let ns = monotonicNanos() - t0
        shared.senderDone.store(true, ordering: .releasing)
        finished.wait()
        let got = shared.counts.withLock { $0 }
        return (Double(got.bytes) / 1_048_576 / (Double(max(ns, 1)) / 1e9), sent, got.datagrams)
    }

    /// What the stream's two threads share: the sender's end, the receiver's counts.
    private final class StreamShared: Sendable {
        let senderDone = Atomic<Bool>(false)
        let counts = Mutex<(datagrams: Int, bytes: Int)>((0, 0))
    }

    /// Mean microseconds of `count` UDP round trips of `size` bytes between this thread and an echoing
    /// host thread over loopback (each the sender's sendto to its recvfrom of the answer).
    static func hostUDPRoundTrip(size: Int, count: Int) throws -> Double {
        let echo = try loopbackSocket()
        defer { close(echo.fd) }
        let client = try loopbackSocket()
        defer { close(client.fd) }
        setReceiveTimeout(echo.fd, micros: 2_000_000)
        setReceiveTimeout(client.fd, micros: 2_000_000)
        let finished = DispatchSemaphore(value: 0)
        let fd = echo.fd
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            for _ in 0..<count {
                var from = sockaddr_in()
                var length = socklen_t(MemoryLayout<sockaddr_in>.size)
                let n = buffer.withUnsafeMutableBytes { b in
                    withUnsafeMutablePointer(to: &from) { p in
                        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, b.baseAddress, b.count, 0, $0, &length) }
                    }
                }
                if n < 0 { break }
                _ = buffer.withUnsafeBytes { sendTo(fd, UnsafeRawBufferPointer(rebasing: $0[0..<n]), from) }
            }
            finished.signal()
        }
        thread.start()
        defer { finished.wait() }
        var message = [UInt8](repeating: 0x6e, count: size), answer = [UInt8](repeating: 0, count: 65536)
        var total: UInt64 = 0
        for i in 0..<count {
            message[0] = UInt8(truncatingIfNeeded: i)
            let t0 = monotonicNanos()
            guard message.withUnsafeBytes({ sendTo(client.fd, $0, echo.address) }) == size else {
                throw ToolstackError.invalid(object: "loopback UDP", problem: "sendto: \(String(cString: strerror(errno)))")
            }
            let n = answer.withUnsafeMutableBytes { recvfrom(client.fd, $0.baseAddress, $0.count, 0, nil, nil) }
            guard n == size, answer[0] == message[0] else {
                throw ToolstackError.invalid(object: "loopback UDP", problem: "round trip \(i) came back as \(n) bytes")
            }
            total += monotonicNanos() - t0
        }
        return Double(total) / Double(max(count, 1)) / 1000
    }
}
