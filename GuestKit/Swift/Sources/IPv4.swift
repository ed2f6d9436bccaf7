// IPv4.swift - GuestKit's small C IPv4 stack (net.h: Ethernet, ARP, IPv4,
// ICMP echo, UDP) on the open vif, from Swift.
//
// One stack per domain. Nothing runs in the background: frames are taken
// from the vif only inside `IPv4Stack.poll` and the calls that wait
// (`resolve`, `ping`, `UDPSocket.receive`); each is handled as it comes
// (ARP and ICMP echo requests answered, UDP to its port's handler or
// queue). Deadlines are system time in ns (`Clock.now()`), 0 = none.

import CGuestKit

/// An IPv4 address, host order inside (10.0.0.1 = 0x0a000001, as net.h's GK_IP).
public struct IPv4Address: RawRepresentable, Equatable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// a.b.c.d.
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        rawValue = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// 255.255.255.255.
    public static var broadcast: IPv4Address { IPv4Address(rawValue: GK_IP_BROADCAST) }

    /// "a.b.c.d" or "a.b.c.d/prefix" up to a space or the end (`gk_ip_parse`); the prefix is 24 when none is given.
    public static func parse(_ text: [UInt8]) -> (address: IPv4Address, prefix: Int)? {
        var ip: UInt32 = 0
        var prefix: UInt32 = 0
        if XenStore.withCString(text, { gk_ip_parse($0, &ip, &prefix) }) != 0 { return nil }
        return (IPv4Address(rawValue: ip), Int(prefix))
    }

    /// Dotted decimal (`gk_ip_format`).
    public var formatted: [UInt8] {
        var text = [UInt8](repeating: 0, count: Int(GK_IP_STR))
        text.withUnsafeMutableBufferPointer { t in
            _ = gk_ip_format(rawValue, UnsafeMutableRawPointer(t.baseAddress!).assumingMemoryBound(to: CChar.self))
        }
        return text.withUnsafeBytes { Xen.untilNUL($0) }
    }
}

/// The IPv4 stack on the open vif (net.h's `gk_inet_*`, ARP, ICMP echo, raw IPv4).
public enum IPv4Stack {
    /// Counters since `start` (`struct gk_inet_stats`).
    public struct Statistics {
        /// Frames taken from the vif; of them: not for us, malformed, IPv4 fragments (dropped).
        public var rxFrames: UInt64
        public var rxNotOurs: UInt64
        public var rxMalformed: UInt64
        public var rxFragments: UInt64
        /// ARP requests for our address answered, ARP requests sent.
        public var arpAnswered: UInt64
        public var arpRequestsSent: UInt64
        /// ICMP echo requests answered, echo replies no ping waited for.
        public var icmpEchoAnswered: UInt64
        public var icmpRepliesUnmatched: UInt64
        /// UDP datagrams delivered (handler or queue), for no bound port, dropped on a full queue.
        public var udpReceived: UInt64
        public var udpNoPort: UInt64
        public var udpQueueFull: UInt64
        /// Frames handed to the vif, packets dropped in a handler for want of an ARP entry, send failures.
        public var txFrames: UInt64
        public var txUnresolved: UInt64
        public var txErrors: UInt64
    }

    /// IPv4 protocol numbers the stack speaks (`GK_IP_PROTO_*`).
    public static var icmp: UInt8 { UInt8(GK_IP_PROTO_ICMP) }
    public static var udp: UInt8 { UInt8(GK_IP_PROTO_UDP) }

    /// Starts the stack on `vif` as `address`/`prefix` (the prefix only decides the subnet broadcast).
    public static func start(on vif: NetworkInterface, address: IPv4Address, prefix: Int = 24) throws(XenError) {
        _ = try XenError.check(Int(gk_inet_open(vif.handle, address.rawValue, UInt32(truncatingIfNeeded: prefix))))
    }

    /// Starts it with the command line's "ip=a.b.c.d[/prefix]" (`.EINVAL` if missing or malformed).
    public static func startFromCommandLine(on vif: NetworkInterface) throws(XenError) {
        _ = try XenError.check(Int(gk_inet_open_cmdline(vif.handle)))
    }

