import Foundation
import Glibc
import Hypervisor
import Testing
import Toolstack

extension KVMIntegration {
    /// GuestKit's Swift block and network bindings with the real back ends: `io-swift` writes a pattern
    /// through `BlockDevice` (the test reads it in the image file) and answers a C `net-ping` through `UDPSocket`.
    @Suite
    struct SwiftIOGuestTests {
        /// Sector `s` as io-swift writes it: `s` little-endian in bytes 0-7, then (s * 31 + k * 7) mod 256.
        func sector(_ s: UInt64) -> [UInt8] {
            (0..<512).map { k in
                k < 8 ? UInt8(truncatingIfNeeded: s >> (8 * UInt64(k))) : UInt8(truncatingIfNeeded: s &* 31 &+ UInt64(k) &* 7)
            }
        }

        @Test func whatTheSwiftGuestWroteIsInTheImageFile() throws {
            let path = NSTemporaryDirectory() + "io-swift-\(UUID().uuidString).img"
            let bytes = 16 << 20
            #expect(FileManager.default.createFile(atPath: path, contents: nil) && truncate(path, off_t(bytes)) == 0)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let toolstack = try makeToolstack()
            let d = try toolstack.create(DomainConfig(name: "io-swift", kernel: try imagePath("io-swift"), memoryBytes: 32 << 20,
                                                      disks: [DiskSpec(path: path, writable: true)]))
            try toolstack.start(d)
            d.finish(within: 60, toolstack)
            try Expectation(image: "io-swift").check(d)

            let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let sectors = UInt64(bytes / 512)
            let written: [ClosedRange<UInt64>] = [0...7, sectors / 2...sectors / 2 + 95, sectors - 8...sectors - 1]
            for range in written {
                for s in range {
                    #expect(Array(data[Int(s) * 512..<Int(s + 1) * 512]) == sector(s), "sector \(s)")
                }
            }
            // Nothing else was written: the sectors around each region are still zero.
            for s in [8, sectors / 2 - 1, sectors / 2 + 96, sectors - 9] {
                #expect(data[Int(s) * 512..<Int(s + 1) * 512].allSatisfy { $0 == 0 }, "sector \(s)")
            }
        }

        @Test func theSwiftGuestEchoesForACNetPing() throws {
            let toolstack = try makeToolstack(pcpus: 2)
            let echo = try toolstack.create(DomainConfig(name: "io-swift", kernel: try imagePath("io-swift"), memoryBytes: 32 << 20,
                                                         cmdline: "ip=10.0.0.2",
                                                         vifs: [try VifSpec(parsing: "mac=00:16:3e:00:00:02,bridge=sw0")]))
            let ping = try toolstack.create(DomainConfig(name: "net-ping", kernel: try imagePath("net-ping"), memoryBytes: 32 << 20,
                                                         cmdline: "role=ping ip=10.0.0.1 peer=10.0.0.2 count=5 bytes=262144",
                                                         vifs: [try VifSpec(parsing: "mac=00:16:3e:00:00:01,bridge=sw0")]))
            try toolstack.start(echo)
            try toolstack.start(ping)
            ping.finish(within: 120, toolstack)
            echo.finish(within: 30, toolstack)
            #expect(ping.state == .shutdown(.poweroff) && ping.console.text.contains("net-ping: 5/5 UDP echoes ok"),
                    "\(ping.console.text)")
            #expect(echo.state == .shutdown(.poweroff), "\(echo.console.text)")
            for line in ["io-swift: pinged 10.0.0.1, reply in", "io-swift: echo 5: 1000 bytes from 10.0.0.1:40007 sent back",
                         "answered \"bye\"", "io-swift: echo: 5 pings answered, 5 UDP datagrams echoed", "io-swift: done"] {
                #expect(echo.console.text.contains(line), "\(line) missing:\n\(echo.console.text)")
            }
        }
    }
}
