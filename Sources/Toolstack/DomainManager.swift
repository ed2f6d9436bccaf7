import Foundation
import HyperABI
import Hypervisor
import Synchronization

/// What the toolstack does when a domain stops by itself: xl's on_poweroff, on_reboot, on_crash, on_watchdog.
public struct LifecyclePolicy: Sendable, Equatable, Codable {
    public var onPoweroff: LifecycleAction = .destroy
    public var onReboot: LifecycleAction = .restart
    public var onCrash: LifecycleAction = .destroy
    public var onWatchdog: LifecycleAction = .destroy
    public init(onPoweroff: LifecycleAction = .destroy, onReboot: LifecycleAction = .restart, onCrash: LifecycleAction = .destroy,
                onWatchdog: LifecycleAction = .destroy) {
        self.onPoweroff = onPoweroff; self.onReboot = onReboot; self.onCrash = onCrash; self.onWatchdog = onWatchdog
    }
}

/// A domain that stopped, kept for `list -l`, `console` and `dmesg` after its memory is gone.
public struct EndedDomain: Sendable {
    public var id: UInt16
    public var name: String
    /// "shutdown (poweroff)", "crashed", "destroyed" …
    public var state: String
    /// One line: why it ended (the crash summary, the shutdown reason, or who destroyed it).
    public var reason: String
    public var consoleLog: [UInt8]
    public var ended: Date
    /// What the toolstack did about it (the lifecycle action taken).
    public var action: String
    /// Shown by plain `list` too (on_* = preserve), until destroyed.
    public var preserved: Bool
}

/// The daemon's view of its domains: builds them from configs, names them, honours their lifecycle
/// actions when they stop, and keeps what is left of those that ended. Everything it does to a domain
/// goes through the toolstack and `DomainControl`.
public final class DomainManager: @unchecked Sendable {
    public let toolstack: Toolstack
    public var log: HypervisorLog { toolstack.log }
    public var control: DomainControl { toolstack.control }
    public let startedAt = Date()

    /// A domain this manager built, with how to rebuild it.
    public struct Managed: Sendable {
        public let domain: Domain
        public let config: DomainConfig
        public let policy: LifecyclePolicy
        public let created: Date
        /// Monotonic times of recent automatic restarts of this name (to stop a restart loop).
        var restarts: [Date]
    }
    private let live = Mutex<[UInt16: Managed]>([:])
    /// Domains destroyed from Dom0: their end is not a lifecycle event.
    private let destroying = Mutex<Set<ObjectIdentifier>>([])
    private let endedList = Mutex<[EndedDomain]>([])
    /// `top`'s previous counters, per domain.
    let previousTop = Mutex<[UInt16: TopCounters]>([:])
    /// Ended domains kept at most.
    public static let endedKept = 64
    /// More automatic restarts than this within a minute stops restarting (as a crash loop would never end).
    public static let restartLimit = 10

    public init(toolstack: Toolstack) { self.toolstack = toolstack }

    /// Domains running (or paused) now, by id.
    public var domains: [Managed] { live.withLock { Array($0.values) }.sorted { $0.domain.id < $1.domain.id } }

    /// Domains that ended, newest last.
    public var ended: [EndedDomain] { endedList.withLock { $0 } }

    /// A live domain by id or name.
    public func find(_ text: String) -> Managed? {
        let all = domains
        if let id = UInt16(text), let m = all.first(where: { $0.domain.id == id }) { return m }
        return all.first { $0.domain.name == text }
    }

    /// An ended domain by id or name (the newest of that name).
    public func findEnded(_ text: String) -> EndedDomain? {
        ended.last { String($0.id) == text || $0.name == text }
    }

    /// Builds and starts a domain; it is watched for its end from then on.
    @discardableResult
    public func create(_ config: DomainConfig, policy: LifecyclePolicy = LifecyclePolicy(), restarts: [Date] = []) throws(ToolstackError) -> Domain {
        if domains.contains(where: { $0.domain.name == config.name }) {
            throw .invalid(object: "domain \"\(config.name)\"", problem: "a domain of that name is already running; pick another name")
        }
        let d = try toolstack.create(config)
        try adopt(d, config: config, policy: policy, restarts: restarts) { () throws(ToolstackError) in try toolstack.start(d) }
        log.add("\(d.label): created (\(config.memoryBytes >> 20) MiB, \(config.vcpus) vcpu\(config.vcpus == 1 ? "" : "s"), \(config.kernel))")
        return d
    }

    /// Takes a built domain under management, starts it with `start` and watches for its end; a start
    /// that fails destroys it.
    func adopt(_ d: Domain, config: DomainConfig, policy: LifecyclePolicy, restarts: [Date] = [],
               start: () throws(ToolstackError) -> Void) throws(ToolstackError) {
        let m = Managed(domain: d, config: config, policy: policy, created: Date(), restarts: restarts)
        live.withLock { $0[d.id] = m }
        do {
            try start()
        } catch {
            _ = live.withLock { $0.removeValue(forKey: d.id) }
            toolstack.destroy(d)
            throw error
        }
        let thread = Thread { [weak self] in
            d.waitUntilFinished()
            self?.domainEnded(m)
        }
        thread.name = "watch-\(d.id)"
        thread.stackSize = 256 << 10
        thread.start()
    }

