// Events.swift - event channels and the virtual interrupt flag, over
// GuestKit's C events layer (event_channel_op, shared_info bitmaps, upcalls).

import CGuestKit

/// Virtual interrupts (`VIRQ_*` in <xen/xen.h>).
public enum VIRQ: UInt32 {
    case timer = 0          // per vCPU
    case debug = 1          // per vCPU
    case console = 2
    case domExc = 3
    case tbuf = 4
    case debugger = 6
    case xenoprof = 7       // per vCPU
    case conRing = 8
    case pcpuState = 9
    case memEvent = 10
    case argo = 11
    case enomem = 12
    case xenpmu = 13        // per vCPU
}

/// One local event-channel port.
public struct EventChannel: Equatable {
    /// Called (events masked, must not block) for each event on the port.
    public typealias Handler = @convention(c) (evtchn_port_t) -> Void

    /// What `status()` reports (`EVTCHNSTAT_*`).
    public enum Status: Equatable {
        case closed
        case unbound(remoteDomain: UInt16)
        case interdomain(domain: UInt16, port: evtchn_port_t)
        case pirq(UInt32)
        case virq(UInt32)
        case ipi
        case unknown(UInt32)
    }

    public let port: evtchn_port_t

    public init(port: evtchn_port_t) {
        self.port = port
    }

    /// A port `remoteDomain` may connect to (EVTCHNOP_alloc_unbound).
    public static func allocUnbound(remoteDomain: UInt16) throws(XenError) -> EventChannel {
        try bound(gk_evtchn_alloc_unbound(remoteDomain))
    }

    /// Connects to `remotePort` of `remoteDomain` (EVTCHNOP_bind_interdomain).
    /// The new port starts out pending (`clear()` it if that matters).
    public static func bindInterdomain(remoteDomain: UInt16, remotePort: evtchn_port_t) throws(XenError) -> EventChannel {
        try bound(gk_evtchn_bind_interdomain(remoteDomain, remotePort))
    }

    /// Binds a virtual interrupt on vCPU 0 (EVTCHNOP_bind_virq).
    public static func bindVIRQ(_ virq: VIRQ) throws(XenError) -> EventChannel {
        try bound(gk_evtchn_bind_virq(virq.rawValue))
    }

    /// A port that notifies `vcpu` of this domain (EVTCHNOP_bind_ipi).
    public static func bindIPI(vcpu: UInt32 = 0) throws(XenError) -> EventChannel {
        try bound(gk_evtchn_bind_ipi(vcpu))
    }

    static func bound(_ rc: Int32) throws(XenError) -> EventChannel {
        EventChannel(port: evtchn_port_t(try XenError.check(Int(rc))))
    }

    /// Notifies the other end (EVTCHNOP_send).
    public func send() throws(XenError) {
        _ = try XenError.check(Int(gk_evtchn_send(port)))
    }

    /// Frees the port (EVTCHNOP_close).
    public func close() throws(XenError) {
        _ = try XenError.check(Int(gk_evtchn_close(port)))
    }

    /// Clears the mask bit, re-raising a pending event (EVTCHNOP_unmask).
    public func unmask() throws(XenError) {
        _ = try XenError.check(Int(gk_evtchn_unmask(port)))
    }

    /// Sets the mask bit: events stay pending, no upcall.
    public func mask() {
        gk_evtchn_mask(port)
    }

    /// Forgets any event on the port (pending bit and `wait` flag).
    public func clear() {
        gk_evtchn_clear(port)
    }

    /// Sets the port's handler (nil: none).
    public func setHandler(_ handler: Handler?) {
        gk_evtchn_set_handler(port, handler)
    }

    /// Blocks until an event has arrived on the port since the last wait, or
    /// until system time `deadline` (ns; 0 = none). False on timeout.
    @discardableResult
    public func wait(until deadline: UInt64 = 0) -> Bool {
        gk_evtchn_wait(port, deadline) == 0
    }

    /// Events delivered on the port so far.
    public var deliveries: UInt64 {
        gk_evtchn_count(port)
    }

    /// What the port is bound to (EVTCHNOP_status).
    public func status() throws(XenError) -> Status {
        var st = evtchn_status()
        _ = try XenError.check(Int(gk_evtchn_status(port, &st)))
        switch Int32(bitPattern: st.status) {
        case EVTCHNSTAT_closed: return .closed
        case EVTCHNSTAT_unbound: return .unbound(remoteDomain: st.u.unbound.dom)
        case EVTCHNSTAT_interdomain: return .interdomain(domain: st.u.interdomain.dom, port: st.u.interdomain.port)
        case EVTCHNSTAT_pirq: return .pirq(st.u.pirq)
        case EVTCHNSTAT_virq: return .virq(st.u.virq)
        case EVTCHNSTAT_ipi: return .ipi
        default: return .unknown(st.status)
        }
    }
}

/// The virtual interrupt flag (`vcpu_info.evtchn_upcall_mask`).
public enum Events {
    /// Masks events.
    public static func disable() {
        gk_irq_disable()
    }

    /// Unmasks events, delivering any already pending.
    public static func enable() {
        gk_irq_enable()
    }

    /// Masks events and returns the previous state, for `restore`.
    public static func save() -> UInt32 {
        gk_irq_save()
    }

    /// Puts back what `save` returned.
    public static func restore(_ saved: UInt32) {
        gk_irq_restore(saved)
    }

    /// True while events are masked.
    public static var areMasked: Bool {
        gk_irqs_disabled() != 0
    }
}
