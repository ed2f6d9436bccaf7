// XenStore node permissions (xenstore.txt "Permissions", xs_lib's `struct xs_permissions`).
//
// A node's list has at least one entry. The first names the owner and the access everyone else gets by
// default; each further entry gives one domain its own access instead. The owner, the domain the owner's
// target is set for (SET_TARGET), and Dom0 always have full access, including the right to change the
// list. An unprivileged domain looks for the first further entry naming it and otherwise gets the default.

/// One entry of a node's permission list: a domain and what it may do ("n5", "r5", "w5", "b5" on the wire).
public struct XenStorePermission: Hashable, Sendable, CustomStringConvertible {
    /// The letter of xs_wire's textual form.
    public enum Access: UInt8, Sendable, CaseIterable {
        case none = 0x6e   // n
        case read = 0x72   // r
        case write = 0x77  // w
        case both = 0x62   // b

        var rights: XenStoreRights {
            switch self {
            case .none: []
            case .read: .read
            case .write: .write
            case .both: [.read, .write]
            }
        }
    }

    public var access: Access
    public var domid: UInt16

    public init(_ access: Access, _ domid: UInt16) {
        self.access = access
        self.domid = domid
    }

    /// The wire's form: the letter, then the domid in decimal.
    public var description: String { String(UnicodeScalar(access.rawValue)) + String(domid) }

    /// Parses "r5" and the like; nil for an unknown letter or a domid that is not plain decimal ≤ 65535
    /// (Xen parses with strtol and base 0; only decimal is accepted here).
    public init?(_ text: some Collection<UInt8>) {
        guard let letter = text.first, let access = Access(rawValue: letter),
              let domid = try? XenStorePayload.domid(text.dropFirst()) else { return nil }
        self.init(access, domid)
    }
}

/// What a caller may do to a node: xenstored's XS_PERM_READ, XS_PERM_WRITE and XS_PERM_OWNER.
struct XenStoreRights: OptionSet, Sendable {
    let rawValue: UInt8
    static let read = XenStoreRights(rawValue: 1)
    static let write = XenStoreRights(rawValue: 2)
    /// May change the permission list (owner, its target's controller, Dom0).
    static let owner = XenStoreRights(rawValue: 4)
    static let all: XenStoreRights = [.read, .write, .owner]

    /// The rights of `domid` (controlling `target`, if SET_TARGET gave it one) over a node with `perms`.
    static func of(_ domid: UInt16, target: UInt16?, in perms: [XenStorePermission]) -> XenStoreRights {
        if domid == XenStore.dom0 { return .all }
        guard let first = perms.first else { return [] }
        if first.domid == domid || (target != nil && first.domid == target) { return .all }
        for entry in perms.dropFirst() where entry.domid == domid || (target != nil && entry.domid == target) {
            return entry.access.rights
        }
        return first.access.rights
    }
}
