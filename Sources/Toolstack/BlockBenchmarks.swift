import Foundation
import Glibc
import Hypervisor

/// `hv bench blk`: sequential reads and writes by a guest through the block back-end (`blk-selftest`,
/// 2 MiB calls, the front-end keeping up to 32 requests in flight) against the host reading and writing an
/// image file of the same size in the same 2 MiB pieces, in the same run.
extension Benchmarks {
    public func block(selftest: String, bytes: Int = 256 << 20) throws -> [BenchFigure] {
        let dir = NSTemporaryDirectory()
        let guestImage = dir + "bench-blk-\(getpid()).img", hostImage = dir + "bench-blk-host-\(getpid()).img"
        defer { unlink(guestImage); unlink(hostImage) }
        for path in [guestImage, hostImage] {
            guard FileManager.default.createFile(atPath: path, contents: nil), truncate(path, off_t(bytes)) == 0 else {
                throw ToolstackError.invalid(object: path, problem: "cannot create a \(bytes >> 20) MiB image")
            }
        }
        let d = try toolstack.create(DomainConfig(name: "blk-selftest", kernel: selftest, memoryBytes: 32 << 20,
                                                  disks: [DiskSpec(path: guestImage)]))
        try toolstack.start(d)
        if !d.waitUntilFinished(seconds: 300) { toolstack.destroy(d); d.waitUntilFinished() }
        guard d.state == .shutdown(.poweroff), let line = d.console.text.split(separator: "\n").first(where: { $0.contains("MiB/s, read") }),
              let write = Benchmarks.number(line, before: " MiB/s,"), let read = Benchmarks.number(line, before: " MiB/s", last: true) else {
            throw ToolstackError.invalid(object: d.label, problem: "blk-selftest ended as \(d.state): \(d.console.text.suffix(400))")
        }
        let (hostWrite, hostRead) = try Benchmarks.hostSequential(path: hostImage, bytes: bytes, chunk: 2 << 20)
        return [
            BenchFigure("blk.seq_write", value: write, unit: "MiB/s", baseline: hostWrite,
                        note: "guest writes \(bytes >> 20) MiB in 2 MiB calls through blkif (guest-timed), vs the host's pwrite of the same pieces to an image file"),
            BenchFigure("blk.seq_read", value: read, unit: "MiB/s", baseline: hostRead,
                        note: "guest reads them back, vs the host's pread (both from the page cache)"),
        ]
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
