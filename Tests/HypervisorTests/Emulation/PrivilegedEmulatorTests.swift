import Testing
@testable import Hypervisor

/// A scripted vCPU/domain: MSRs, CRs and ports from tables, a sparse guest memory, and a log.
struct FakePrivilegedContext: PrivilegedContext {
    struct PortWrite: Equatable { let port: UInt16; let size: Int; let value: UInt32 }

    var emulateAll = false
    var virtualInterruptsEnabled = true
    var msrs: [UInt32: UInt64] = [0xC000_0101: 0xAABB_CCDD_1122_3344]
    var refusedMSRs: Set<UInt32> = [0xC000_0080]
    var msrWrites: [UInt32: UInt64] = [:]
    var crs: [Int: UInt64] = [0: 0x8005_003B, 2: 0xFFFF_8000_DEAD_B000, 3: 0x0000_0012_3456_7000, 4: 0x620]
    var writableCRs: Set<Int> = [0, 3, 4]
    var crWrites: [Int: UInt64] = [:]
    var portInputs: [UInt32] = []          // consumed in order; all ones once empty
    var portReads: [(port: UInt16, size: Int)] = []
    var portWrites: [PortWrite] = []
    var mapped: [Range<UInt64>] = [0x1000..<0x3000]
    var memory: [UInt64: UInt8] = [:]
    var cpuidCalls: [(leaf: UInt32, subleaf: UInt32)] = []
    var cpuidAnswer: (eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32) = (0x8000_0001, 0x8000_0002, 0x8000_0003, 0x8000_0004)
    var tscValue: UInt64 = 0x1122_3344_5566_7788

    func isMapped(_ va: UInt64, _ count: Int) -> Bool {
        (0..<UInt64(count)).allSatisfy { i in mapped.contains { $0.contains(va &+ i) } }
    }

    mutating func readMSR(_ index: UInt32) -> UInt64? { msrs[index] }
    mutating func writeMSR(_ index: UInt32, _ value: UInt64) -> Bool {
        guard !refusedMSRs.contains(index) else { return false }
        msrWrites[index] = value
        return true
    }
    func cpuid(leaf: UInt32, subleaf: UInt32) -> (eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32) {
        (cpuidAnswer.eax ^ leaf, cpuidAnswer.ebx ^ subleaf, cpuidAnswer.ecx, cpuidAnswer.edx)
    }
    func readCR(_ n: Int) -> UInt64? { crs[n] }
    mutating func writeCR(_ n: Int, _ value: UInt64) -> Bool {
        guard writableCRs.contains(n) else { return false }
        crWrites[n] = value
        crs[n] = value
        return true
    }
    mutating func readPort(_ port: UInt16, size: Int) -> UInt32 {
        portReads.append((port, size))
        return portInputs.isEmpty ? .max : portInputs.removeFirst()
    }
    mutating func writePort(_ port: UInt16, size: Int, value: UInt32) {
        portWrites.append(PortWrite(port: port, size: size, value: value))
    }
    func readGuest(_ va: UInt64, count: Int) -> [UInt8]? {
        guard isMapped(va, count) else { return nil }
        return (0..<UInt64(count)).map { memory[va &+ $0] ?? 0 }
    }
    mutating func writeGuest(_ va: UInt64, _ bytes: [UInt8]) -> Bool {
        guard isMapped(va, bytes.count) else { return false }
        for (i, b) in bytes.enumerated() { memory[va &+ UInt64(i)] = b }
        return true
    }
    func tsc() -> UInt64 { tscValue }

    func bytes(at va: UInt64, _ count: Int) -> [UInt8] { (0..<UInt64(count)).map { memory[va + $0] ?? 0 } }
}

/// Decodes `bytes` (which must decode) and emulates it at RIP 0x40_0000.
private func run(_ bytes: [UInt8], _ r: inout CPURegisters, _ ctx: inout FakePrivilegedContext) throws -> EmulationResult {
    let insn = try #require(DecodedInstruction.decode(bytes))
    return PrivilegedEmulator.emulate(insn, registers: &r, context: &ctx)
}

private let rip0: UInt64 = 0x40_0000
private let garbage: UInt64 = 0xDEAD_BEEF_0000_0000

