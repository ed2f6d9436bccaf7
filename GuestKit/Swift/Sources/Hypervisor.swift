// Hypervisor.swift - the raw hypercalls GuestKit's Swift layer is built on.
//
// Each goes through GuestKit's C inline wrappers, i.e. `call hypercall_page
// + nr*32` with Xen's register convention. Results are returned as Xen gives
// them (>= 0, or -XEN_Exxx); the typed APIs in Xen.swift and Sched.swift
// turn negative results into `XenError`.

import CGuestKit

public enum Hypervisor {
    /// console_io(CONSOLEIO_write, count, buffer) on raw memory. Flushes
    /// GuestKit's console buffer first so output stays in order.
    /// Returns 0 or -XEN_Exxx.
    @discardableResult
    public static func consoleWrite(_ bytes: UnsafeRawBufferPointer) -> Int {
        gk_flush()
        let base = UnsafeMutableRawPointer(mutating: bytes.baseAddress)
        return Int(HYPERVISOR_console_io(CONSOLEIO_write, Int32(truncatingIfNeeded: bytes.count),
                                         base?.assumingMemoryBound(to: CChar.self)))
    }

    /// console_io(CONSOLEIO_write) of a string literal.
    @discardableResult
    public static func consoleWrite(_ s: StaticString) -> Int {
        consoleWrite(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// console_io(CONSOLEIO_write) of bytes.
    @discardableResult
    public static func consoleWrite(_ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBytes { consoleWrite($0) }
    }

    /// console_io(CONSOLEIO_read, buffer.count, buffer). Returns the number
    /// of bytes read (0 when nothing is pending) or -XEN_Exxx.
    public static func consoleRead(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        Int(HYPERVISOR_console_io(CONSOLEIO_read, Int32(truncatingIfNeeded: buffer.count),
                                  buffer.baseAddress?.assumingMemoryBound(to: CChar.self)))
    }

    /// xen_version(cmd, arg).
    public static func xenVersion(_ cmd: Int32, _ arg: UnsafeMutableRawPointer?) -> Int {
        Int(HYPERVISOR_xen_version(cmd, arg))
    }

    /// sched_op(cmd, arg).
    public static func schedOp(_ cmd: Int32, _ arg: UnsafeMutableRawPointer?) -> Int {
        Int(HYPERVISOR_sched_op(cmd, arg))
    }
}
