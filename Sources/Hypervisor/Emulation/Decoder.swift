/// One privileged x86-64 instruction, decoded from the bytes at a guest RIP that raised #GP or #UD.
///
/// The guest kernel of a PV domain runs at CPL 3, so every privileged instruction it executes
/// faults into the hypervisor. `decode(_:)` recognises the ones Xen emulates for PV guests (plus a
/// few it only has to recognise to bounce), always in 64-bit mode, and measures their exact length
/// so that emulation can step RIP past them. Anything else decodes to nil: the caller reflects the
/// original exception to the guest.
public struct DecodedInstruction: Equatable, Sendable {
    /// Bytes from the first prefix to the last byte of the instruction (1…15).
    public let length: Int
    /// What the instruction is, with its register, port and size operands.
    public let kind: Kind
    /// Effective operand size in bytes: 8 with REX.W, else 2 with a 66 prefix, else 4.
    /// Fixed at 8 for `mov` to/from CR/DR and for `lgdt`/`lidt`, which ignore the prefixes in 64-bit mode.
    public let operandSize: Int
    /// Effective address size in bytes: 8, or 4 with a 67 prefix.
    public let addressSize: Int
    /// An F3 (REP) or F2 (REPNE) prefix is present; only `ins`/`outs` use it.
    public let rep: Bool
    /// The last segment-override prefix (2E, 36, 3E, 26, 64 or 65), if any. In 64-bit mode only
    /// FS (64) and GS (65) change the address; the others are kept so callers can see them.
    public let segmentOverride: UInt8?

    public init(length: Int, kind: Kind, operandSize: Int = 4, addressSize: Int = 8,
                rep: Bool = false, segmentOverride: UInt8? = nil) {
        self.length = length
        self.kind = kind
        self.operandSize = operandSize
        self.addressSize = addressSize
        self.rep = rep
        self.segmentOverride = segmentOverride
    }

    /// The instructions the decoder recognises. GPR numbers use the ModRM/REX encoding order:
    /// 0 rax, 1 rcx, 2 rdx, 3 rbx, 4 rsp, 5 rbp, 6 rsi, 7 rdi, 8…15 r8…r15.
    public enum Kind: Equatable, Sendable {
        /// `0F 32`
        case rdmsr
        /// `0F 30`
        case wrmsr
        /// `0F A2`
        case cpuid
        /// `0F 31`
        case rdtsc
        /// `0F 01 F9`
        case rdtscp
        /// `0F 33`
        case rdpmc
        /// `0F 20 /r`: mov gpr, crN (`LOCK mov cr0` is AMD's alias for CR8).
        case movFromCR(cr: Int, gpr: Int)
        /// `0F 22 /r`: mov crN, gpr.
        case movToCR(cr: Int, gpr: Int)
        /// `0F 21 /r`: mov gpr, drN.
        case movFromDR(dr: Int, gpr: Int)
        /// `0F 23 /r`: mov drN, gpr.
        case movToDR(dr: Int, gpr: Int)
        /// `0F 06`
        case clts
        /// `0F 08`
        case invd
        /// `0F 09` (also `F3 0F 09`, WBNOINVD, which a guest may treat the same way).
        case wbinvd
        /// `0F 01 D1`
        case xsetbv
        /// `F4`
        case hlt
        /// `FA`
        case cli
        /// `FB`
        case sti
        /// `E4 ib` (size 1) / `E5 ib` (size 2 or 4): in al/ax/eax, imm8.
        case inImmediate(port: UInt8, size: Int)
        /// `EC` / `ED`: in al/ax/eax, dx.
        case inDX(size: Int)
        /// `E6 ib` / `E7 ib`: out imm8, al/ax/eax.
        case outImmediate(port: UInt8, size: Int)
        /// `EE` / `EF`: out dx, al/ax/eax.
        case outDX(size: Int)
        /// `6C` / `6D`: ins byte/word/dword from port DX to ES:[RDI].
        case ins(size: Int)
        /// `6E` / `6F`: outs byte/word/dword from [RSI] to port DX.
        case outs(size: Int)
        /// `0F 01 /2`, memory operand only.
        case lgdt
        /// `0F 01 /3`, memory operand only.
        case lidt
        /// `0F 00 /2`, register or memory operand.
        case lldt
        /// `0F 00 /3`, register or memory operand.
        case ltr
        /// `0F 01 /6`, register or memory operand.
        case lmsw
        /// `0F 01 /7`, memory operand only.
        case invlpg
        /// `0F 01 F8`
        case swapgs
        /// `0F 07`
        case sysret
        /// `0F 35`
        case sysexit
        /// `CD ib`: a software interrupt through a gate whose DPL the guest lacks.
        case int(vector: UInt8)
        /// Xen's forced-emulation prefix `0F 0B 78 65 6E` ("ud2; 'xen'") followed by `0F A2` (CPUID):
        /// 7 bytes, arrives as #UD.
        case forcedEmulationCPUID
        /// A privileged instruction that is recognised (so its length is known) but never emulated:
        /// VMX (`0F 01 C1`–`C4`), MONITOR/MWAIT (`0F 01 C8`/`C9`), CLAC/STAC (`0F 01 CA`/`CB`),
        /// SVM (`0F 01 D8`–`DF`), and INVEPT/INVVPID/INVPCID (`66 0F 38 80`/`81`/`82`, memory operand).
        /// `opcode` holds the opcode bytes without prefixes, including the ModRM byte when the ModRM
        /// byte selects the instruction (the `0F 01` register forms).
        case other(opcode: [UInt8])
    }