private func regs(_ setup: (inout CPURegisters) -> Void = { _ in }) -> CPURegisters {
    var r = CPURegisters()
    r.rip = rip0
    r.rflags = 0x202
    setup(&r)
    return r
}

/// Sets the GPR with ModRM number `n`.
private func setGPR(_ r: inout CPURegisters, _ n: Int, _ v: UInt64) {
    switch n {
    case 0: r.rax = v; case 1: r.rcx = v; case 2: r.rdx = v; case 3: r.rbx = v
    case 4: r.rsp = v; case 5: r.rbp = v; case 6: r.rsi = v; case 7: r.rdi = v
    case 8: r.r8 = v; case 9: r.r9 = v; case 10: r.r10 = v; case 11: r.r11 = v
    case 12: r.r12 = v; case 13: r.r13 = v; case 14: r.r14 = v; default: r.r15 = v
    }
}

private func gpr(_ r: CPURegisters, _ n: Int) -> UInt64 {
    [r.rax, r.rcx, r.rdx, r.rbx, r.rsp, r.rbp, r.rsi, r.rdi,
     r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15][n]
}

@Suite struct EmulationPrivilegedEmulatorTests {
    // MARK: MSRs

    @Test func rdmsrSplitsIntoZeroExtendedEAXAndEDX() throws {
        var ctx = FakePrivilegedContext()
        var r = regs { $0.rcx = garbage | 0xC000_0101; $0.rax = .max; $0.rdx = .max }
        #expect(try run([0x0F, 0x32], &r, &ctx) == .emulated)
        #expect(r.rax == 0x1122_3344)
        #expect(r.rdx == 0xAABB_CCDD)
        #expect(r.rcx == garbage | 0xC000_0101)
        #expect(r.rip == rip0 + 2)
    }

    @Test func rdmsrOfAnUnknownMSRIsGP0() throws {
        var ctx = FakePrivilegedContext()
        var r = regs { $0.rcx = 0x1B; $0.rax = 7; $0.rdx = 9 }
        let before = r
        #expect(try run([0x0F, 0x32], &r, &ctx) == .generalProtection(errorCode: 0))
        #expect(r == before)
    }

    @Test func wrmsrJoinsEDXAndEAXIgnoringUpperHalves() throws {
        var ctx = FakePrivilegedContext()
        var r = regs { $0.rcx = garbage | 0xC000_0100; $0.rdx = garbage | 0xFFFF_8000; $0.rax = garbage | 0x1234_5000 }
        let before = r
        #expect(try run([0x0F, 0x30], &r, &ctx) == .emulated)
        #expect(ctx.msrWrites == [0xC000_0100: 0xFFFF_8000_1234_5000])
        var expected = before
        expected.rip += 2
        #expect(r == expected)
    }

    @Test func refusedWrmsrIsGP0() throws {
        var ctx = FakePrivilegedContext()
        var r = regs { $0.rcx = 0xC000_0080; $0.rax = 0xD01 }
        #expect(try run([0x0F, 0x30], &r, &ctx) == .generalProtection(errorCode: 0))
        #expect(r.rip == rip0)
        #expect(ctx.msrWrites.isEmpty)
    }

    // MARK: CPUID, TSC

    @Test func cpuidWritesAllFourRegistersZeroExtended() throws {
        var ctx = FakePrivilegedContext()
        var r = regs { $0.rax = garbage | 0x4000_0000; $0.rcx = garbage | 3; $0.rbx = .max; $0.rdx = .max }
        #expect(try run([0x0F, 0xA2], &r, &ctx) == .emulated)
        #expect(r.rax == UInt64(0x8000_0001 ^ 0x4000_0000))
        #expect(r.rbx == UInt64(0x8000_0002 ^ 3))
        #expect(r.rcx == 0x8000_0003)
        #expect(r.rdx == 0x8000_0004)
        #expect(r.rip == rip0 + 2)
    }

    @Test func forcedEmulationPrefixRunsCPUIDAndSkipsSevenBytes() throws {
        var ctx = FakePrivilegedContext()
        var r = regs { $0.rax = 0x4000_0000; $0.rcx = 0 }
        let bytes: [UInt8] = [0x0F, 0x0B, 0x78, 0x65, 0x6E, 0x0F, 0xA2, 0x90, 0x90]
        #expect(try run(bytes, &r, &ctx) == .emulated)
        #expect(r.rip == rip0 + 7)
        #expect(r.rax == UInt64(0x8000_0001 ^ 0x4000_0000))
        #expect(r.rdx == 0x8000_0004)
    }

