// io-swift - the block and network front ends from Embedded Swift, through
// GuestKit's Swift layer (BlockDevice, NetworkInterface, IPv4Stack,
// UDPSocket) over the C front ends.
//
// With a disk: writes a pattern to three regions (the first 8 sectors, 96
// from the middle: more than one request, the last 8), flushes, reads them
// back and checks every byte; a read past the end must be refused; closes,
// opens the disk again by name and checks sector 0 once more. A read-only
// disk: reads the regions, and a write must be refused by the back end.
//
// With `ip=a.b.c.d[/prefix]` (and a vif): the echo end of net-ping's
// protocol, so a C `net-ping role=ping` can talk to it: UDP 7 echoes each
// datagram to its sender, answers "count?" with "count <datagrams>
// <bytes>" received on UDP 9 (discard) and "quit" with "bye", which ends
// the run; ICMP echo requests and ARP are answered by the stack. The
// first datagram's sender is pinged back once.
//
// Command line: disk=xvdX (the disk to use; default the first),
// ip=a.b.c.d[/prefix]. Any failure: `io-swift: FAIL <what> (<error>)` and
// a crash.

import CGuestKit

// ---- failures -----------------------------------------------------------------

func fail(_ what: StaticString, _ error: XenError) -> Never {
    Console.writeLine("io-swift: FAIL ", .text(what), " (", .text(error.name), ")")
    Sched.shutdown(.crash)
}

func fail(_ what: StaticString, _ error: BlockError) -> Never {
    switch error {
    case .xen(let e):
        fail(what, e)
    case .response(let status, let op, let e):
        Console.writeLine("io-swift: FAIL ", .text(what), " (", .text(e.name), ", status ", .dec(Int(status.rawValue)),
                          " for operation ", .dec(Int(op.rawValue)), ")")
        Sched.shutdown(.crash)
    }
}

/// `body`'s result, or a FAIL line naming `what`.
func must<T>(_ what: StaticString, _ body: () throws(XenError) -> T) -> T {
    do throws(XenError) { return try body() } catch { fail(what, error) }
}

func must<T>(_ what: StaticString, _ body: () throws(BlockError) -> T) -> T {
    do throws(BlockError) { return try body() } catch { fail(what, error) }
}

func equals(_ bytes: [UInt8], _ text: StaticString) -> Bool {
    bytes.count == text.utf8CodeUnitCount && (0..<bytes.count).allSatisfy { bytes[$0] == text.utf8Start[$0] }
}

func decimal(_ value: UInt64) -> [UInt8] {
    var digits: [UInt8] = []
    var v = value
    repeat {
        digits.append(48 + UInt8(v % 10))
        v /= 10
    } while v != 0
    return digits.reversed()
}

/// ns as microseconds with one decimal.
func writeMicroseconds(_ ns: UInt64) {
    let tenths = (ns + 50) / 100
    Console.write(.udec(tenths / 10), ".", .udec(tenths % 10))
}

// ---- the disk -------------------------------------------------------------------

let sectorBytes = BlockDevice.sectorSize

/// Sector s of the pattern: bytes 0-7 s little-endian, byte k >= 8 (s * 31 + k * 7) mod 256.
func fill(_ bytes: inout [UInt8], from sector: UInt64) {
    for i in 0..<bytes.count {
        let s = sector + UInt64(i / sectorBytes)
        let k = i % sectorBytes
        bytes[i] = k < 8 ? UInt8(truncatingIfNeeded: s >> (8 * UInt64(k)))
                         : UInt8(truncatingIfNeeded: s &* 31 &+ UInt64(k) &* 7)
    }
}

/// "xvda" ... "xvdp" for their numbers, else the number.
func diskName(_ devid: UInt32) -> [UInt8] {
    if devid >> 8 == 202 && devid & 0xf == 0 && (devid >> 4) & 0xf < 16 {
        return [120, 118, 100, 97 + UInt8((devid >> 4) & 0xf)]
    }
    return decimal(UInt64(devid))
}

func yesNo(_ b: Bool) -> Console.Item { b ? "1" : "0" }

