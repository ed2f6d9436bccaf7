// NetworkInterface.swift - a vif through GuestKit's C network front end
// (netfront.h: Xen's netif on two one-page rings, Linux netfront's xenbus
// handshake): whole Ethernet frames in and out. IPv4.swift is the stack
// on top. Single vCPU, not from event or trap handlers, as in C.

import CGuestKit

/// A 48-bit Ethernet address.
public struct MACAddress: Equatable {
    /// The six bytes, in wire order.
    public let bytes: [UInt8]

    /// `bytes` must be six long (anything else is cut or padded with zeros).
    public init(_ bytes: [UInt8]) {
        var b = Array(bytes.prefix(6))
        while b.count < 6 { b.append(0) }
        self.bytes = b
    }

    /// ff:ff:ff:ff:ff:ff.
    public static var broadcast: MACAddress { MACAddress([UInt8](repeating: 0xff, count: 6)) }

    /// "xx:xx:xx:xx:xx:xx" (either case) up to a space or the end (`gk_mac_parse`).
    public init?(parsing text: [UInt8]) {
        var mac = [UInt8](repeating: 0, count: 6)
        let rc = XenStore.withCString(text) { s in mac.withUnsafeMutableBufferPointer { gk_mac_parse(s, $0.baseAddress) } }
        if rc != 0 { return nil }
        self.bytes = mac
    }

    /// The lower-case colon form, e.g. "00:16:3e:00:00:01" (`gk_mac_format`).
    public var formatted: [UInt8] {
        var text = [UInt8](repeating: 0, count: Int(GK_MAC_STR))
        text.withUnsafeMutableBufferPointer { t in
            bytes.withUnsafeBufferPointer { m in
                _ = gk_mac_format(m.baseAddress, UnsafeMutableRawPointer(t.baseAddress!).assumingMemoryBound(to: CChar.self))
            }
        }
        return text.withUnsafeBytes { Xen.untilNUL($0) }
    }
}

/// The vif (a `struct gk_net *` of netfront.h; one open at a time). A plain
/// handle, like `EventChannel`: copies name the same vif, none may be used after `close()`.
public struct NetworkInterface {
    /// What the handshake found (`struct gk_net_info`).
    public struct Info {
        /// The vif's number (device/vif/<handle>).
        public var handle: UInt32
        /// `backend-id`: the domain serving the vif.
        public var backendDomain: UInt16
        public var mac: MACAddress
        /// What was published: the two rings' grant refs and the event channel (one for both).
        public var txRingRef: UInt32
        public var rxRingRef: UInt32
        public var port: UInt32
        /// "device/vif/<handle>" (relative to the home) and the back end's absolute directory.
        public var frontend: [UInt8]
        public var backend: [UInt8]
    }

    /// Counters since the open (`struct gk_net_stats`).
    public struct Statistics {
        /// tx requests published, their bytes, their ERROR / DROPPED answers, sends that waited for a page.
        public var txFrames: UInt64
        public var txBytes: UInt64
        public var txErrors: UInt64
        public var txDropped: UInt64
        public var txFull: UInt64
        /// Frames handed over, their bytes, responses skipped, frames cut to the caller's buffer.
        public var rxFrames: UInt64
        public var rxBytes: UInt64
        public var rxErrors: UInt64
        public var rxTruncated: UInt64
        /// EVTCHNOP_sends and blocking waits.
        public var notifications: UInt64
        public var waits: UInt64
    }

    /// The longest frame (14-byte header + 1500, no FCS) and the shortest (a header).
    public static var maxFrameBytes: Int { Int(GK_NET_FRAME_MAX) }
    public static var minFrameBytes: Int { Int(GK_NET_FRAME_MIN) }

    let handle: OpaquePointer

    /// Connects to the first vif (the lowest handle under device/vif); `.ENODEV` without one.
    public static func open() throws(XenError) -> NetworkInterface {
        var dev: OpaquePointer? = nil
        _ = try XenError.check(Int(gk_net_open(&dev)))
        return NetworkInterface(handle: dev!)
    }

    /// What the handshake found.
    public var info: Info {
        let i = gk_net_info(handle)!.pointee
        return Info(handle: i.handle, backendDomain: i.backend_id,
                    mac: MACAddress(withUnsafeBytes(of: i.mac) { Array($0) }),
                    txRingRef: i.tx_ring_ref, rxRingRef: i.rx_ring_ref, port: i.port,
                    frontend: withUnsafeBytes(of: i.frontend) { Xen.untilNUL($0) },
                    backend: withUnsafeBytes(of: i.backend) { Xen.untilNUL($0) })
    }

    /// The vif's MAC address.
    public var mac: MACAddress {
        MACAddress(Array(UnsafeBufferPointer(start: gk_net_mac(handle), count: 6)))
    }

    /// Counters since the open.
    public var statistics: Statistics {
        let s = gk_net_stats(handle)!.pointee
        return Statistics(txFrames: s.tx_frames, txBytes: s.tx_bytes, txErrors: s.tx_errors, txDropped: s.tx_dropped,
                          txFull: s.tx_full, rxFrames: s.rx_frames, rxBytes: s.rx_bytes, rxErrors: s.rx_errors,
                          rxTruncated: s.rx_truncated, notifications: s.notifications, waits: s.waits)
    }

    /// Puts one frame on the tx ring as it is (no padding); "sent" means handed to the back end.
    public func send(frame: UnsafeRawBufferPointer) throws(XenError) {
        _ = try XenError.check(Int(gk_net_send(handle, frame.baseAddress, frame.count)))
    }

    /// Puts one frame on the tx ring.
    public func send(frame: [UInt8]) throws(XenError) {
        let rc = frame.withUnsafeBytes { Int(gk_net_send(handle, $0.baseAddress, $0.count)) }
        _ = try XenError.check(rc)
    }

    /// Waits until the back end has answered every tx request, or until system time `deadline`
    /// (0: GK_NET_TIMEOUT_NS from now); false on timeout (the vif stays usable).
    @discardableResult
    public func flush(until deadline: UInt64 = 0) throws(XenError) -> Bool {
        let rc = Int(gk_net_flush(handle, deadline))
        if rc == -Int(XEN_ETIMEDOUT) { return false }
        _ = try XenError.check(rc)
        return true
    }

    /// The next frame into `buffer`: its length, or nil once system time passes `deadline`
    /// (0: none). A longer frame throws `.EMSGSIZE` (cut to the buffer, consumed).
    public func receive(into buffer: UnsafeMutableRawBufferPointer, until deadline: UInt64 = 0) throws(XenError) -> Int? {
        let rc = Int(gk_net_receive(handle, buffer.baseAddress, buffer.count, deadline))
        if rc == -Int(XEN_ETIMEDOUT) { return nil }
        return try XenError.check(rc)
    }

    /// Disconnects (state Closing, then Closed, every grant ended). The vif is closed even when this throws.
    public func close() throws(XenError) {
        _ = try XenError.check(Int(gk_net_close(handle)))
    }
}