    @Test func forcedEmulationWithTheRealPolicyShowsXen() throws {
        struct PolicyContext: PrivilegedContext {
            var inner = FakePrivilegedContext()
            let policy = CPUIDPolicy { _, _ in (0, 0, 0, 0) }
            var emulateAll: Bool { false }
            var virtualInterruptsEnabled: Bool { get { true } set {} }
            mutating func readMSR(_ index: UInt32) -> UInt64? { nil }
            mutating func writeMSR(_ index: UInt32, _ value: UInt64) -> Bool { false }
            func cpuid(leaf: UInt32, subleaf: UInt32) -> (eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32) {
                policy.query(leaf: leaf, subleaf: subleaf)
            }
            func readCR(_ n: Int) -> UInt64? { nil }
            mutating func writeCR(_ n: Int, _ value: UInt64) -> Bool { false }
            mutating func readPort(_ port: UInt16, size: Int) -> UInt32 { .max }
            mutating func writePort(_ port: UInt16, size: Int, value: UInt32) {}
            func readGuest(_ va: UInt64, count: Int) -> [UInt8]? { nil }
            mutating func writeGuest(_ va: UInt64, _ bytes: [UInt8]) -> Bool { false }
            func tsc() -> UInt64 { 0 }
        }
        var ctx = PolicyContext()
        var r = regs { $0.rax = 0x4000_0000 }
        let insn = try #require(DecodedInstruction.decode([0x0F, 0x0B, 0x78, 0x65, 0x6E, 0x0F, 0xA2]))
        #expect(PrivilegedEmulator.emulate(insn, registers: &r, context: &ctx) == .emulated)
        var name: [UInt8] = []
        for v in [r.rbx, r.rcx, r.rdx] { for i in 0..<4 { name.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
        #expect(String(decoding: name, as: UTF8.self) == "XenVMMXenVMM")
        #expect(r.rax == 0x4000_0002)
    }

    @Test func rdtscAndRdtscp() throws {
        var ctx = FakePrivilegedContext()
        var r = regs { $0.rax = .max; $0.rdx = .max; $0.rcx = .max }
        #expect(try run([0x0F, 0x31], &r, &ctx) == .emulated)
        #expect(r.rax == 0x5566_7788 && r.rdx == 0x1122_3344 && r.rcx == .max)
        #expect(r.rip == rip0 + 2)
        r = regs { $0.rax = .max; $0.rdx = .max; $0.rcx = .max }
        #expect(try run([0x0F, 0x01, 0xF9], &r, &ctx) == .emulated)
        #expect(r.rax == 0x5566_7788 && r.rdx == 0x1122_3344 && r.rcx == 0)
        #expect(r.rip == rip0 + 3)
    }

    // MARK: Port I/O

    @Test(arguments: [
        ([0xE4, 0x71] as [UInt8], UInt16(0x71), 1, UInt64(0xFFFF_FFFF_FFFF_FF34)),
        ([0x66, 0xE5, 0x71], 0x71, 2, 0xFFFF_FFFF_FFFF_1234),
        ([0xE5, 0x71], 0x71, 4, 0x0000_0000_ABCD_1234),
        ([0x48, 0xE5, 0x71], 0x71, 4, 0x0000_0000_ABCD_1234),
        ([0xEC], 0x3F8, 1, 0xFFFF_FFFF_FFFF_FF34),
        ([0x66, 0xED], 0x3F8, 2, 0xFFFF_FFFF_FFFF_1234),
        ([0xED], 0x3F8, 4, 0x0000_0000_ABCD_1234),
    ])
    func inMergesIntoRAX(_ bytes: [UInt8], _ port: UInt16, _ size: Int, _ rax: UInt64) throws {
        var ctx = FakePrivilegedContext()
        ctx.portInputs = [0xABCD_1234]
        var r = regs { $0.rax = .max; $0.rdx = garbage | 0xFFFF_03F8 }
        #expect(try run(bytes, &r, &ctx) == .emulated)
        #expect(ctx.portReads.count == 1)
        #expect(ctx.portReads.first?.port == port && ctx.portReads.first?.size == size)
        #expect(r.rax == rax)
        #expect(r.rip == rip0 + UInt64(bytes.count))
    }

    @Test func deniedInReadsAllOnes() throws {
        var ctx = FakePrivilegedContext()      // no inputs: the context answers all ones
        var r = regs { $0.rax = 0 }
        #expect(try run([0xE5, 0x60], &r, &ctx) == .emulated)
        #expect(r.rax == 0xFFFF_FFFF)
        r = regs { $0.rax = 0 }
        #expect(try run([0xE4, 0x60], &r, &ctx) == .emulated)
        #expect(r.rax == 0xFF)
    }

    @Test(arguments: [
        ([0xE6, 0x80] as [UInt8], UInt16(0x80), 1, UInt32(0x88)),
        ([0x66, 0xE7, 0x80], 0x80, 2, 0x7788),
        ([0xE7, 0x80], 0x80, 4, 0x5566_7788),
        ([0xEE], 0xCF8, 1, 0x88),
        ([0x66, 0xEF], 0xCF8, 2, 0x7788),
        ([0xEF], 0xCF8, 4, 0x5566_7788),
    ])
    func outSendsTheLowBytesOfRAX(_ bytes: [UInt8], _ port: UInt16, _ size: Int, _ value: UInt32) throws {
        var ctx = FakePrivilegedContext()
        var r = regs { $0.rax = 0x1122_3344_5566_7788; $0.rdx = garbage | 0x0CF8 }
        let before = r
        #expect(try run(bytes, &r, &ctx) == .emulated)
        #expect(ctx.portWrites == [.init(port: port, size: size, value: value)])
        var expected = before
        expected.rip += UInt64(bytes.count)
        #expect(r == expected)
    }

    // MARK: INS / OUTS

    @Test func repInsForward() throws {
        var ctx = FakePrivilegedContext()
        ctx.portInputs = [0xAA11, 0xBB22, 0xCC33]
        var r = regs { $0.rcx = 3; $0.rdi = 0x1000; $0.rdx = 0x1F0 }
        #expect(try run([0xF3, 0x66, 0x6D], &r, &ctx) == .emulated)   // rep insw
        #expect(ctx.bytes(at: 0x1000, 6) == [0x11, 0xAA, 0x22, 0xBB, 0x33, 0xCC])
        #expect(r.rdi == 0x1006 && r.rcx == 0)
        #expect(ctx.portReads.allSatisfy { $0.port == 0x1F0 && $0.size == 2 })
        #expect(r.rip == rip0 + 3)
    }

    @Test func repInsBackwardWithDF() throws {
        var ctx = FakePrivilegedContext()
        ctx.portInputs = [0x11, 0x22, 0x33]
        var r = regs { $0.rcx = 3; $0.rdi = 0x1004; $0.rdx = 0x60; $0.rflags |= 0x400 }
        #expect(try run([0xF3, 0x66, 0x6D], &r, &ctx) == .emulated)
        #expect(ctx.bytes(at: 0x1000, 6) == [0x33, 0, 0x22, 0, 0x11, 0])
        #expect(r.rdi == 0x0FFE && r.rcx == 0)
    }

    @Test func insWithoutRepMovesOneElementAndLeavesRCX() throws {
        var ctx = FakePrivilegedContext()
        ctx.portInputs = [0x4433_2211, 0x99]
        var r = regs { $0.rcx = 5; $0.rdi = 0x2000 }
        #expect(try run([0x6D], &r, &ctx) == .emulated)
        #expect(ctx.bytes(at: 0x2000, 5) == [0x11, 0x22, 0x33, 0x44, 0])
        #expect(r.rdi == 0x2004 && r.rcx == 5 && ctx.portReads.count == 1)
        #expect(r.rip == rip0 + 1)
    }

    @Test func repOutsForwardAndBackward() throws {
        var ctx = FakePrivilegedContext()
        for (i, b) in [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80].enumerated() { ctx.memory[0x1800 + UInt64(i)] = UInt8(b) }
        var r = regs { $0.rcx = 2; $0.rsi = 0x1800; $0.rdx = 0x3F8 }
        #expect(try run([0xF3, 0x6F], &r, &ctx) == .emulated)     // rep outsd
        #expect(ctx.portWrites == [.init(port: 0x3F8, size: 4, value: 0x4030_2010),
                                   .init(port: 0x3F8, size: 4, value: 0x8070_6050)])
        #expect(r.rsi == 0x1808 && r.rcx == 0 && r.rip == rip0 + 2)

        ctx.portWrites = []
        r = regs { $0.rcx = 3; $0.rsi = 0x1802; $0.rdx = 0x3F8; $0.rflags |= 0x400 }
        #expect(try run([0xF3, 0x6E], &r, &ctx) == .emulated)     // rep outsb, DF=1
        #expect(ctx.portWrites.map(\.value) == [0x30, 0x20, 0x10])
        #expect(ctx.portWrites.allSatisfy { $0.size == 1 })
        #expect(r.rsi == 0x17FF && r.rcx == 0)
    }