    /// The architectural limit on an instruction's length; a longer one raises #GP.
    public static let maxLength = 15

    /// The bytes of Xen's forced-emulation signature: `ud2` followed by the ASCII "xen".
    public static let forcedEmulationSignature: [UInt8] = [0x0F, 0x0B, 0x78, 0x65, 0x6E]

    /// Decodes the instruction at the start of `bytes` (the bytes fetched at the faulting RIP;
    /// give up to 15, fewer if the fetch stopped at an unmapped page).
    ///
    /// Returns nil when the bytes are truncated, would make an instruction longer than 15 bytes,
    /// encode something invalid (e.g. a LOCK prefix on these instructions, which raises #UD), or
    /// are not one of the instructions in `Kind`. Reads only the given bytes, at most 15 of them.
    public static func decode(_ bytes: [UInt8]) -> DecodedInstruction? {
        var c = ByteCursor(bytes)

        // Xen checks its signature exactly at RIP, with no prefixes before it or between it and CPUID.
        if bytes.starts(with: forcedEmulationSignature) {
            for expected in forcedEmulationSignature + [0x0F, 0xA2] {
                guard c.next() == expected else { return nil }
            }
            return DecodedInstruction(length: c.position, kind: .forcedEmulationCPUID)
        }

        // Legacy prefixes in any order; a REX prefix counts only when the opcode follows it directly.
        var operandPrefix = false, addressPrefix = false, lock = false
        var repPrefix: UInt8? = nil, segment: UInt8? = nil, rex: UInt8 = 0
        scan: while true {
            guard let b = c.peek() else { return nil }
            switch b {
            case 0x66: operandPrefix = true; rex = 0
            case 0x67: addressPrefix = true; rex = 0
            case 0xF2, 0xF3: repPrefix = b; rex = 0
            case 0xF0: lock = true; rex = 0
            case 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65: segment = b; rex = 0
            case 0x40...0x4F: rex = b
            default: break scan
            }
            c.skip()
        }
        let rexW = rex & 0x8 != 0, rexR = rex & 0x4 != 0, rexB = rex & 0x1 != 0
        let operandSize = rexW ? 8 : (operandPrefix ? 2 : 4)
        let addressSize = addressPrefix ? 4 : 8
        // Port width of the word/dword I/O opcodes: REX.W does not widen them past 32 bits.
        let portSize = operandPrefix ? 2 : 4

        func make(_ kind: Kind, operandSize size: Int = operandSize) -> DecodedInstruction {
            DecodedInstruction(length: c.position, kind: kind, operandSize: size, addressSize: addressSize,
                               rep: repPrefix != nil, segmentOverride: segment)
        }

        guard let opcode = c.next() else { return nil }

        // Only `LOCK mov cr0` (AMD's CR8 alias) accepts LOCK here; on anything else it raises #UD.
        if lock && opcode != 0x0F { return nil }

        switch opcode {
        case 0xF4: return make(.hlt)
        case 0xFA: return make(.cli)
        case 0xFB: return make(.sti)
        case 0xCD:
            guard let vector = c.next() else { return nil }
            return make(.int(vector: vector))
        case 0xE4, 0xE5, 0xE6, 0xE7:
            guard let port = c.next() else { return nil }
            let size = opcode & 1 == 0 ? 1 : portSize
            return make(opcode < 0xE6 ? .inImmediate(port: port, size: size) : .outImmediate(port: port, size: size))
        case 0xEC: return make(.inDX(size: 1))
        case 0xED: return make(.inDX(size: portSize))
        case 0xEE: return make(.outDX(size: 1))
        case 0xEF: return make(.outDX(size: portSize))
        case 0x6C: return make(.ins(size: 1))
        case 0x6D: return make(.ins(size: portSize))
        case 0x6E: return make(.outs(size: 1))
        case 0x6F: return make(.outs(size: portSize))
        case 0x0F: break
        default: return nil
        }

        // Two-byte opcodes.
        guard let second = c.next() else { return nil }
        if lock && second != 0x20 && second != 0x22 { return nil }
        switch second {
        case 0x06: return make(.clts)
        case 0x07: return make(.sysret)
        case 0x08: return make(.invd)
        case 0x09: return make(.wbinvd)
        case 0x30: return make(.wrmsr)
        case 0x31: return make(.rdtsc)
        case 0x32: return make(.rdmsr)
        case 0x33: return make(.rdpmc)
        case 0x35: return make(.sysexit)
        case 0xA2: return make(.cpuid)

        case 0x20, 0x21, 0x22, 0x23:
            // In 64-bit mode these always take the register form: the mod bits are ignored and no
            // SIB or displacement follows. REX.R extends the CR/DR number, REX.B the GPR.
            guard let modrm = c.next() else { return nil }
            var control = Int((modrm >> 3) & 7) | (rexR ? 8 : 0)
            let gpr = Int(modrm & 7) | (rexB ? 8 : 0)
            if lock {
                // AMD's alternative encoding of CR8 (CR8Legacy); any other LOCKed form raises #UD.
                guard control == 0 else { return nil }
                control = 8
            }
            let kind: Kind = switch second {
            case 0x20: .movFromCR(cr: control, gpr: gpr)
            case 0x22: .movToCR(cr: control, gpr: gpr)
            case 0x21: .movFromDR(dr: control, gpr: gpr)
            default: .movToDR(dr: control, gpr: gpr)
            }
            return make(kind, operandSize: 8)

        case 0x00:
            guard let m = c.modRM() else { return nil }
            switch m.reg {
            case 2: return make(.lldt)
            case 3: return make(.ltr)
            default: return nil     // sldt, str, verr, verw: not privileged
            }

        case 0x01:
            guard let modrm = c.peek() else { return nil }
            if modrm >> 6 != 3 {
                guard let m = c.modRM() else { return nil }
                switch m.reg {
                case 2: return make(.lgdt, operandSize: 8)
                case 3: return make(.lidt, operandSize: 8)
                case 6: return make(.lmsw)
                case 7: return make(.invlpg)
                default: return nil     // sgdt, sidt, smsw and prefix-selected forms
                }
            }
            c.skip()
            // Register forms of group 7: the whole ModRM byte names the instruction.
            if (modrm >> 3) & 7 == 6 { return make(.lmsw) }
            // F2/F3 select different (CET, etc.) instructions in this space.
            guard repPrefix == nil else { return nil }
            switch modrm {
            case 0xD1: return make(.xsetbv)
            case 0xF8: return make(.swapgs)
            case 0xF9: return make(.rdtscp)
            case 0xC1...0xC4, 0xC8...0xCB, 0xD8...0xDF:
                return make(.other(opcode: [0x0F, 0x01, modrm]))
            default: return nil
            }

        case 0x38:
            // 66 0F 38 80/81/82 /r: INVEPT, INVVPID, INVPCID; the 66 prefix is mandatory.
            guard let third = c.next(), (0x80...0x82).contains(third),
                  operandPrefix, repPrefix == nil,
                  let m = c.modRM(), m.mod != 3 else { return nil }
            return make(.other(opcode: [0x0F, 0x38, third]), operandSize: 8)

        default:
            return nil
        }
    }
}

