import HyperABI

extension Domain {
    /// `event_channel_op(cmd, arg)` (hypercall 32): Xen's 2-level event channels.
    func eventChannelOp(_ vcpu: VCPU, command: UInt64, argument arg: UInt64) throws(XenErrno) -> UInt64 {
        let space = vcpu.addressSpace
        switch EventChannelCommand(rawValue: command) {
        case .allocUnbound:
            let dom = try space.load(UInt16.self, at: arg)
            var remote = try space.load(UInt16.self, at: arg + 2)
            guard dom == DomainID.this || dom == id else { throw .EPERM }      // only for itself
            if remote == DomainID.this { remote = id }
            try space.checkWritable(arg + 4, count: 4)
            let port = try events.withLock { (t) throws(XenErrno) in try t.allocate(.unbound(remote: remote)) }
            try space.store(port, at: arg + 4)
        case .bindInterdomain:
            var remoteDom = try space.load(UInt16.self, at: arg)
            let remotePort = try space.load(UInt32.self, at: arg + 4)
            try space.checkWritable(arg + 8, count: 4)
            if remoteDom == DomainID.this { remoteDom = id }
            let port = try bindInterdomain(remoteDom, remotePort)
            try space.store(port, at: arg + 8)
        case .bindVIRQ:
            let raw = try space.load(UInt32.self, at: arg)
            let target = Int(try space.load(UInt32.self, at: arg + 4))
            try space.checkWritable(arg + 8, count: 4)
            guard let virq = VIRQ(rawValue: raw) else { throw .EINVAL }
            guard virq != .domExc else { throw .EPERM }                        // the control domain's
            guard target < vcpus.count else { throw .ENOENT }
            guard virq.isPerVCPU || target == 0 else { throw .EINVAL }           // global VIRQs bind on vCPU 0
            let port = try events.withLock { (t) throws(XenErrno) -> UInt32 in
                let key = PortTable.virqKey(virq, target)
                guard t.virqPorts[key] == nil else { throw .EEXIST }
                let p = try t.allocate(.virq(virq, vcpu: target), notify: target)
                t.virqPorts[key] = p
                return p
            }
            try space.store(port, at: arg + 8)
        case .bindIPI:
            let target = Int(try space.load(UInt32.self, at: arg))
            try space.checkWritable(arg + 4, count: 4)
            guard target < vcpus.count else { throw .ENOENT }
            let port = try events.withLock { (t) throws(XenErrno) in try t.allocate(.ipi(vcpu: target), notify: target) }
            try space.store(port, at: arg + 4)
        case .close:
            try closePort(try space.load(UInt32.self, at: arg))
        case .send:
            try send(try space.load(UInt32.self, at: arg))
        case .status:
            let dom = try space.load(UInt16.self, at: arg)
            let port = try space.load(UInt32.self, at: arg + 4)
            guard dom == DomainID.this || dom == id else { throw .EPERM }
            try space.checkWritable(arg + 8, count: 16)
            let (binding, notify) = try events.withLock { (t) throws(XenErrno) -> (PortBinding, Int) in
                guard port < UInt32(EventChannelLayout.maxPorts) else { throw .EINVAL }
                return (t.binding(port) ?? .free, Int(port) < t.notify.count ? t.notify[Int(port)] : 0)
            }
            var status = EventChannelStatus.closed, word16: UInt16 = 0, word32: UInt32 = 0
            switch binding {
            case .free: break
            case .unbound(let remote): status = .unbound; word16 = remote
            case .interdomain(let d, let p): status = .interdomain; word16 = d; word32 = p
            case .virq(let v, _): status = .virq; word32 = v.rawValue
            case .ipi: status = .ipi
            }
            try space.store(status.rawValue, at: arg + 8)
            try space.store(UInt32(notify), at: arg + 12)
            if status == .virq { try space.store(word32, at: arg + 16) } else { try space.store(word16, at: arg + 16) }
            if status == .interdomain { try space.store(word32, at: arg + 20) }
        case .bindVCPU:
            let port = try space.load(UInt32.self, at: arg)
            let target = Int(try space.load(UInt32.self, at: arg + 4))
            guard target < vcpus.count else { throw .ENOENT }
            try events.withLock { (t) throws(XenErrno) in
                switch t.binding(port) {
                case .unbound?, .interdomain?: break
                case .virq(let v, _)? where !v.isPerVCPU: break
                default: throw .EINVAL                                           // per-vCPU VIRQs and IPIs stay put
                }
                t.notify[Int(port)] = target
            }
        case .unmask:
            try unmask(try space.load(UInt32.self, at: arg))
        case .reset:
            let dom = try space.load(UInt16.self, at: arg)
            guard dom == DomainID.this || dom == id else { throw .EPERM }
            closeAllPorts()
        case .bindPIRQ:
            throw .EPERM                                                          // no physical IRQs are given to domains
        case .initControl, .expandArray, .setPriority, nil:
            throw .ENOSYS                                                         // FIFO ABI: not provided
        }
        return 0
    }

