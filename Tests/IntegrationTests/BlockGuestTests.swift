import Foundation
import Glibc
import Hypervisor
import Testing
import Toolstack

extension KVMIntegration {
    /// The block back-end with a real front-end: `blk-selftest` writes a pattern across a disk image,
    /// flushes and reads it back; the test checks the image file itself, also after a `kill -9` of `hv`.
    @Suite
    struct BlockGuestTests {
        /// A sparse image of `bytes`, removed by the caller.
        func image(_ bytes: Int) throws -> String {
            let path = NSTemporaryDirectory() + "blk-\(UUID().uuidString).img"
            guard FileManager.default.createFile(atPath: path, contents: nil), truncate(path, off_t(bytes)) == 0 else {
                throw CocoaError(.fileWriteUnknown)
            }
            return path
        }

        /// FNV-1a 64 over the file's bytes, as blk-selftest computes its checksum.
        func checksum(_ path: String) throws -> String {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for b in data { h ^= UInt64(b); h = h &* 0x100_0000_01b3 }
            return String(format: "%016llx", h)
        }

        func printed(_ text: String, after marker: String) -> String? {
            guard let line = text.split(separator: "\n").first(where: { $0.contains(marker) }) else { return nil }
            return line.split(separator: " ").last.map(String.init)
        }

        func selftest(_ toolstack: Toolstack, disk: DiskSpec, cmdline: String = "") throws -> Domain {
            let d = try toolstack.create(DomainConfig(name: "blk-selftest", kernel: try imagePath("blk-selftest"), memoryBytes: 32 << 20,
                                                      cmdline: cmdline, disks: [disk]))
            try toolstack.start(d)
            d.finish(within: 120, toolstack)
            return d
        }

        @Test func whatTheGuestWroteIsInTheImageFileAndReadsBackReadOnly() throws {
            let path = try image(16 << 20)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let toolstack = try makeToolstack()
            let rw = try selftest(toolstack, disk: DiskSpec(path: path, writable: true))
            try Expectation(image: "blk-selftest").check(rw)
            let written = printed(rw.console.text, after: "read back")
            let inFile = try checksum(path)
            #expect(written != nil && written == inFile, "\(rw.console.text)")
            let ro = try selftest(toolstack, disk: DiskSpec(path: path, writable: false))
            #expect(ro.state == .shutdown(.poweroff), "\(ro.console.text)")
            #expect(printed(ro.console.text, after: "blk-selftest: read ") == written)
            #expect(ro.console.text.contains("write to a read-only disk refused ok"))
            #expect(try checksum(path) == written)                       // the read-only run changed nothing
        }

        @Test func dataFlushedByTheGuestSurvivesAKill9OfTheHost() throws {
            let path = try image(8 << 20)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let p = Process()
            p.executableURL = try CommandLineTests().hv
            p.arguments = ["run", "--disk", "file:\(path),xvda,w", "--cmdline", "wait seed=3", "--memory", "32M", try imagePath("blk-selftest")]
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            var text = ""
            let deadline = Date().addingTimeInterval(120)
            while !text.contains("flushed, waiting") && Date() < deadline && p.isRunning {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { usleep(10_000) } else { text += String(decoding: chunk, as: UTF8.self) }
            }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            #expect(text.contains("flushed, waiting"), "\(text)")
            let expected = printed(text, after: "checksum of the data written")
            let inFile = try checksum(path)
            #expect(expected != nil && expected == inFile, "\(text)")
        }
    }
}