    @Test func repWithZeroCountDoesNothingButStillSkips() throws {
        var ctx = FakePrivilegedContext()
        var r = regs { $0.rcx = 0; $0.rsi = 0x1000 }
        #expect(try run([0xF3, 0x6E], &r, &ctx) == .emulated)
        #expect(ctx.portWrites.isEmpty && r.rsi == 0x1000 && r.rip == rip0 + 2)
        // 32-bit addressing: ECX = 0 even though RCX ≠ 0; RCX and RDI are zero-extended.
        r = regs { $0.rcx = garbage; $0.rdi = garbage | 0x1000 }
        #expect(try run([0x67, 0xF3, 0x6C], &r, &ctx) == .emulated)
        #expect(ctx.portReads.isEmpty && r.rcx == 0 && r.rdi == 0x1000 && r.rip == rip0 + 3)
    }

    @Test func addressSizePrefixUsesECXAndESI() throws {
        var ctx = FakePrivilegedContext()
        ctx.memory[0x2000] = 0xA1
        ctx.memory[0x2001] = 0xA2
        var r = regs { $0.rcx = garbage | 2; $0.rsi = garbage | 0x2000 }
        #expect(try run([0x67, 0xF3, 0x6E], &r, &ctx) == .emulated)
        #expect(ctx.portWrites.map(\.value) == [0xA1, 0xA2])
        #expect(r.rcx == 0 && r.rsi == 0x2002)
    }