/// Reads instruction bytes one at a time, never past the given bytes nor past the 15-byte limit.
private struct ByteCursor {
    private let bytes: [UInt8]
    private let limit: Int
    private(set) var position = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.limit = min(bytes.count, DecodedInstruction.maxLength)
    }

    func peek() -> UInt8? { position < limit ? bytes[position] : nil }

    mutating func next() -> UInt8? {
        guard position < limit else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func skip() { position += 1 }

    /// Consumes a ModRM byte and, for memory operands, its SIB byte and displacement
    /// (64-bit mode: the layout is the same for 64- and 32-bit address sizes).
    /// Returns nil if any of those bytes are missing.
    mutating func modRM() -> (mod: UInt8, reg: UInt8, rm: UInt8)? {
        guard let m = next() else { return nil }
        let mod = m >> 6, reg = (m >> 3) & 7, rm = m & 7
        guard mod != 3 else { return (mod, reg, rm) }
        var displacement = 0
        if rm == 4 {
            // SIB follows; base 101 with mod 00 means disp32 and no base register.
            guard let sib = next() else { return nil }
            if mod == 0 && sib & 7 == 5 { displacement = 4 }
        } else if mod == 0 && rm == 5 {
            displacement = 4    // RIP-relative (EIP-relative with 67)
        }
        if mod == 1 { displacement = 1 }
        if mod == 2 { displacement = 4 }
        for _ in 0..<displacement {
            guard next() != nil else { return nil }
        }
        return (mod, reg, rm)
    }
}
