import Foundation
import Glibc
import Hypervisor

/// `hv bench blk`: sequential reads and writes by a guest through the block back-end (`blk-selftest`,
/// 2 MiB calls, the front-end keeping up to 32 requests in flight) against the host reading and writing an
/// image file of the same size in the same 2 MiB pieces; then random 4 KiB writes and reads, one request at
/// a time, against the host's pwrite / pread of the same blocks in the same order; all in the same run.
extension Benchmarks {
    /// The sequential figures, then the random 4 KiB ones, each on a fresh image of `bytes`.
    public func block(selftest: String, bytes: Int = 256 << 20, randomOps: Int = 8192) throws -> [BenchFigure] {
        try blockSequential(selftest: selftest, bytes: bytes) + blockRandom(selftest: selftest, bytes: bytes, ops: randomOps)
    }

    /// `blk-selftest` in its checksum mode over the whole image (write, flush, read back), against the host.
    func blockSequential(selftest: String, bytes: Int) throws -> [BenchFigure] {
        let (guestImage, hostImage) = try Self.imagePair("bench-blk", bytes: bytes)
        defer { unlink(guestImage); unlink(hostImage) }
        let line = try selftestLine(selftest, image: guestImage, cmdline: "", marker: "MiB/s, read")
        guard let write = Benchmarks.number(line, before: " MiB/s,"), let read = Benchmarks.number(line, before: " MiB/s", last: true) else {
            throw ToolstackError.invalid(object: "blk-selftest", problem: "no figures in \"\(line)\"")
        }
        let (hostWrite, hostRead) = try Benchmarks.hostSequential(path: hostImage, bytes: bytes, chunk: 2 << 20)
        return [
            BenchFigure("blk.seq_write", value: write, unit: "MiB/s", baseline: hostWrite,
                        note: "guest writes \(bytes >> 20) MiB in 2 MiB calls through blkif (guest-timed), vs the host's pwrite of the same pieces to an image file"),
            BenchFigure("blk.seq_read", value: read, unit: "MiB/s", baseline: hostRead,
                        note: "guest reads them back, vs the host's pread (both from the page cache)"),
        ]
    }

    /// `blk-selftest mode=random`: `ops` random 4 KiB writes then reads at queue depth 1 on a fresh image of
    /// `bytes`, against the host doing the same blocks in the same order on another fresh image.
    func blockRandom(selftest: String, bytes: Int, ops: Int, seed: UInt64 = 1) throws -> [BenchFigure] {
        let (guestImage, hostImage) = try Self.imagePair("bench-blk-rand", bytes: bytes)
        defer { unlink(guestImage); unlink(hostImage) }
        let line = try selftestLine(selftest, image: guestImage, cmdline: "mode=random ops=\(ops) seed=\(seed)", marker: "random 4 KiB x")
        guard let write = Benchmarks.number(line, before: " IOPS,"), let read = Benchmarks.number(line, before: " IOPS (") else {
            throw ToolstackError.invalid(object: "blk-selftest", problem: "no figures in \"\(line)\"")
        }
        let host = try Benchmarks.hostRandom(path: hostImage, bytes: bytes, ops: ops, seed: seed)
        return [
            BenchFigure("blk.rand_write_4k", value: write, unit: "IOPS", baseline: host.write,
                        note: "guest writes \(ops) random 4 KiB blocks of \(bytes >> 20) MiB through blkif, one request in flight (guest-timed), vs the host's pwrite of the same blocks"),
            BenchFigure("blk.rand_read_4k", value: read, unit: "IOPS", baseline: host.read,
                        note: "guest reads them back in the same order, each checked, vs the host's pread (both from the page cache)"),
        ]
    }

    /// Two fresh sparse images of `bytes`, the guest's and the host's (the caller removes them).
    static func imagePair(_ prefix: String, bytes: Int) throws -> (guest: String, host: String) {
        let dir = NSTemporaryDirectory()
        let pair = (dir + "\(prefix)-\(getpid()).img", dir + "\(prefix)-host-\(getpid()).img")
        for path in [pair.0, pair.1] {
            guard FileManager.default.createFile(atPath: path, contents: nil), truncate(path, off_t(bytes)) == 0 else {
                unlink(pair.0); unlink(pair.1)
                throw ToolstackError.invalid(object: path, problem: "cannot create a \(bytes >> 20) MiB image")
            }
        }
        return pair
    }