    @Test func faultPartWayKeepsCompletedIterations() throws {
        var ctx = FakePrivilegedContext()
        ctx.mapped = [0x1000..<0x1002]
        var r = regs { $0.rcx = 4; $0.rsi = 0x1000 }
        #expect(try run([0xF3, 0x6E], &r, &ctx) == .fault)
        #expect(ctx.portWrites.count == 2)
        #expect(r.rcx == 2 && r.rsi == 0x1002 && r.rip == rip0)

        // INS into an unmapped buffer.
        r = regs { $0.rcx = 1; $0.rdi = 0x9000 }
        #expect(try run([0xF3, 0x6C], &r, &ctx) == .fault)
        #expect(r.rcx == 1 && r.rdi == 0x9000 && r.rip == rip0)
    }

    @Test func longRepRestartsTheInstruction() throws {
        var ctx = FakePrivilegedContext()
        ctx.mapped = [0x10_0000..<0x20_0000]
        let total = PrivilegedEmulator.maxRepetitionsPerExit + 100
        var r = regs { $0.rcx = UInt64(total); $0.rsi = 0x10_0000 }
        #expect(try run([0xF3, 0x6E], &r, &ctx) == .emulated)
        #expect(r.rip == rip0)                 // not finished: the guest re-executes it
        #expect(r.rcx == 100 && r.rsi == 0x10_0000 + UInt64(PrivilegedEmulator.maxRepetitionsPerExit))
        #expect(try run([0xF3, 0x6E], &r, &ctx) == .emulated)
        #expect(r.rip == rip0 + 2 && r.rcx == 0 && ctx.portWrites.count == total)
    }

    @Test func outsWithFSOrGSOverrideIsNotEmulated() throws {
        var ctx = FakePrivilegedContext()
        var r = regs { $0.rcx = 1; $0.rsi = 0x1000 }
        #expect(try run([0x65, 0x6E], &r, &ctx) == .generalProtection(errorCode: 0))
        #expect(try run([0x64, 0xF3, 0x6E], &r, &ctx) == .generalProtection(errorCode: 0))
        #expect(try run([0x2E, 0x6E], &r, &ctx) == .emulated)    // CS override: base 0
        #expect(ctx.portWrites.count == 1)
    }