func diskRun(_ devids: [UInt32]) {
    let wanted = Guest.commandLineValue("disk")
    let disk = must("open the disk") { () throws(BlockError) in
        if let name = wanted { return try BlockDevice.open(named: name) }
        return try BlockDevice.open()
    }
    let info = disk.info
    let name = diskName(info.deviceNumber)
    Console.writeLine("io-swift: disk ", .bytes(name), " (", .udec(UInt64(info.deviceNumber)), ", ", .dec(devids.count),
                      " in all): ", .udec(info.sectors), " sectors of 512 bytes, ", info.isReadOnly ? "ro" : "rw",
                      ", backend ", .bytes(info.backend), " (domain ", .udec(UInt64(info.backendDomain)),
                      "), features flush=", yesNo(info.canFlush), " barrier=", yesNo(info.canBarrier),
                      " discard=", yesNo(info.canDiscard))
    if info.sectors < 256 {
        Console.writeLine("io-swift: FAIL a disk of ", .udec(info.sectors), " sectors: 256 needed (EINVAL)")
        Sched.shutdown(.crash)
    }
    // Aligned to 8 sectors, so a disk with 4 KiB logical sectors takes them too.
    let regions: [(start: UInt64, count: Int)] = [(0, 8), (info.sectors / 2 & ~7, 96), (info.sectors - 8, 8)]
    let total = regions.reduce(0) { $0 + $1.count }

    if info.isReadOnly {
        for r in regions { _ = must("read a region") { () throws(BlockError) in try disk.read(sector: r.start, count: r.count) } }
        var sector0 = [UInt8](repeating: 0, count: sectorBytes)
        fill(&sector0, from: 0)
        do throws(BlockError) {
            try disk.write(sector: 0, from: sector0)
            Console.writeLine("io-swift: FAIL a write to a read-only disk was taken (0)")
            Sched.shutdown(.crash)
        } catch {
            guard case .response(.error, .write, .EROFS) = error else { fail("a write to a read-only disk", error) }
        }
        Console.writeLine("io-swift: read ", .dec(total), " sectors; a write refused ok (EROFS, BLKIF_RSP_ERROR)")
        must("close the disk") { () throws(BlockError) in try disk.close() }
        Console.writeLine("io-swift: read-only disk ", .dec(total), " sectors ok")
        return
    }

    // The last region goes as a barrier write where the back end offers it.
    for (i, r) in regions.enumerated() {
        var data = [UInt8](repeating: 0, count: r.count * sectorBytes)
        fill(&data, from: r.start)
        must("write the pattern") { () throws(BlockError) in
            try disk.write(sector: r.start, from: data, barrier: i == 2 && info.canBarrier)
        }
    }
    Console.writeLine("io-swift: wrote sectors 0-7, ", .udec(regions[1].start), "-", .udec(regions[1].start + 95), ", ",
                      .udec(regions[2].start), "-", .udec(regions[2].start + 7),
                      info.canBarrier ? " (the last 8 with a barrier write)" : "")
    do throws(BlockError) {
        try disk.flush()
        Console.writeLine("io-swift: flushed")
    } catch {
        guard error == .xen(.EOPNOTSUPP) else { fail("flush", error) }
        Console.writeLine("io-swift: no feature-flush-cache, not flushed")
    }

    for r in regions {
        var got = [UInt8](repeating: 0, count: r.count * sectorBytes)
        must("read a region back") { () throws(BlockError) in try disk.read(sector: r.start, into: &got) }
        var expected = [UInt8](repeating: 0, count: got.count)
        fill(&expected, from: r.start)
        if let i = (0..<got.count).first(where: { got[$0] != expected[$0] }) {
            Console.writeLine("io-swift: FAIL sector ", .udec(r.start + UInt64(i / sectorBytes)), " byte ",
                              .dec(i % sectorBytes), " reads back ", .udec(UInt64(got[i])), ", not ",
                              .udec(UInt64(expected[i])), " (EIO)")
            Sched.shutdown(.crash)
        }
    }
    Console.writeLine("io-swift: read back ", .dec(total), " sectors, every byte as written")

    do throws(BlockError) {
        _ = try disk.read(sector: info.sectors, count: 1)
        Console.writeLine("io-swift: FAIL a read past the end was taken (0)")
        Sched.shutdown(.crash)
    } catch {
        guard error == .xen(.EINVAL) else { fail("a read past the end", error) }
        Console.writeLine("io-swift: read past the end -> EINVAL ok")
    }

    let st = disk.statistics
    Console.writeLine("io-swift: ", .udec(st.requests), " requests, ", .udec(st.errors), " errors, ",
                      .udec(st.notifications), " notifications, ", .udec(st.waits), " waits")

    must("close the disk") { () throws(BlockError) in try disk.close() }
    let again = must("open the disk again by name") { () throws(BlockError) in try BlockDevice.open(named: name) }
    let sector0 = must("read sector 0 again") { () throws(BlockError) in try again.read(sector: 0, count: 1) }
    var expected = [UInt8](repeating: 0, count: sectorBytes)
    fill(&expected, from: 0)
    if sector0 != expected {
        Console.writeLine("io-swift: FAIL sector 0 changed across a close (EIO)")
        Sched.shutdown(.crash)
    }
    must("close the disk again") { () throws(BlockError) in try again.close() }
    Console.writeLine("io-swift: closed, opened ", .bytes(name), " again, sector 0 reads back ok, closed")
    Console.writeLine("io-swift: disk ", .dec(total), " sectors ok")
}

// ---- the network ------------------------------------------------------------------

let echoPort: UInt16 = 7
let discardPort: UInt16 = 9
let pingID: UInt16 = 0x696f                 // "io"
let lifetime = 120 * Clock.second           // without "quit"
let replyWait = 2 * Clock.second

nonisolated(unsafe) var discarded: UInt64 = 0
nonisolated(unsafe) var discardedBytes: UInt64 = 0

