import Testing
@testable import Hypervisor

/// One encoding and what it must decode to.
struct PrivilegedEncoding: CustomTestStringConvertible, Sendable {
    let bytes: [UInt8]
    let expected: DecodedInstruction
    var testDescription: String { bytes.map { String($0, radix: 16) }.joined(separator: " ") }

    init(_ bytes: [UInt8], _ kind: DecodedInstruction.Kind, length: Int? = nil, operandSize: Int = 4,
         addressSize: Int = 8, rep: Bool = false, segment: UInt8? = nil) {
        self.bytes = bytes
        self.expected = DecodedInstruction(length: length ?? bytes.count, kind: kind, operandSize: operandSize,
                                           addressSize: addressSize, rep: rep, segmentOverride: segment)
    }
}

let disp32Bytes: [UInt8] = [0x78, 0x56, 0x34, 0x12]

/// Every kind, with register, memory, prefix and REX variants. Lengths are the byte counts.
let privilegedEncodings: [PrivilegedEncoding] = [
    // No operands.
    PrivilegedEncoding([0x0F, 0x32], .rdmsr),
    PrivilegedEncoding([0x0F, 0x30], .wrmsr),
    PrivilegedEncoding([0x0F, 0xA2], .cpuid),
    PrivilegedEncoding([0x0F, 0x31], .rdtsc),
    PrivilegedEncoding([0x0F, 0x01, 0xF9], .rdtscp),
    PrivilegedEncoding([0x0F, 0x33], .rdpmc),
    PrivilegedEncoding([0x0F, 0x06], .clts),
    PrivilegedEncoding([0x0F, 0x08], .invd),
    PrivilegedEncoding([0x0F, 0x09], .wbinvd),
    PrivilegedEncoding([0xF3, 0x0F, 0x09], .wbinvd, rep: true),                                      // WBNOINVD
    PrivilegedEncoding([0x0F, 0x01, 0xD1], .xsetbv),
    PrivilegedEncoding([0xF4], .hlt),
    PrivilegedEncoding([0xFA], .cli),
    PrivilegedEncoding([0xFB], .sti),
    PrivilegedEncoding([0x0F, 0x01, 0xF8], .swapgs),
    PrivilegedEncoding([0x0F, 0x07], .sysret),
    PrivilegedEncoding([0x48, 0x0F, 0x07], .sysret, operandSize: 8),                                 // sysretq
    PrivilegedEncoding([0x0F, 0x35], .sysexit),
    PrivilegedEncoding([0xCD, 0x80], .int(vector: 0x80)),
    PrivilegedEncoding([0xCD, 0x03], .int(vector: 3)),
    PrivilegedEncoding([0x0F, 0x0B, 0x78, 0x65, 0x6E, 0x0F, 0xA2], .forcedEmulationCPUID),

    // Port I/O.
    PrivilegedEncoding([0xE4, 0x60], .inImmediate(port: 0x60, size: 1)),
    PrivilegedEncoding([0xE5, 0x71], .inImmediate(port: 0x71, size: 4)),
    PrivilegedEncoding([0x66, 0xE5, 0x71], .inImmediate(port: 0x71, size: 2), operandSize: 2),
    PrivilegedEncoding([0x48, 0xE5, 0x71], .inImmediate(port: 0x71, size: 4), operandSize: 8),       // REX.W ignored
    PrivilegedEncoding([0xE6, 0x80], .outImmediate(port: 0x80, size: 1)),
    PrivilegedEncoding([0xE7, 0xFF], .outImmediate(port: 0xFF, size: 4)),
    PrivilegedEncoding([0x66, 0xE7, 0x42], .outImmediate(port: 0x42, size: 2), operandSize: 2),
    PrivilegedEncoding([0xEC], .inDX(size: 1)),
    PrivilegedEncoding([0xED], .inDX(size: 4)),
    PrivilegedEncoding([0x66, 0xED], .inDX(size: 2), operandSize: 2),
    PrivilegedEncoding([0xEE], .outDX(size: 1)),
    PrivilegedEncoding([0xEF], .outDX(size: 4)),
    PrivilegedEncoding([0x66, 0xEF], .outDX(size: 2), operandSize: 2),
    PrivilegedEncoding([0x66, 0x48, 0xEF], .outDX(size: 2), operandSize: 8),
    PrivilegedEncoding([0x6C], .ins(size: 1)),
    PrivilegedEncoding([0x6D], .ins(size: 4)),
    PrivilegedEncoding([0x66, 0x6D], .ins(size: 2), operandSize: 2),
    PrivilegedEncoding([0xF3, 0x6C], .ins(size: 1), rep: true),
    PrivilegedEncoding([0xF2, 0x6D], .ins(size: 4), rep: true),
    PrivilegedEncoding([0x6E], .outs(size: 1)),
    PrivilegedEncoding([0x6F], .outs(size: 4)),
    PrivilegedEncoding([0xF3, 0x66, 0x6F], .outs(size: 2), operandSize: 2, rep: true),
    PrivilegedEncoding([0x67, 0xF3, 0x6E], .outs(size: 1), addressSize: 4, rep: true),
    PrivilegedEncoding([0x64, 0x6E], .outs(size: 1), segment: 0x64),
    PrivilegedEncoding([0x2E, 0x65, 0xF3, 0x6F], .outs(size: 4), rep: true, segment: 0x65),          // last override wins

    // mov to/from CR: register form always, REX.R extends CR, REX.B extends the GPR.
    PrivilegedEncoding([0x0F, 0x20, 0xD8], .movFromCR(cr: 3, gpr: 0), operandSize: 8),
    PrivilegedEncoding([0x0F, 0x22, 0xD8], .movToCR(cr: 3, gpr: 0), operandSize: 8),
    PrivilegedEncoding([0x0F, 0x20, 0xC4], .movFromCR(cr: 0, gpr: 4), operandSize: 8),
    PrivilegedEncoding([0x0F, 0x22, 0xE7], .movToCR(cr: 4, gpr: 7), operandSize: 8),
    PrivilegedEncoding([0x0F, 0x20, 0xD1], .movFromCR(cr: 2, gpr: 1), operandSize: 8),
    PrivilegedEncoding([0x44, 0x0F, 0x20, 0xC0], .movFromCR(cr: 8, gpr: 0), operandSize: 8),
    PrivilegedEncoding([0x41, 0x0F, 0x22, 0xDF], .movToCR(cr: 3, gpr: 15), operandSize: 8),
    PrivilegedEncoding([0x45, 0x0F, 0x20, 0xC1], .movFromCR(cr: 8, gpr: 9), operandSize: 8),
    PrivilegedEncoding([0x49, 0x0F, 0x22, 0xD8], .movToCR(cr: 3, gpr: 8), operandSize: 8),
    PrivilegedEncoding([0x0F, 0x20, 0x18], .movFromCR(cr: 3, gpr: 0), operandSize: 8),               // mod 00 ignored
    PrivilegedEncoding([0x0F, 0x20, 0x1C], .movFromCR(cr: 3, gpr: 4), operandSize: 8),               // no SIB
    PrivilegedEncoding([0x0F, 0x22, 0x1D], .movToCR(cr: 3, gpr: 5), operandSize: 8),                 // no disp32
    PrivilegedEncoding([0x0F, 0x20, 0x5D], .movFromCR(cr: 3, gpr: 5), operandSize: 8),               // no disp8
    PrivilegedEncoding([0x0F, 0x22, 0x98], .movToCR(cr: 3, gpr: 0), operandSize: 8),                 // no disp32
    PrivilegedEncoding([0x66, 0x0F, 0x20, 0xE0], .movFromCR(cr: 4, gpr: 0), operandSize: 8),
    PrivilegedEncoding([0xF0, 0x0F, 0x20, 0xC0], .movFromCR(cr: 8, gpr: 0), operandSize: 8),         // AMD CR8 alias
    PrivilegedEncoding([0xF0, 0x0F, 0x22, 0xC3], .movToCR(cr: 8, gpr: 3), operandSize: 8),
    PrivilegedEncoding([0x44, 0x66, 0x0F, 0x20, 0xC0], .movFromCR(cr: 0, gpr: 0), operandSize: 8),   // REX not last: ignored
    PrivilegedEncoding([0x66, 0x44, 0x0F, 0x20, 0xC0], .movFromCR(cr: 8, gpr: 0), operandSize: 8),
    PrivilegedEncoding([0x41, 0x44, 0x0F, 0x20, 0xC0], .movFromCR(cr: 8, gpr: 0), operandSize: 8),   // last REX wins

    // mov to/from DR.
    PrivilegedEncoding([0x0F, 0x21, 0xF8], .movFromDR(dr: 7, gpr: 0), operandSize: 8),
    PrivilegedEncoding([0x0F, 0x23, 0xC1], .movToDR(dr: 0, gpr: 1), operandSize: 8),
    PrivilegedEncoding([0x41, 0x0F, 0x23, 0xF6], .movToDR(dr: 6, gpr: 14), operandSize: 8),
    PrivilegedEncoding([0x44, 0x0F, 0x21, 0xC0], .movFromDR(dr: 8, gpr: 0), operandSize: 8),
    PrivilegedEncoding([0x0F, 0x21, 0x3C], .movFromDR(dr: 7, gpr: 4), operandSize: 8),               // mod 00 ignored

    // lgdt: every ModRM/SIB/displacement shape.
    PrivilegedEncoding([0x0F, 0x01, 0x10], .lgdt, operandSize: 8),                                   // [rax]
    PrivilegedEncoding([0x0F, 0x01, 0x14, 0x24], .lgdt, operandSize: 8),                             // [rsp] via SIB
    PrivilegedEncoding([0x0F, 0x01, 0x14, 0x98], .lgdt, operandSize: 8),                             // [rax+rbx*4]
    PrivilegedEncoding([0x0F, 0x01, 0x15] + disp32Bytes, .lgdt, operandSize: 8),                     // [rip+disp32]
    PrivilegedEncoding([0x0F, 0x01, 0x14, 0x25] + disp32Bytes, .lgdt, operandSize: 8),               // [disp32] via SIB
    PrivilegedEncoding([0x0F, 0x01, 0x14, 0x45] + disp32Bytes, .lgdt, operandSize: 8),               // [disp32+rax*2], no base
    PrivilegedEncoding([0x0F, 0x01, 0x50, 0x08], .lgdt, operandSize: 8),                             // [rax+disp8]
    PrivilegedEncoding([0x0F, 0x01, 0x55, 0xF8], .lgdt, operandSize: 8),                             // [rbp+disp8]
    PrivilegedEncoding([0x0F, 0x01, 0x54, 0x24, 0x08], .lgdt, operandSize: 8),                       // [rsp+disp8]
    PrivilegedEncoding([0x0F, 0x01, 0x54, 0x25, 0x08], .lgdt, operandSize: 8),                       // [rbp+disp8] via SIB
    PrivilegedEncoding([0x0F, 0x01, 0x90] + disp32Bytes, .lgdt, operandSize: 8),                     // [rax+disp32]
    PrivilegedEncoding([0x0F, 0x01, 0x94, 0x24] + disp32Bytes, .lgdt, operandSize: 8),               // [rsp+disp32]
    PrivilegedEncoding([0x0F, 0x01, 0x94, 0x25] + disp32Bytes, .lgdt, operandSize: 8),               // [rbp+disp32] via SIB
    PrivilegedEncoding([0x41, 0x0F, 0x01, 0x15] + disp32Bytes, .lgdt, operandSize: 8),               // REX.B: still RIP-relative
    PrivilegedEncoding([0x41, 0x0F, 0x01, 0x14, 0x24], .lgdt, operandSize: 8),                       // REX.B: [r12] still SIB
    PrivilegedEncoding([0x41, 0x0F, 0x01, 0x55, 0x00], .lgdt, operandSize: 8),                       // [r13+0]
    PrivilegedEncoding([0x67, 0x0F, 0x01, 0x15] + disp32Bytes, .lgdt, operandSize: 8, addressSize: 4),  // [eip+disp32]
    PrivilegedEncoding([0x67, 0x0F, 0x01, 0x14, 0x24], .lgdt, operandSize: 8, addressSize: 4),
    PrivilegedEncoding([0x2E, 0x0F, 0x01, 0x10], .lgdt, operandSize: 8, segment: 0x2E),
    // lidt.
    PrivilegedEncoding([0x0F, 0x01, 0x18], .lidt, operandSize: 8),
    PrivilegedEncoding([0x41, 0x0F, 0x01, 0x1B], .lidt, operandSize: 8),
    PrivilegedEncoding([0x0F, 0x01, 0x1D] + disp32Bytes, .lidt, operandSize: 8),
    PrivilegedEncoding([0x0F, 0x01, 0x5C, 0x24, 0x10], .lidt, operandSize: 8),
    // lldt / ltr: register or memory.
    PrivilegedEncoding([0x0F, 0x00, 0xD0], .lldt),
    PrivilegedEncoding([0x0F, 0x00, 0x10], .lldt),
    PrivilegedEncoding([0x0F, 0x00, 0x15] + disp32Bytes, .lldt),
    PrivilegedEncoding([0x0F, 0x00, 0xD8], .ltr),
    PrivilegedEncoding([0x41, 0x0F, 0x00, 0xDF], .ltr),
    PrivilegedEncoding([0x0F, 0x00, 0x5C, 0x24, 0x10], .ltr),
    PrivilegedEncoding([0x0F, 0x00, 0x9C, 0x88] + disp32Bytes, .ltr),
    // lmsw: register or memory.
    PrivilegedEncoding([0x0F, 0x01, 0xF0], .lmsw),
    PrivilegedEncoding([0x0F, 0x01, 0xF7], .lmsw),
    PrivilegedEncoding([0x0F, 0x01, 0x30], .lmsw),
    PrivilegedEncoding([0x0F, 0x01, 0x70, 0x7F], .lmsw),
    // invlpg: memory only.
    PrivilegedEncoding([0x0F, 0x01, 0x38], .invlpg),
    PrivilegedEncoding([0x0F, 0x01, 0x3D] + disp32Bytes, .invlpg),
    PrivilegedEncoding([0x0F, 0x01, 0x3C, 0x24], .invlpg),
    PrivilegedEncoding([0x0F, 0x01, 0x7C, 0x24, 0x08], .invlpg),
    PrivilegedEncoding([0x0F, 0x01, 0xB8] + disp32Bytes, .invlpg),
    PrivilegedEncoding([0x67, 0x0F, 0x01, 0x38], .invlpg, addressSize: 4),
    PrivilegedEncoding([0x65, 0x0F, 0x01, 0x38], .invlpg, segment: 0x65),
    PrivilegedEncoding([0x41, 0x0F, 0x01, 0x3F], .invlpg),

    // Recognised, never emulated.
    PrivilegedEncoding([0x0F, 0x01, 0xD9], .other(opcode: [0x0F, 0x01, 0xD9])),                      // vmmcall
    PrivilegedEncoding([0x0F, 0x01, 0xC1], .other(opcode: [0x0F, 0x01, 0xC1])),                      // vmcall
    PrivilegedEncoding([0x0F, 0x01, 0xC9], .other(opcode: [0x0F, 0x01, 0xC9])),                      // mwait
    PrivilegedEncoding([0x0F, 0x01, 0xCB], .other(opcode: [0x0F, 0x01, 0xCB])),                      // stac
    PrivilegedEncoding([0x66, 0x0F, 0x38, 0x82, 0x08], .other(opcode: [0x0F, 0x38, 0x82]), operandSize: 8),  // invpcid
    PrivilegedEncoding([0x66, 0x0F, 0x38, 0x80, 0x0D] + disp32Bytes, .other(opcode: [0x0F, 0x38, 0x80]), operandSize: 8),
]

