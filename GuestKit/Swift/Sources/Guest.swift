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
}
