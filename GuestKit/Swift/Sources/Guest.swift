// Guest.swift - what the domain builder handed this guest.

import CGuestKit

public enum Guest {
    /// start_info (RSI at entry).
    public static var startInfo: UnsafeMutablePointer<start_info> {
        gk_start_info
    }

    /// The command line from start_info, without its NUL.
    public static func commandLine() -> [UInt8] {
        let p = gk_cmdline()!
        return Xen.untilNUL(UnsafeRawBufferPointer(start: p, count: strlen(p)))
    }

    /// The value of the command line's first "key=" word, up to the next space; nil without one.
    public static func commandLineValue(_ key: StaticString) -> [UInt8]? {
        // A string literal's bytes end with a NUL, so utf8Start is a C string.
        guard let v = gk_cmdline_value(UnsafeRawPointer(key.utf8Start).assumingMemoryBound(to: CChar.self)) else {
            return nil
        }
        var out: [UInt8] = []
        var p = UnsafeRawPointer(v).assumingMemoryBound(to: UInt8.self)
        while p.pointee != 0 && p.pointee != 32 {
            out.append(p.pointee)
            p += 1
        }
        return out
    }

    /// The command line's "key=<decimal>", nil if absent or not a number.
    public static func commandLineNumber(_ key: StaticString) -> UInt64? {
        var n: UInt = 0
        let ok = gk_cmdline_number(UnsafeRawPointer(key.utf8Start).assumingMemoryBound(to: CChar.self), &n)
        return ok != 0 ? UInt64(n) : nil
    }
}
