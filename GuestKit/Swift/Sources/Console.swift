// Console.swift - print-like output through GuestKit's buffered console
// (console_io writes at every newline), shared with C's gk_printf.

import CGuestKit

public enum Console {
    /// One piece of a console line. String and integer literals convert
    /// implicitly: `Console.writeLine("n = ", .dec(n), " mask ", .hex(m, width: 8))`.
    public enum Item: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
        /// A string literal.
        case text(StaticString)
        /// Raw bytes (e.g. a string a hypercall returned).
        case bytes([UInt8])
        /// A signed decimal number.
        case dec(Int)
        /// An unsigned decimal number.
        case udec(UInt64)
        /// Lower-case hex digits, no "0x", zero-padded to `width`.
        case hex(UInt64, width: Int = 0)
        /// One byte.
        case char(UInt8)

        public init(stringLiteral value: StaticString) { self = .text(value) }
        public init(integerLiteral value: Int) { self = .dec(value) }
    }

    /// Writes the items, with nothing in between.
    public static func write(_ items: Item...) {
        for item in items { put(item) }
    }

    /// Writes the items and a newline (which flushes the line).
    public static func writeLine(_ items: Item...) {
        for item in items { put(item) }
        gk_putc(10)
    }

    /// Sends buffered output to the hypervisor now.
    public static func flush() {
        gk_flush()
    }

    static func put(_ item: Item) {
        switch item {
        case .text(let s):
            putRaw(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
        case .bytes(let b):
            b.withUnsafeBytes { putRaw($0) }
        case .dec(let v):
            if v < 0 {
                gk_putc(45)  // "-"
                putUnsigned(UInt64(v.magnitude), base: 10, width: 0)
            } else {
                putUnsigned(UInt64(v), base: 10, width: 0)
            }
        case .udec(let v):
            putUnsigned(v, base: 10, width: 0)
        case .hex(let v, let width):
            putUnsigned(v, base: 16, width: width)
        case .char(let c):
            gk_putc(CChar(bitPattern: c))
        }
    }

    static func putRaw(_ bytes: UnsafeRawBufferPointer) {
        for b in bytes { gk_putc(CChar(bitPattern: b)) }
    }

    static func putUnsigned(_ value: UInt64, base: UInt64, width: Int) {
        // 20 digits hold any UInt64 in decimal, 16 in hex.
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var count = 0
        var v = value
        withUnsafeMutableBytes(of: &digits) { buf in
            repeat {
                let d = UInt8(truncatingIfNeeded: v % base)
                buf[count] = d < 10 ? 48 + d : 87 + d   // "0"... / "a"...
                count += 1
                v /= base
            } while v != 0
            var pad = width - count
            while pad > 0 { gk_putc(48); pad -= 1 }
            while count > 0 {
                count -= 1
                gk_putc(CChar(bitPattern: buf[count]))
            }
        }
    }
}
