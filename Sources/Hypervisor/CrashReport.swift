import HyperABI

/// Why and where a domain was ended by the hypervisor (not by its own shutdown request).
public struct CrashReport: Sendable, CustomStringConvertible {
    public enum Cause: Sendable {
        /// A guest exception with no handler to deliver it to.
        case exception(ExceptionFrame, cr2: UInt64)
        /// A fault while the ring-0 stub itself ran (e.g. an unusable guest stack): double-fault semantics.
        case nestedFault(ExceptionFrame, cr2: UInt64)
        /// The VM stopped in a way only a broken guest causes (triple fault, emulation failure, bad MMIO).
        case fatalExit(String)
    }
    public let cause: Cause
    public let vcpu: Int
    public let registers: CPURegisters

    public init(cause: Cause, vcpu: Int, registers: CPURegisters) {
        self.cause = cause; self.vcpu = vcpu; self.registers = registers
    }

    /// One line: what happened and where.
    public var summary: String {
        switch cause {
        case .exception(let f, let cr2):
            var s = "unhandled \(ExceptionVector.name(f.vector)) (vector \(f.vector)) at rip 0x\(hex(f.rip)), error code 0x\(hex(f.errorCode))"
            if f.vector == 14 { s += ", cr2 0x\(hex(cr2))" }
            if f.vector == 13 { s += ": privileged instruction or protection violation at CPL 3, and no trap table" }
            return s
        case .nestedFault(let f, let cr2):
            return "fault while delivering an exception: \(ExceptionVector.name(f.vector)) in the ring-0 stub at rip 0x\(hex(f.rip)), error code 0x\(hex(f.errorCode)), cr2 0x\(hex(cr2))"
        case .fatalExit(let why):
            return why
        }
    }

    public var description: String { "\(summary)\nvcpu \(vcpu) registers:\n\(registers.dump)" }
}

@inline(__always) func hex(_ v: UInt64) -> String { String(v, radix: 16) }