func netRun() {
    let vif = must("open the first vif") { () throws(XenError) in try NetworkInterface.open() }
    must("ip=a.b.c.d on the command line") { () throws(XenError) in try IPv4Stack.startFromCommandLine(on: vif) }
    let info = vif.info
    Console.writeLine("io-swift: vif ", .udec(UInt64(info.handle)), ", mac ", .bytes(info.mac.formatted), ", ip ",
                      .bytes(IPv4Stack.address.formatted), "/", .dec(IPv4Stack.prefix), ", backend ",
                      .bytes(info.backend), " (domain ", .udec(UInt64(info.backendDomain)), ")")

    let echo = must("bind UDP port 7") { () throws(XenError) in try UDPSocket.bind(port: echoPort) }
    // Port 9 only counts: a handler, so a fast stream never fills the queue port 7 needs.
    let discard = must("bind UDP port 9") { () throws(XenError) in
        try UDPSocket.bind(port: discardPort, handler: { dg, _ in
            discarded += 1
            discardedBytes += UInt64(dg!.pointee.len)
        })
    }
    Console.writeLine("io-swift: echo on UDP 7, discard on UDP 9, waiting")

    let deadline = Clock.now() + lifetime
    var echoed: UInt64 = 0
    var pingedBack = false
    while true {
        guard let dg = must("receive on UDP port 7", { () throws(XenError) in try echo.receive(until: deadline) }) else {
            Console.writeLine("io-swift: FAIL no \"quit\" within 120 s (", .udec(echoed), " UDP datagrams echoed) (ETIMEDOUT)")
            Sched.shutdown(.crash)
        }
        let from = dg.source
        if equals(dg.payload, "quit") {
            must("answer \"quit\"") { () throws(XenError) in try echo.send([98, 121, 101], to: from) }     // "bye"
            Console.writeLine("io-swift: \"quit\" from ", .bytes(from.address.formatted), ":", .udec(UInt64(from.port)),
                              ", answered \"bye\"")
            break
        }
        if equals(dg.payload, "count?") {
            let answer: [UInt8] = [99, 111, 117, 110, 116, 32] + decimal(discarded) + [32] + decimal(discardedBytes)
            must("answer \"count?\"") { () throws(XenError) in try echo.send(answer, to: from) }
            Console.writeLine("io-swift: \"count?\" from ", .bytes(from.address.formatted), ":",
                              .udec(UInt64(from.port)), ", answered \"", .bytes(answer), "\"")
            continue
        }
        if !pingedBack {
            // The sender polls for our echo now, so its stack answers a ping.
            pingedBack = true
            let rtt = must("ping the sender") { () throws(XenError) in
                try IPv4Stack.ping(from.address, id: pingID, sequence: 1, until: Clock.now() + replyWait)
            }
            guard let rtt else {
                Console.writeLine("io-swift: FAIL no reply from ", .bytes(from.address.formatted), " to a ping (ETIMEDOUT)")
                Sched.shutdown(.crash)
            }
            Console.write("io-swift: pinged ", .bytes(from.address.formatted), ", reply in ")
            writeMicroseconds(rtt)
            Console.writeLine(" us")
        }
        must("echo a datagram") { () throws(XenError) in try echo.send(dg.payload, to: from) }
        echoed += 1
        Console.writeLine("io-swift: echo ", .udec(echoed), ": ", .dec(dg.payload.count), " bytes from ",
                          .bytes(from.address.formatted), ":", .udec(UInt64(from.port)), " sent back")
    }

    _ = must("wait for the vif to send \"bye\"") { () throws(XenError) in try vif.flush() }
    let v = vif.statistics
    let s = IPv4Stack.statistics
    Console.writeLine("io-swift: vif: ", .udec(v.txFrames), " frames sent (", .udec(v.txErrors), " errors, ",
                      .udec(v.txDropped), " dropped), ", .udec(v.rxFrames), " received (", .udec(v.rxErrors),
                      " bad), ", .udec(v.notifications), " notifications, ", .udec(v.waits), " waits")
    Console.writeLine("io-swift: stack: ", .udec(s.arpAnswered), " ARP requests answered, ", .udec(s.icmpEchoAnswered),
                      " pings answered, ", .udec(s.udpNoPort), " UDP datagrams for no port, ", .udec(s.udpQueueFull),
                      " dropped on a full queue")
    must("unbind UDP port 7") { () throws(XenError) in try echo.close() }
    must("unbind UDP port 9") { () throws(XenError) in try discard.close() }
    IPv4Stack.stop()
    must("close the vif") { () throws(XenError) in try vif.close() }
    Console.writeLine("io-swift: echo: ", .udec(s.icmpEchoAnswered), " pings answered, ", .udec(echoed),
                      " UDP datagrams echoed, ", .udec(discarded), " discarded (", .udec(discardedBytes),
                      " bytes), vif closed")
}

@_cdecl("gk_main")
public func gkMain() {
    let disks = must("list the disks") { () throws(XenError) in try BlockDevice.list() }
    let net = Guest.commandLineValue("ip") != nil
    if disks.isEmpty && !net {
        Console.writeLine("io-swift: FAIL no disk and no ip= on the command line: nothing to do (ENODEV)")
        Sched.shutdown(.crash)
    }
    if !disks.isEmpty { diskRun(disks) }
    if net { netRun() }
    Console.writeLine("io-swift: done")
    Sched.shutdown(.poweroff)
}