    // MARK: cli / sti / hlt

    @Test func cliStiHltBounceUnlessEmulateAll() throws {
        var ctx = FakePrivilegedContext()
        for bytes: [UInt8] in [[0xFA], [0xFB], [0xF4]] {
            var r = regs()
            #expect(try run(bytes, &r, &ctx) == .generalProtection(errorCode: 0))
            #expect(r.rip == rip0)
        }
        #expect(ctx.virtualInterruptsEnabled)
    }

    @Test func cliStiHltWithEmulateAll() throws {
        var ctx = FakePrivilegedContext()
        ctx.emulateAll = true
        var r = regs()
        #expect(try run([0xFA], &r, &ctx) == .emulated)
        #expect(!ctx.virtualInterruptsEnabled && r.rip == rip0 + 1)
        #expect(try run([0xFA], &r, &ctx) == .emulated)
        #expect(!ctx.virtualInterruptsEnabled && r.rip == rip0 + 2)
        #expect(try run([0xFB], &r, &ctx) == .emulated)
        #expect(ctx.virtualInterruptsEnabled && r.rip == rip0 + 3)
        #expect(try run([0xF4], &r, &ctx) == .block)
        #expect(r.rip == rip0 + 4)
        #expect(r.rflags == 0x202)             // the real IF is never touched
    }

    // MARK: Control and debug registers

    @Test(arguments: 0..<16)
    func movFromCR3IntoEveryGPR(_ n: Int) throws {
        var ctx = FakePrivilegedContext()
        var r = regs()
        for i in 0..<16 { setGPR(&r, i, 0x1111_1111_1111_1111 &* UInt64(i + 1)) }
        let before = r
        let rex: [UInt8] = n >= 8 ? [0x41] : []
        let bytes = rex + [0x0F, 0x20, 0xD8 | UInt8(n & 7)]
        #expect(try run(bytes, &r, &ctx) == .emulated)
        for i in 0..<16 {
            #expect(gpr(r, i) == (i == n ? 0x0000_0012_3456_7000 : gpr(before, i)), "gpr \(i)")
        }
        #expect(r.rip == rip0 + UInt64(bytes.count))
    }

    @Test(arguments: 0..<16)
    func movToCR3FromEveryGPR(_ n: Int) throws {
        var ctx = FakePrivilegedContext()
        var r = regs()
        for i in 0..<16 { setGPR(&r, i, 0xFFFF_0000_0000_0000 | UInt64(i) << 12) }
        let bytes: [UInt8] = (n >= 8 ? [0x49] : [0x48]) + [0x0F, 0x22, 0xD8 | UInt8(n & 7)]
        #expect(try run(bytes, &r, &ctx) == .emulated)
        #expect(ctx.crWrites == [3: 0xFFFF_0000_0000_0000 | UInt64(n) << 12])   // the full 64 bits
        #expect(r.rip == rip0 + 4)
    }

    @Test func movCRReadsEachRegisterAndRefusals() throws {
        var ctx = FakePrivilegedContext()
        var r = regs()
        #expect(try run([0x0F, 0x20, 0xD0 | 1], &r, &ctx) == .emulated)      // mov rcx, cr2
        #expect(r.rcx == 0xFFFF_8000_DEAD_B000)
        #expect(try run([0x45, 0x0F, 0x20, 0xE6], &r, &ctx) == .invalidOpcode)   // REX.R: cr12 does not exist
        r = regs()
        #expect(try run([0x41, 0x0F, 0x20, 0xE6], &r, &ctx) == .emulated)    // mov r14, cr4
        #expect(r.r14 == 0x620)
        r = regs()
        // CR8 exists but this context does not expose it: #GP(0).
        #expect(try run([0x44, 0x0F, 0x20, 0xC0], &r, &ctx) == .generalProtection(errorCode: 0))
        // Refused write.
        #expect(try run([0x0F, 0x22, 0xD0], &r, &ctx) == .generalProtection(errorCode: 0))   // mov cr2, rax
        // CRs that do not exist are #UD.
        #expect(try run([0x0F, 0x20, 0xE8], &r, &ctx) == .invalidOpcode)                     // cr5
        #expect(try run([0x44, 0x0F, 0x22, 0xC8], &r, &ctx) == .invalidOpcode)               // cr9
        #expect(r.rip == rip0)
    }

