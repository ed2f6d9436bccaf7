/// A vCPU's general-purpose registers, RIP and RFLAGS (the order of KVM's `struct kvm_regs`).
public struct CPURegisters: Sendable, Equatable {
    public var rax: UInt64 = 0, rbx: UInt64 = 0, rcx: UInt64 = 0, rdx: UInt64 = 0
    public var rsi: UInt64 = 0, rdi: UInt64 = 0, rsp: UInt64 = 0, rbp: UInt64 = 0
    public var r8: UInt64 = 0, r9: UInt64 = 0, r10: UInt64 = 0, r11: UInt64 = 0
    public var r12: UInt64 = 0, r13: UInt64 = 0, r14: UInt64 = 0, r15: UInt64 = 0
    public var rip: UInt64 = 0, rflags: UInt64 = 0
    public init() {}

    /// Register dump in the usual two-column form, for crash reports.
    public var dump: String {
        func h(_ v: UInt64) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
        return """
        rax \(h(rax))  rbx \(h(rbx))  rcx \(h(rcx))  rdx \(h(rdx))
        rsi \(h(rsi))  rdi \(h(rdi))  rbp \(h(rbp))  rsp \(h(rsp))
        r8  \(h(r8))  r9  \(h(r9))  r10 \(h(r10))  r11 \(h(r11))
        r12 \(h(r12))  r13 \(h(r13))  r14 \(h(r14))  r15 \(h(r15))
        rip \(h(rip))  rflags \(h(rflags))
        """
    }
}

extension CPURegisters {
    /// A general register by its x86 encoding number (rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8 … r15).
    subscript(encoding n: Int) -> UInt64 {
        get {
            switch n & 15 {
            case 0: rax
            case 1: rcx
            case 2: rdx
            case 3: rbx
            case 4: rsp
            case 5: rbp
            case 6: rsi
            case 7: rdi
            case 8: r8
            case 9: r9
            case 10: r10
            case 11: r11
            case 12: r12
            case 13: r13
            case 14: r14
            default: r15
            }
        }
        set {
            switch n & 15 {
            case 0: rax = newValue
            case 1: rcx = newValue
            case 2: rdx = newValue
            case 3: rbx = newValue
            case 4: rsp = newValue
            case 5: rbp = newValue
            case 6: rsi = newValue
            case 7: rdi = newValue
            case 8: r8 = newValue
            case 9: r9 = newValue
            case 10: r10 = newValue
            case 11: r11 = newValue
            case 12: r12 = newValue
            case 13: r13 = newValue
            case 14: r14 = newValue
            default: r15 = newValue
            }
        }
    }
}

/// The exception frame the ring-0 stub leaves for the hypervisor: vector, error code and the CPU's iret frame.
public struct ExceptionFrame: Sendable, Equatable {
    public var vector: UInt8
    public var errorCode: UInt64
    public var rip: UInt64
    public var cs: UInt64
    public var rflags: UInt64
    public var rsp: UInt64
    public var ss: UInt64
    public init(vector: UInt8, errorCode: UInt64, rip: UInt64, cs: UInt64, rflags: UInt64, rsp: UInt64, ss: UInt64) {
        self.vector = vector; self.errorCode = errorCode; self.rip = rip; self.cs = cs
        self.rflags = rflags; self.rsp = rsp; self.ss = ss
    }
    /// True when the exception interrupted guest code (CPL 3), false when it hit the stub itself.
    public var fromGuest: Bool { cs & 3 == 3 }
}