@Suite struct EmulationDecoderTests {
    @Test(arguments: privilegedEncodings)
    func decodesWithExactLength(_ e: PrivilegedEncoding) {
        #expect(DecodedInstruction.decode(e.bytes) == e.expected)
    }

    @Test(arguments: privilegedEncodings)
    func trailingBytesDoNotChangeTheResult(_ e: PrivilegedEncoding) {
        let padded = e.bytes + [UInt8](repeating: 0x90, count: 20)
        #expect(DecodedInstruction.decode(padded) == e.expected)
        #expect(DecodedInstruction.decode(e.bytes + [0x0F, 0x01, 0x15]) == e.expected)
    }

    @Test(arguments: privilegedEncodings)
    func everyTruncationIsNil(_ e: PrivilegedEncoding) {
        for n in 0..<e.bytes.count {
            #expect(DecodedInstruction.decode(Array(e.bytes.prefix(n))) == nil, "first \(n) bytes")
        }
    }

    @Test func fifteenByteLimit() {
        // 12 prefixes + 3 opcode bytes = 15: fine.
        let fifteen = [UInt8](repeating: 0x3E, count: 12) + [0x0F, 0x01, 0xF8]
        #expect(DecodedInstruction.decode(fifteen)?.length == 15)
        // One more prefix: 16 bytes is #GP on hardware, nil here, however many bytes are given.
        let sixteen = [UInt8](repeating: 0x3E, count: 13) + [0x0F, 0x01, 0xF8]
        #expect(DecodedInstruction.decode(sixteen) == nil)
        // Displacement pushing past 15.
        let longLGDT = [UInt8](repeating: 0x66, count: 8) + [0x0F, 0x01, 0x15] + disp32Bytes   // 15
        #expect(DecodedInstruction.decode(longLGDT + [0x90])?.length == 15)
        let tooLongLGDT = [UInt8](repeating: 0x66, count: 9) + [0x0F, 0x01, 0x15] + disp32Bytes  // 16
        #expect(DecodedInstruction.decode(tooLongLGDT) == nil)
        #expect(DecodedInstruction.decode([UInt8](repeating: 0x66, count: 40)) == nil)
    }