    /// Runs `blk-selftest` with `cmdline` on `image` until it powers off; its console line containing `marker`.
    func selftestLine(_ selftest: String, image: String, cmdline: String, marker: String) throws -> Substring {
        let d = try toolstack.create(DomainConfig(name: "blk-selftest", kernel: selftest, memoryBytes: 32 << 20, cmdline: cmdline,
                                                  disks: [DiskSpec(path: image)]))
        try toolstack.start(d)
        if !d.waitUntilFinished(seconds: 300) { toolstack.destroy(d); d.waitUntilFinished() }
        guard d.state == .shutdown(.poweroff), let line = Benchmarks.line(d, containing: marker) else {
            throw ToolstackError.invalid(object: d.label, problem: "blk-selftest \(cmdline) ended as \(d.state): \(d.console.text.suffix(400))")
        }
        return line
    }

    /// The host's side of `mode=random`: the guest's block sequence (splitmix64 from seed × golden gamma,
    /// modulo the blocks), each block tagged as the guest tags it, written then read one call at a time.
    static func hostRandom(path: String, bytes: Int, ops: Int, seed: UInt64) throws -> (write: Double, read: Double) {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw ToolstackError.invalid(object: path, problem: "cannot open") }
        defer { close(fd) }
        let gamma: UInt64 = 0x9e37_79b9_7f4a_7c15
        let blocks = UInt64(bytes / 4096)
        func sequence() -> [UInt64] {
            var state = seed &* gamma
            return (0..<ops).map { _ in
                state &+= gamma
                var z = state
                z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
                z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
                return (z ^ (z >> 31)) % blocks
            }
        }
        let order = sequence()                  // drawn before the clock starts (the guest draws as it goes: a few ns)
        var block = [UInt8](repeating: 0x5a, count: 4096)
        let t0 = monotonicNanos()
        for b in order {
            let ok = block.withUnsafeMutableBytes { p -> Bool in
                p.storeBytes(of: b.littleEndian, toByteOffset: 0, as: UInt64.self)
                p.storeBytes(of: (~b).littleEndian, toByteOffset: 8, as: UInt64.self)
                return pwrite(fd, p.baseAddress, 4096, off_t(b * 4096)) == 4096
            }
            guard ok else { throw ToolstackError.invalid(object: path, problem: "pwrite failed") }
        }
        let writeNs = monotonicNanos() - t0
        let t1 = monotonicNanos()
        for b in order {
            let ok = block.withUnsafeMutableBytes { p -> Bool in
                pread(fd, p.baseAddress, 4096, off_t(b * 4096)) == 4096
                    && p.load(fromByteOffset: 0, as: UInt64.self) == b.littleEndian && p[4095] == 0x5a
            }
            guard ok else { throw ToolstackError.invalid(object: path, problem: "pread failed or read back other data") }
        }
        let readNs = monotonicNanos() - t1
        return (Double(ops) / (Double(max(writeNs, 1)) / 1e9), Double(ops) / (Double(max(readNs, 1)) / 1e9))
    }

    /// The host writing then reading `bytes` of `path` in `chunk`-byte pieces (syscall time only, as the guest's).
    static func hostSequential(path: String, bytes: Int, chunk: Int) throws -> (write: Double, read: Double) {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw ToolstackError.invalid(object: path, problem: "cannot open") }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0x5a, count: chunk)
        var writeNs: UInt64 = 0, readNs: UInt64 = 0
        for offset in stride(from: 0, to: bytes, by: chunk) {
            let t0 = monotonicNanos()
            guard buffer.withUnsafeBytes({ pwrite(fd, $0.baseAddress, chunk, off_t(offset)) }) == chunk else {
                throw ToolstackError.invalid(object: path, problem: "pwrite failed")
            }
            writeNs += monotonicNanos() - t0
        }
        for offset in stride(from: 0, to: bytes, by: chunk) {
            let t0 = monotonicNanos()
            guard buffer.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, chunk, off_t(offset)) }) == chunk else {
                throw ToolstackError.invalid(object: path, problem: "pread failed")
            }
            readNs += monotonicNanos() - t0
        }
        let mib = Double(bytes) / 1_048_576
        return (mib / (Double(writeNs) / 1e9), mib / (Double(readNs) / 1e9))
    }
}