    /// EVTCHNOP_send: interdomain → the peer's port; IPI → our own port; unbound → dropped; else -EINVAL.
    func send(_ port: UInt32) throws(XenErrno) {
        let (binding, notify) = try events.withLock { (t) throws(XenErrno) -> (PortBinding, Int) in
            guard let b = t.binding(port), b != .free else { throw .EINVAL }
            return (b, t.notify[Int(port)])
        }
        switch binding {
        case .interdomain(DomainID.dom0, let remotePort):
            hypervisor?.signalDom0(remotePort, from: id)
        case .interdomain(let remoteDom, let remotePort):
            guard let peer = hypervisor?.liveDomain(remoteDom) else { return }
            let target = peer.events.withLock { t -> Int? in
                guard case .interdomain(id, port) = t.binding(remotePort) else { return nil }
                return t.notify[Int(remotePort)]
            }
            if let target { peer.setPending(remotePort, notify: target) }
        case .ipi:
            setPending(port, notify: notify)
        case .unbound:
            return
        case .virq, .free:
            throw .EINVAL
        }
    }

    /// Binds a new local port to `remotePort` of `remoteDom`, which must be unbound and offered to us.
    func bindInterdomain(_ remoteDom: UInt16, _ remotePort: UInt32) throws(XenErrno) -> UInt32 {
        guard let peer = remoteDom == id ? self : hypervisor?.liveDomain(remoteDom), !peer.state.isFinal else { throw .ESRCH }
        // Lock order: lower domain id first, so two domains binding to each other cannot deadlock.
        let port: UInt32
        if peer === self {
            port = try events.withLock { (t) throws(XenErrno) -> UInt32 in
                guard case .unbound(let offered)? = t.binding(remotePort), offered == id else { throw .EINVAL }
                let p = try t.allocate(.interdomain(remoteDomain: id, remotePort: remotePort))
                t.ports[Int(remotePort)] = .interdomain(remoteDomain: id, remotePort: p)
                return p
            }
        } else {
            let (first, second) = id < peer.id ? (self, peer) : (peer, self)
            port = try first.events.withLock { (a) throws(XenErrno) -> UInt32 in
                try second.events.withLock { (b) throws(XenErrno) -> UInt32 in
                    func bind(_ mine: inout PortTable, _ theirs: inout PortTable) throws(XenErrno) -> UInt32 {
                        guard case .unbound(let offered)? = theirs.binding(remotePort), offered == id else { throw .EINVAL }
                        let p = try mine.allocate(.interdomain(remoteDomain: remoteDom, remotePort: remotePort))
                        theirs.ports[Int(remotePort)] = .interdomain(remoteDomain: id, remotePort: p)
                        return p
                    }
                    return first === self ? try bind(&a, &b) : try bind(&b, &a)
                }
            }
        }
        // Xen sets the new local port pending, so the binder looks at the channel at least once.
        setPending(port, notify: 0)
        return port
    }

    /// EVTCHNOP_unmask: clears the mask bit and re-raises the upcall if the port is pending (2-level rules).
    func unmask(_ port: UInt32) throws(XenErrno) {
        let notify = try events.withLock { (t) throws(XenErrno) -> Int in
            guard t.binding(port) != nil else { throw .EINVAL }
            return t.notify[Int(port)]
        }
        let word = Int(port / 64) * 8, bit = Int(port % 64)
        if memory.testAndClearBit(mfn: sharedInfoMFN, offset: SharedInfoLayout.evtchnMask + word, bit: bit),
           memory.testBit(mfn: sharedInfoMFN, offset: SharedInfoLayout.evtchnPending + word, bit: bit) {
            let v = vcpus[min(notify, vcpus.count - 1)]
            let info = v.vcpuInfo
            if !memory.testAndSetBit(mfn: info.mfn, offset: info.offset + VCPUInfoLayout.pendingSel, bit: Int(port / 64)) {
                markUpcallPending(v)
            }
        }
    }
}
