import Foundation
import Glibc
import Hypervisor

/// `hv bench lifecycle`: domains created and destroyed through the daemon's control socket, against the
/// same done directly by the toolstack (no socket, no config file, no manager); and save/restore of a
/// 256 MiB guest against copying a 256 MiB file on the same disk, in the same run.
extension Benchmarks {
    public func lifecycle(idleImage: String, count: Int = 100, saveMiB: Int = 256) throws -> [BenchFigure] {
        let dir = NSTemporaryDirectory() + "hv-bench-lifecycle-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let manager = DomainManager(toolstack: toolstack)
        let socket = dir + "/control.sock"
        let server = try ControlServer(manager: manager, path: socket)
        server.start()
        defer { server.stop() }
        let connection = try ControlConnection(path: socket)
        func call(_ argv: [String]) throws -> ControlReply {
            guard let reply = connection.call(argv) else {
                throw ToolstackError.invalid(object: "control socket", problem: "no reply to \(argv.joined(separator: " "))")
            }
            if let error = reply.error { throw ToolstackError.invalid(object: "hv \(argv[0])", problem: error) }
            return reply
        }
        let memory = 8
        var paths: [String] = []
        for i in 0..<count {
            let path = "\(dir)/idle\(i).cfg"
            try "name = \"idle\(i)\"\nkernel = \"\(idleImage)\"\nmemory = \(memory)\n".write(toFile: path, atomically: false, encoding: .utf8)
            paths.append(path)
        }
        // Through the daemon: one `create` request per domain, answered once its vCPU runs.
        var t0 = monotonicNanos()
        for path in paths { _ = try call(["create", path]) }
        let daemonCreate = Double(count) / (Double(monotonicNanos() - t0) / 1e9)
        t0 = monotonicNanos()
        for i in 0..<count { _ = try call(["destroy", "idle\(i)"]) }
        let daemonDestroy = Double(count) / (Double(monotonicNanos() - t0) / 1e9)

        // Directly: build and start, then destroy and wait, with the same image and memory.
        let config = { (i: Int) in DomainConfig(name: "direct\(i)", kernel: idleImage, memoryBytes: memory << 20) }
        var domains: [Domain] = []
        t0 = monotonicNanos()
        for i in 0..<count {
            let d = try toolstack.create(config(i))
            try toolstack.start(d)
            domains.append(d)
        }
        let directCreate = Double(count) / (Double(monotonicNanos() - t0) / 1e9)
        t0 = monotonicNanos()
        for d in domains { toolstack.destroy(d); d.waitUntilFinished() }
        let directDestroy = Double(count) / (Double(monotonicNanos() - t0) / 1e9)

        // Save and restore of a 256 MiB domain against a 256 MiB file copied with read/write and fsync.
        let big = "\(dir)/big.cfg"
        try "name = \"big\"\nkernel = \"\(idleImage)\"\nmemory = \(saveMiB)\n".write(toFile: big, atomically: false, encoding: .utf8)
        _ = try call(["create", big])
        let file = "\(dir)/big.save"
        t0 = monotonicNanos()
        _ = try call(["save", "big", file])
        let save = Double(monotonicNanos() - t0) / 1e9
        t0 = monotonicNanos()
        _ = try call(["restore", file])
        let restore = Double(monotonicNanos() - t0) / 1e9
        _ = try call(["destroy", "big"])
        // The same bytes: a disk that skips zeros (this VM's does) must favour neither side.
        let copy = try Self.copyFile(from: file, to: "\(dir)/copy.dst")

        return [
            BenchFigure("lifecycle.create_rate", value: daemonCreate, unit: "domains/s", baseline: directCreate,
                        note: "\(count) idle guests (\(memory) MiB) created and running through the daemon's socket from xl.cfg files (target ≥ 100/s), vs the toolstack directly"),
            BenchFigure("lifecycle.destroy_rate", value: daemonDestroy, unit: "domains/s", baseline: directDestroy,
                        note: "destroyed through the daemon, each until its memory is back, vs the toolstack directly"),
            BenchFigure("lifecycle.save_\(saveMiB)M", value: save, unit: "s", baseline: copy,
                        note: "hv save of a \(saveMiB) MiB guest (pause, pages, header, fsync) vs copying that save file on the same disk (read/write, fsync)"),
            BenchFigure("lifecycle.restore_\(saveMiB)M", value: restore, unit: "s", baseline: copy,
                        note: "hv restore of that file into a running domain vs the same file copy"),
        ]
    }

    /// Seconds to copy `source` with 1 MiB reads and writes and a final fsync (the page cache warm, as
    /// the save file's own pages are).
    static func copyFile(from source: String, to dest: String) throws -> Double {
        defer { unlink(dest) }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        let src = open(source, O_RDONLY | O_CLOEXEC)
        guard src >= 0 else { throw ToolstackError.invalid(object: source, problem: "cannot open") }
        defer { close(src) }
        let dst = open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard dst >= 0 else { throw ToolstackError.invalid(object: dest, problem: "cannot create") }
        defer { close(dst) }
        let t0 = monotonicNanos()
        while true {
            let n = chunk.withUnsafeMutableBytes { read(src, $0.baseAddress, $0.count) }
            guard n >= 0 else { throw ToolstackError.invalid(object: source, problem: "read failed") }
            if n == 0 { break }
            guard chunk.withUnsafeBytes({ write(dst, $0.baseAddress, n) }) == n else {
                throw ToolstackError.invalid(object: dest, problem: "copy failed")
            }
        }
        fsync(dst)
        return Double(monotonicNanos() - t0) / 1e9
    }
}
