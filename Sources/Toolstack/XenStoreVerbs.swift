import Foundation

/// xenstore-ls, -read, -write, -rm: Dom0's store, as the xenstore tools show it. Relative paths are
/// Dom0's (/local/domain/0/…), as for Dom0's own tools.
extension ControlVerbs {
    static let xenStoreVerbs: [ControlVerb] = [
        ControlVerb("xenstore-ls", "[PATH]", "The XenStore tree under PATH (default /) with values, as xenstore-ls.",
                    flags: ["-p"], positional: 0...1) { call throws(VerbFailure) in
            let root = storePath(call.positional.first ?? "/")
            struct Node: Encodable { let path: String; let value: String; let permissions: String? }
            var nodes: [Node] = []
            var lines: [String] = []
            let store = call.manager.toolstack.services.store
            func visit(_ path: String, depth: Int) throws(VerbFailure) {
                for child in try directory(store, path).sorted() {
                    let full = path == "/" ? "/" + child : path + "/" + child
                    let value = (try? store.read(full)).map { String(decoding: $0, as: UTF8.self) } ?? ""
                    let perms = call.has("-p") ? (try? store.permissions(full))?.map(\.description).joined(separator: ",") : nil
                    nodes.append(Node(path: full, value: value, permissions: perms))
                    lines.append(String(repeating: " ", count: depth) + child + " = \"" + escaped(value) + "\"" + (perms.map { "  (\($0))" } ?? ""))
                    try visit(full, depth: depth + 1)
                }
            }
            try visit(root, depth: 0)
            return call.reply(lines.joined(separator: "\n"), nodes)
        },
        ControlVerb("xenstore-read", "PATH…", "The values of XenStore nodes.", positional: 1...64) { call throws(VerbFailure) in
            var values: [String] = []
            for p in call.positional {
                do { values.append(String(decoding: try call.manager.toolstack.services.store.read(storePath(p)), as: UTF8.self)) } catch {
                    throw VerbFailure("\(storePath(p)): \(error)")
                }
            }
            return call.reply(values.joined(separator: "\n"), Dictionary(zip(call.positional.map(storePath), values), uniquingKeysWith: { $1 }))
        },
        ControlVerb("xenstore-write", "PATH VALUE [PATH VALUE]…", "Write XenStore nodes (as Dom0; watches fire).", positional: 2...64) { call throws(VerbFailure) in
            guard call.positional.count % 2 == 0 else { throw .usage(call.verb, "give PATH VALUE pairs") }
            var written: [String: String] = [:]
            for i in stride(from: 0, to: call.positional.count, by: 2) {
                let path = storePath(call.positional[i])
                do { try call.manager.toolstack.services.store.write(path, call.positional[i + 1]) } catch { throw VerbFailure("\(path): \(error)") }
                written[path] = call.positional[i + 1]
            }
            return call.reply("", written)
        },
        ControlVerb("xenstore-rm", "PATH…", "Remove XenStore nodes and everything under them.", positional: 1...64) { call throws(VerbFailure) in
            for p in call.positional {
                do { try call.manager.toolstack.services.store.rm(storePath(p)) } catch { throw VerbFailure("\(storePath(p)): \(error)") }
            }
            return call.reply("", ["removed": call.positional.map(storePath)])
        },
    ]

    /// The children of a node, or why not.
    static func directory(_ store: XenStore, _ path: String) throws(VerbFailure) -> [String] {
        do { return try store.directory(path) } catch { throw VerbFailure("\(path): \(error)") }
    }

    /// An absolute store path: relative ones are Dom0's home, /local/domain/0.
    static func storePath(_ p: String) -> String {
        p.hasPrefix("/") ? (p.count > 1 && p.hasSuffix("/") ? String(p.dropLast()) : p) : "/local/domain/0/" + p
    }

    /// Non-printable bytes as \xNN, quotes and backslashes escaped, as xenstore-ls prints values.
    static func escaped(_ s: String) -> String {
        s.unicodeScalars.map { c in
            switch c {
            case "\"": "\\\""
            case "\\": "\\\\"
            case _ where c.value < 0x20 || c.value == 0x7f: String(format: "\\x%02x", c.value)
            default: String(c)
            }
        }.joined()
    }
}