    @Test func cltsClearsOnlyTS() throws {
        var ctx = FakePrivilegedContext()
        var r = regs()
        #expect(try run([0x0F, 0x06], &r, &ctx) == .emulated)
        #expect(ctx.crWrites == [0: 0x8005_0033])
        #expect(r.rip == rip0 + 2)
        ctx.crs[0] = nil
        #expect(try run([0x0F, 0x06], &r, &ctx) == .generalProtection(errorCode: 0))
        ctx.crs[0] = 0x8005_003B
        ctx.writableCRs = []
        #expect(try run([0x0F, 0x06], &r, &ctx) == .generalProtection(errorCode: 0))
        #expect(r.rip == rip0 + 2)
    }

    @Test func debugRegistersBounce() throws {
        var ctx = FakePrivilegedContext()
        var r = regs()
        #expect(try run([0x0F, 0x21, 0xF8], &r, &ctx) == .generalProtection(errorCode: 0))
        #expect(try run([0x0F, 0x23, 0xC1], &r, &ctx) == .generalProtection(errorCode: 0))
        #expect(try run([0x44, 0x0F, 0x21, 0xC0], &r, &ctx) == .invalidOpcode)               // dr8
        #expect(r.rip == rip0)
    }

    // MARK: Everything else

    @Test func cacheFlushesAreNoOps() throws {
        var ctx = FakePrivilegedContext()
        var r = regs()
        let before = r
        #expect(try run([0x0F, 0x09], &r, &ctx) == .emulated)
        #expect(try run([0x0F, 0x08], &r, &ctx) == .emulated)
        #expect(try run([0xF3, 0x0F, 0x09], &r, &ctx) == .emulated)
        var expected = before
        expected.rip += 7
        #expect(r == expected)
    }

    @Test(arguments: [
        [0x0F, 0x01, 0xD1],                   // xsetbv
        [0x0F, 0x33],                         // rdpmc
        [0x0F, 0x01, 0x15, 0, 0, 0, 0],       // lgdt
        [0x0F, 0x01, 0x18],                   // lidt
        [0x0F, 0x00, 0xD0],                   // lldt
        [0x0F, 0x00, 0x18],                   // ltr
        [0x0F, 0x01, 0xF0],                   // lmsw
        [0x0F, 0x01, 0x38],                   // invlpg
        [0x0F, 0x01, 0xF8],                   // swapgs
        [0x48, 0x0F, 0x07],                   // sysretq
        [0x0F, 0x35],                         // sysexit
        [0x0F, 0x01, 0xD9],                   // vmmcall
        [0x66, 0x0F, 0x38, 0x82, 0x08],       // invpcid
    ] as [[UInt8]])
    func notEmulatedIsGP0WithRegistersUntouched(_ bytes: [UInt8]) throws {
        var ctx = FakePrivilegedContext()
        var r = regs { $0.rax = 1; $0.rcx = 2; $0.rdx = 3 }
        let before = r
        #expect(try run(bytes, &r, &ctx) == .generalProtection(errorCode: 0))
        #expect(r == before)
        #expect(ctx.crWrites.isEmpty && ctx.msrWrites.isEmpty && ctx.portWrites.isEmpty)
    }

    @Test func softwareInterruptIsGPWithTheIDTErrorCode() throws {
        var ctx = FakePrivilegedContext()
        var r = regs()
        #expect(try run([0xCD, 0x80], &r, &ctx) == .generalProtection(errorCode: 0x80 << 3 | 2))
        #expect(try run([0xCD, 0x00], &r, &ctx) == .generalProtection(errorCode: 2))
        #expect(r.rip == rip0)
    }

    @Test func ripAdvancesByTheFullPrefixedLength() throws {
        var ctx = FakePrivilegedContext()
        ctx.msrs[0x10] = 5
        var r = regs { $0.rcx = 0x10 }
        // ds es cs prefixes, rex: 3E 26 2E 48 0F 32 = 6 bytes
        #expect(try run([0x3E, 0x26, 0x2E, 0x48, 0x0F, 0x32], &r, &ctx) == .emulated)
        #expect(r.rip == rip0 + 6 && r.rax == 5)
    }
}