    /// Detaches the stack from the vif (which stays open).
    public static func stop() {
        gk_inet_close()
    }

    /// Our address and prefix length.
    public static var address: IPv4Address { IPv4Address(rawValue: gk_inet_ip()) }
    public static var prefix: Int { Int(gk_inet_prefix()) }

    /// Counters since `start`.
    public static var statistics: Statistics {
        let s = gk_inet_stats()!.pointee
        return Statistics(rxFrames: s.rx_frames, rxNotOurs: s.rx_not_ours, rxMalformed: s.rx_malformed,
                          rxFragments: s.rx_fragments, arpAnswered: s.arp_answered,
                          arpRequestsSent: s.arp_requests_sent, icmpEchoAnswered: s.icmp_echo_answered,
                          icmpRepliesUnmatched: s.icmp_replies_unmatched, udpReceived: s.udp_received,
                          udpNoPort: s.udp_no_port, udpQueueFull: s.udp_queue_full, txFrames: s.tx_frames,
                          txUnresolved: s.tx_unresolved, txErrors: s.tx_errors)
    }

    /// Takes one frame from the vif and handles it; false when `deadline` passed first (a past one only looks).
    @discardableResult
    public static func poll(until deadline: UInt64 = 0) throws(XenError) -> Bool {
        let rc = Int(gk_inet_poll(deadline))
        if rc == -Int(XEN_ETIMEDOUT) { return false }
        _ = try XenError.check(rc)
        return true
    }

    /// The ARP cache's entry for `ip`, if there is one (nothing is sent).
    public static func cachedMAC(of ip: IPv4Address) -> MACAddress? {
        var mac = [UInt8](repeating: 0, count: 6)
        let rc = mac.withUnsafeMutableBufferPointer { gk_arp_lookup(ip.rawValue, $0.baseAddress) }
        return rc == 0 ? MACAddress(mac) : nil
    }

    /// `ip`'s MAC from the cache or by asking (a request every 250 ms); nil when `deadline` passed first.
    public static func resolve(_ ip: IPv4Address, until deadline: UInt64 = 0) throws(XenError) -> MACAddress? {
        var mac = [UInt8](repeating: 0, count: 6)
        let rc = mac.withUnsafeMutableBufferPointer { Int(gk_arp_resolve(ip.rawValue, $0.baseAddress, deadline)) }
        if rc == -Int(XEN_ETIMEDOUT) { return nil }
        _ = try XenError.check(rc)
        return MACAddress(mac)
    }

    /// One ICMP echo request to `ip` (`bytes` of payload, byte i = seq + 7i) and its reply:
    /// the round trip in ns, nil when `deadline` passed first; `.EBADMSG` if the reply's payload differs.
    public static func ping(_ ip: IPv4Address, id: UInt16, sequence: UInt16, bytes: Int = 56,
                            until deadline: UInt64 = 0) throws(XenError) -> UInt64? {
        var rtt: UInt64 = 0
        let rc = Int(gk_icmp_ping(ip.rawValue, id, sequence, bytes, deadline, &rtt))
        if rc == -Int(XEN_ETIMEDOUT) { return nil }
        _ = try XenError.check(rc)
        return rtt
    }

    /// One IPv4 packet of protocol `proto` carrying `payload` to `ip`.
    public static func send(to ip: IPv4Address, protocol proto: UInt8, payload: [UInt8]) throws(XenError) {
        let rc = payload.withUnsafeBytes { Int(gk_ip_send(ip.rawValue, proto, $0.baseAddress, $0.count)) }
        _ = try XenError.check(rc)
    }
}

/// A bound UDP port of the stack: its datagrams queue for `receive`, or go to a handler.
public struct UDPSocket {
    /// An address and a port.
    public struct Endpoint: Equatable {
        public var address: IPv4Address
        public var port: UInt16

        public init(_ address: IPv4Address, port: UInt16) {
            self.address = address
            self.port = port
        }
    }

    /// A received datagram.
    public struct Datagram {
        public var source: Endpoint
        /// Our address (or a broadcast one) and the socket's port.
        public var destination: Endpoint
        public var payload: [UInt8]
    }