    /// Marks a domain as being ended by Dom0 (no lifecycle action follows) and ends it.
    func destroyQuietly(_ d: Domain) {
        _ = destroying.withLock { $0.insert(ObjectIdentifier(d)) }
        toolstack.destroy(d)
        d.waitUntilFinished()
    }

    /// Ends a domain now and waits until its memory is back (xl destroy). An ended domain's record is dropped.
    public func destroy(_ text: String) throws(ToolstackError) -> String {
        if let m = find(text) {
            destroyQuietly(m.domain)
            return "destroyed \(m.domain.label)"
        }
        let removed = endedList.withLock { list -> EndedDomain? in
            guard let i = list.lastIndex(where: { (String($0.id) == text || $0.name == text) && $0.preserved }) else { return nil }
            return list.remove(at: i)
        }
        guard let removed else { throw .invalid(object: "domain \"\(text)\"", problem: "no such domain (see hv list)") }
        return "removed the preserved record of domain \(removed.id) (\(removed.name))"
    }

    /// The one-line reason a domain ended.
    private static func reason(_ d: Domain, destroyedByDom0: Bool) -> String {
        if let crash = d.crashReport { return crash.summary }
        switch d.state {
        case .shutdown(let r): return "the guest shut down (SCHEDOP_shutdown, reason \(r))"
        case .crashed(let why): return why
        case .destroyed: return destroyedByDom0 ? "destroyed from Dom0" : "destroyed"
        default: return "\(d.state)"
        }
    }

    /// A watched domain finished: keep what is left of it, log why, and apply its lifecycle action.
    private func domainEnded(_ m: Managed) {
        let d = m.domain
        let byDom0 = destroying.withLock { $0.remove(ObjectIdentifier(d)) != nil }
        _ = live.withLock { $0.removeValue(forKey: d.id) }
        let action: LifecycleAction?
        switch d.state {
        case .shutdown(.poweroff): action = m.policy.onPoweroff
        case .shutdown(.reboot): action = m.policy.onReboot
        case .shutdown(.crash), .crashed: action = m.policy.onCrash
        case .shutdown(.watchdog): action = m.policy.onWatchdog
        default: action = nil               // destroyed from Dom0, or suspended for a save
        }
        let why = Self.reason(d, destroyedByDom0: byDom0)
        var record = EndedDomain(id: d.id, name: d.name, state: "\(d.state)", reason: why, consoleLog: d.console.log,
                                 ended: Date(), action: action?.rawValue ?? "none", preserved: false)
        let crashed: Bool = { if case .crashed = d.state { return true }; return d.state == .shutdown(.crash) }()
        log.add("\(d.label): \(d.state): \(why)" + (action.map { "; on_\(Self.event(d.state)) = \($0.rawValue)" } ?? ""),
                level: crashed ? "error" : "info")
        var restart = false
        switch action {
        case .preserve?, .renameRestart?:
            record.preserved = true
            restart = action == .renameRestart
        case .restart?, .coredumpRestart?, .softReset?:
            restart = true
        default:
            break
        }
        endedList.withLock { list in
            list.append(record)
            if list.count > Self.endedKept, let i = list.firstIndex(where: { !$0.preserved }) { list.remove(at: i) }
        }
        guard restart else { return }
        let recent = (m.restarts + [Date()]).filter { $0.timeIntervalSinceNow > -60 }
        guard recent.count <= Self.restartLimit else {
            log.add("\(d.label): restarted \(recent.count - 1) times within a minute: not restarting it again", level: "error")
            return
        }
        do {
            let next = try create(m.config, policy: m.policy, restarts: recent)
            log.add("\(d.label): restarted as \(next.label)")
        } catch {
            log.add("\(d.label): could not restart: \(error)", level: "error")
        }
    }

    private static func event(_ state: DomainState) -> String {
        switch state {
        case .shutdown(.poweroff): "poweroff"
        case .shutdown(.reboot): "reboot"
        case .shutdown(.watchdog): "watchdog"
        default: "crash"
        }
    }

    /// Asks the guest to stop (xl shutdown/reboot): `control/shutdown` in its XenStore directory.
    public func requestShutdown(_ m: Managed, reason: String) throws(ToolstackError) {
        do {
            try toolstack.services.store.write("/local/domain/\(m.domain.id)/control/shutdown", reason)
        } catch {
            throw .invalid(object: m.domain.label, problem: "cannot write control/shutdown: \(error)")
        }
        log.add("\(m.domain.label): asked to \(reason) (control/shutdown)")
    }
}
