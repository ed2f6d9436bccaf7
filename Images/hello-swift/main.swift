// hello-swift - the hello-c checks, written in Embedded Swift against
// GuestKit's Swift layer: every wrapped hypercall, each answer checked.

import CGuestKit

nonisolated(unsafe) var firstFailure: StaticString? = nil

/// Ends a result line with "ok" or "FAILED" and remembers the first failure.
func verdict(_ ok: Bool, _ what: StaticString) {
    Console.writeLine(ok ? " ok" : " FAILED")
    if !ok && firstFailure == nil { firstFailure = what }
}

func report(_ error: XenError, _ what: StaticString) {
    Console.write(.text(error.name))
    verdict(false, what)
}

func checkConsole() {
    let rc = Hypervisor.consoleWrite("hello-swift: console_io(write) direct from a guest buffer\n")
    Console.write("hello-swift: console_io(write) = ", .dec(rc))
    verdict(rc == 0, "console_io(write)")

    var input = [UInt8](repeating: 0, count: 16)
    let n = input.withUnsafeMutableBytes { Hypervisor.consoleRead(into: $0) }
    Console.write("hello-swift: console_io(read) = ", .dec(n), " bytes")
    verdict(n >= 0 && n <= 16, "console_io(read)")
}

func checkSched() {
    Console.write("hello-swift: sched_op(yield) = ")
    do throws(XenError) {
        try Sched.yield()
        Console.write("0")
        verdict(true, "sched_op(yield)")
    } catch {
        report(error, "sched_op(yield)")
    }
}

func checkVersion() {
    Console.write("hello-swift: xen_version(version) = ")
    do throws(XenError) {
        let v = try Xen.version()
        Console.write(.dec(v.major), ".", .dec(v.minor))
        verdict(v.major > 0 || v.minor > 0, "xen_version(version)")
    } catch { report(error, "xen_version(version)") }

    Console.write("hello-swift: xen_version(extraversion) = ")
    do throws(XenError) {
        let s = try Xen.extraVersion()
        Console.write(.bytes(s))
        verdict(s.count < Int(XEN_EXTRAVERSION_LEN), "xen_version(extraversion)")
    } catch { report(error, "xen_version(extraversion)") }

    Console.write("hello-swift: xen_version(compile_info) = ")
    do throws(XenError) {
        let ci = try Xen.compileInfo()
        Console.write(.bytes(ci.compiler))
        verdict(ci.compiler.count < 64 && ci.compileBy.count < 16
                    && ci.compileDomain.count < 32 && ci.compileDate.count < 32,
                "xen_version(compile_info)")
    } catch { report(error, "xen_version(compile_info)") }

    Console.write("hello-swift: xen_version(capabilities) = ")
    do throws(XenError) {
        let caps = try Xen.capabilities()
        Console.write(.bytes(caps))
        verdict(startsWith(caps, "xen-3.0-x86_64") && caps.count < Int(XEN_CAPABILITIES_INFO_LEN),
                "xen_version(capabilities)")
    } catch { report(error, "xen_version(capabilities)") }

    Console.write("hello-swift: xen_version(changeset) = ")
    do throws(XenError) {
        let cs = try Xen.changeset()
        Console.write(.bytes(cs))
        verdict(cs.count < Int(XEN_CHANGESET_INFO_LEN), "xen_version(changeset)")
    } catch { report(error, "xen_version(changeset)") }

    Console.write("hello-swift: xen_version(platform_parameters) = ")
    do throws(XenError) {
        let p = try Xen.platformParameters()
        Console.write("virt_start 0x", .hex(p.virtStart))
        verdict(p.virtStart == 0xffff_8000_0000_0000, "xen_version(platform_parameters)")
    } catch { report(error, "xen_version(platform_parameters)") }

    Console.write("hello-swift: xen_version(get_features) = ")
    do throws(XenError) {
        let bits = try Xen.features(submap: 0)
        Console.write("submap[0] 0x", .hex(UInt64(bits), width: 8))
        verdict(true, "xen_version(get_features)")
    } catch { report(error, "xen_version(get_features)") }

    Console.write("hello-swift: xen_version(pagesize) = ")
    do throws(XenError) {
        let size = try Xen.pageSize()
        Console.write(.dec(size))
        verdict(size == 4096, "xen_version(pagesize)")
    } catch { report(error, "xen_version(pagesize)") }

    Console.write("hello-swift: xen_version(guest_handle) = ")
    do throws(XenError) {
        let handle = try Xen.guestHandle()
        for b in handle { Console.write(.hex(UInt64(b), width: 2)) }
        verdict(handle.count == 16, "xen_version(guest_handle)")
    } catch { report(error, "xen_version(guest_handle)") }
}

func startsWith(_ bytes: [UInt8], _ prefix: StaticString) -> Bool {
    let n = prefix.utf8CodeUnitCount
    if bytes.count < n { return false }
    let p = prefix.utf8Start
    for i in 0..<n where bytes[i] != p[i] { return false }
    return true
}

@_cdecl("gk_main")
public func gkMain() {
    Console.writeLine("hello-swift: Hello from a PV guest at ring 3")
    Console.writeLine("hello-swift: cmdline \"", .bytes(Guest.commandLine()), "\"")

    Console.write("hello-swift: XenError raw values match <xen/errno.h>")
    verdict(XenError.matchesCHeaders(), "XenError raw values")

    checkConsole()
    checkSched()
    checkVersion()

    if let what = firstFailure {
        Console.writeLine("hello-swift: FAILED ", .text(what))
        Sched.shutdown(.crash)
    }
    Console.writeLine("hello-swift: all hypercalls ok")
    Sched.shutdown(.poweroff)
}