    /// Called for each datagram to a handler-bound port, from inside the poll that took it:
    /// it may send, not wait (`.EDEADLK`); `dg.pointee.payload` is valid only during the call.
    public typealias Handler = @convention(c) (UnsafePointer<gk_udp_datagram>?, UnsafeMutableRawPointer?) -> Void

    /// The most one datagram carries in one frame (1472; GK_UDP_MAX_PAYLOAD, an expression the importer skips).
    public static var maxPayload: Int { Int(GK_ETH_MTU - GK_IP_HLEN - GK_UDP_HLEN) }

    public let port: UInt16

    /// Takes `port`; its datagrams queue for `receive` (`.EADDRINUSE`, `.ENOSPC` past 8 ports).
    public static func bind(port: UInt16) throws(XenError) -> UDPSocket {
        _ = try XenError.check(Int(gk_udp_bind(port, nil, nil)))
        return UDPSocket(port: port)
    }

    /// Takes `port`; its datagrams go to `handler(dg, context)`.
    public static func bind(port: UInt16, handler: Handler, context: UnsafeMutableRawPointer? = nil) throws(XenError) -> UDPSocket {
        _ = try XenError.check(Int(gk_udp_bind(port, handler, context)))
        return UDPSocket(port: port)
    }

    /// Sends `payload` (at most `maxPayload` bytes) from this port to `destination`
    /// (resolving its MAC first if need be, 3 s at most: `.ETIMEDOUT`).
    public func send(_ payload: UnsafeRawBufferPointer, to destination: Endpoint) throws(XenError) {
        let rc = Int(gk_udp_send(destination.address.rawValue, port, destination.port, payload.baseAddress, payload.count))
        _ = try XenError.check(rc)
    }

    /// Sends `payload` from this port to `destination`.
    public func send(_ payload: [UInt8], to destination: Endpoint) throws(XenError) {
        let rc = payload.withUnsafeBytes {
            Int(gk_udp_send(destination.address.rawValue, port, destination.port, $0.baseAddress, $0.count))
        }
        _ = try XenError.check(rc)
    }

    /// The oldest queued datagram into `buffer`: its length and sender, or nil when `deadline`
    /// passed first. A longer one throws `.EMSGSIZE` (cut to the buffer, consumed).
    public func receive(into buffer: UnsafeMutableRawBufferPointer,
                        until deadline: UInt64 = 0) throws(XenError) -> (count: Int, from: Endpoint)? {
        var from = gk_udp_datagram()
        let rc = Int(gk_udp_recv(port, buffer.baseAddress, buffer.count, &from, deadline))
        if rc == -Int(XEN_ETIMEDOUT) { return nil }
        let n = try XenError.check(rc)
        return (n, from.source)
    }

    /// The oldest queued datagram (up to `maxBytes`), or nil when `deadline` passed first.
    public func receive(maxBytes: Int = UDPSocket.maxPayload, until deadline: UInt64 = 0) throws(XenError) -> Datagram? {
        var bytes = [UInt8](repeating: 0, count: maxBytes)
        var from = gk_udp_datagram()
        let rc = bytes.withUnsafeMutableBytes { Int(gk_udp_recv(port, $0.baseAddress, $0.count, &from, deadline)) }
        if rc == -Int(XEN_ETIMEDOUT) { return nil }
        let n = try XenError.check(rc)
        bytes.removeLast(bytes.count - n)
        return Datagram(source: from.source, destination: from.destination, payload: bytes)
    }

    /// Frees the port (datagrams still queued for it are dropped).
    public func close() throws(XenError) {
        _ = try XenError.check(Int(gk_udp_unbind(port)))
    }
}

extension gk_udp_datagram {
    /// Where it came from.
    public var source: UDPSocket.Endpoint { UDPSocket.Endpoint(IPv4Address(rawValue: src_ip), port: src_port) }
    /// Where it went.
    public var destination: UDPSocket.Endpoint { UDPSocket.Endpoint(IPv4Address(rawValue: dst_ip), port: dst_port) }
    /// Its bytes, inside a handler (empty once `data` is NULL, as after `gk_udp_recv`).
    public var payload: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : len) }
}
