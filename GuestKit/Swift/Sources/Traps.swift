// Traps.swift - exceptions: the virtual IDT GuestKit installs (set_trap_table,
// callback_op, shared_info mapping) and handlers for its vectors.
//
// Handlers are C function pointers (`@convention(c)` closures without
// captures): they run on the interrupted stack with events masked and may
// edit the frame (registers, rip, rflags, the saved FPU image) before the
// iret hypercall returns to it.

import CGuestKit

public enum Traps {
    /// The interrupted context a handler sees (`struct gk_trap_frame`).
    public typealias Frame = gk_trap_frame
    /// A handler: `{ frame in ... }` with no captures.
    public typealias Handler = @convention(c) (UnsafeMutablePointer<gk_trap_frame>?) -> Void

    /// The vectors GuestKit installs stubs for (GK_TRAP_* in <guestkit/traps.h>).
    public enum Vector: UInt32 {
        case divideError = 0            // #DE
        case debug = 1                  // #DB
        case nmi = 2
        case breakpoint = 3             // #BP
        case overflow = 4               // #OF
        case boundRange = 5             // #BR
        case invalidOpcode = 6          // #UD
        case deviceNotAvailable = 7     // #NM (CR0.TS; the frame has no FPU image)
        case doubleFault = 8            // #DF
        case coprocessorSegmentOverrun = 9
        case invalidTSS = 10            // #TS
        case segmentNotPresent = 11     // #NP
        case stackFault = 12            // #SS
        case generalProtection = 13     // #GP
        case pageFault = 14             // #PF (address: `Traps.faultAddress`)
        case spurious = 15
        case x87Error = 16              // #MF
        case alignmentCheck = 17        // #AC
        case machineCheck = 18          // #MC
        case simdError = 19             // #XM
    }

    /// Maps shared_info, installs the trap table and registers the event and
    /// failsafe callbacks (`gk_traps_init`). Idempotent; events stay masked.
    public static func install() {
        gk_traps_init()
    }

    /// Sets the handler for `vector` (nil: the default, which prints the frame
    /// and crashes the domain). Returns the previous one.
    @discardableResult
    public static func setHandler(_ vector: Vector, _ handler: Handler?) -> Handler? {
        gk_set_trap_handler(vector.rawValue, handler)
    }

    /// The address of the last page fault (`vcpu_info.arch.cr2`).
    public static var faultAddress: UInt64 {
        install()
        return UInt64(gk_vcpu_info.pointee.arch.cr2)
    }

    /// Prints a frame on the console.
    public static func dump(_ frame: UnsafePointer<gk_trap_frame>) {
        gk_trap_dump(frame)
    }

    /// "#DE", "#PF", ... for a frame's vector.
    public static func name(of vector: UInt64) -> UnsafePointer<CChar> {
        gk_trap_name(UInt(vector))
    }
}