    @Test func prefixFields() throws {
        let i = try #require(DecodedInstruction.decode([0x66, 0x67, 0xF3, 0x26, 0x48, 0x6D]))
        #expect(i.length == 6)
        #expect(i.kind == .ins(size: 2))   // 66 selects the 16-bit port; REX.W does not widen it
        #expect(i.operandSize == 8)
        #expect(i.addressSize == 4)
        #expect(i.rep)
        #expect(i.segmentOverride == 0x26)
        let plain = try #require(DecodedInstruction.decode([0x0F, 0x32]))
        #expect(plain.operandSize == 4 && plain.addressSize == 8 && !plain.rep && plain.segmentOverride == nil)
        // REX followed by a legacy prefix is ignored.
        #expect(DecodedInstruction.decode([0x48, 0x66, 0xED])?.operandSize == 2)
        #expect(DecodedInstruction.decode([0x66, 0x48, 0xED])?.operandSize == 8)
    }

    @Test(arguments: [
        [UInt8](),
        [0x90],                                   // nop
        [0x0F],
        [0x0F, 0x0B],                             // plain ud2
        [0x0F, 0x0B, 0x78, 0x65, 0x6E],           // signature without cpuid
        [0x0F, 0x0B, 0x78, 0x65, 0x6E, 0x0F, 0xA3],
        [0x0F, 0x0B, 0x78, 0x65, 0x6F, 0x0F, 0xA2],
        [0x66, 0x0F, 0x0B, 0x78, 0x65, 0x6E, 0x0F, 0xA2],   // no prefix before the signature
        [0x0F, 0x0B, 0x78, 0x65, 0x6E, 0x66, 0x0F, 0xA2],   // nor between it and cpuid
        [0x0F, 0x00, 0xC0],                       // sldt
        [0x0F, 0x00, 0x08],                       // str
        [0x0F, 0x00, 0x20],                       // verr
        [0x0F, 0x01, 0x00],                       // sgdt
        [0x0F, 0x01, 0x08],                       // sidt
        [0x0F, 0x01, 0x20],                       // smsw
        [0x0F, 0x01, 0xD0],                       // xgetbv
        [0x0F, 0x01, 0xEE],                       // rdpkru
        [0xF3, 0x0F, 0x01, 0xF8],                 // F3 selects another instruction
        [0xF2, 0x0F, 0x01, 0xD1],
        [0x0F, 0x38, 0x82, 0x08],                 // invpcid needs 66
        [0x66, 0x0F, 0x38, 0x82, 0xC8],           // invpcid has no register form
        [0x66, 0x0F, 0x38, 0x83, 0x08],
        [0xF0, 0xF4],                             // LOCK on anything else is #UD
        [0xF0, 0x0F, 0x32],
        [0xF0, 0x0F, 0x20, 0xD8],                 // LOCK mov cr3
        [0xF0, 0x44, 0x0F, 0x20, 0xC0],           // LOCK with REX.R
        [0xF0, 0x0F, 0x21, 0xC0],                 // LOCK mov dr
        [0xF0, 0x0F, 0x01, 0x10],
        [0xCC],                                   // int3
        [0xCE],                                   // into
        [0x0F, 0x05],                             // syscall
        [0x0F, 0x34],                             // sysenter
        [0x0F, 0xFF],
        [0x40],                                   // lone REX
        [0xC4, 0xE2, 0x79, 0x82, 0x08],           // VEX, not handled
    ] as [[UInt8]])
    func rejects(_ bytes: [UInt8]) {
        #expect(DecodedInstruction.decode(bytes) == nil)
    }
}
