import Testing
@testable import Hypervisor

@Suite struct EmulationCPUIDPolicyTests {
    /// A host that answers every leaf with all bits set, recording nothing.
    let allOnes = CPUIDPolicy { _, _ in (.max, .max, .max, .max) }
    let allZeros = CPUIDPolicy { _, _ in (0, 0, 0, 0) }

    @Test func leafOneSetsHypervisorAndHidesVMXSMXOSXSAVE() {
        let ones = allOnes.query(leaf: 1, subleaf: 0)
        #expect(ones.ecx == 0xFFFF_FFFF & ~(1 << 5 | 1 << 6 | 1 << 27))
        #expect(ones.eax == .max && ones.ebx == .max && ones.edx == .max)
        #expect(allZeros.query(leaf: 1, subleaf: 0).ecx == 0x8000_0000)
    }

    @Test func xenLeaves() {
        for policy in [allOnes, allZeros] {
            let base = policy.query(leaf: 0x4000_0000, subleaf: 0)
            #expect(base.eax == 0x4000_0002)
            var name: [UInt8] = []
            for v in [base.ebx, base.ecx, base.edx] { for i in 0..<4 { name.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
            #expect(String(decoding: name, as: UTF8.self) == "XenVMMXenVMM")
            #expect(policy.query(leaf: 0x4000_0001, subleaf: 0) == (0x0004_0013, 0, 0, 0))
            #expect(policy.query(leaf: 0x4000_0002, subleaf: 0) == (1, 0x4000_0000, 0, 0))
            for leaf: UInt32 in [0x4000_0003, 0x4000_0100, 0x4FFF_FFFF] {
                #expect(policy.query(leaf: leaf, subleaf: 0) == (0, 0, 0, 0), "leaf \(leaf)")
            }
        }
    }

    @Test func otherLeavesPassThroughWithSubleaf() {
        let policy = CPUIDPolicy { leaf, subleaf in (leaf, subleaf, 0xC, 0xD) }
        #expect(policy.query(leaf: 0, subleaf: 0) == (0, 0, 0xC, 0xD))
        #expect(policy.query(leaf: 7, subleaf: 1) == (7, 1, 0xC, 0xD))
        #expect(policy.query(leaf: 0x8000_0001, subleaf: 0) == (0x8000_0001, 0, 0xC, 0xD))
        #expect(policy.query(leaf: 0x5000_0000, subleaf: 0) == (0x5000_0000, 0, 0xC, 0xD))
    }

    @Test func hostCPUIDAnswers() {
        // The host's vendor string is 12 printable ASCII bytes, EBX EDX ECX.
        let v = CPUIDPolicy.host(0, 0)
        var vendor: [UInt8] = []
        for reg in [v.ebx, v.edx, v.ecx] { for i in 0..<4 { vendor.append(UInt8(truncatingIfNeeded: reg >> (8 * UInt32(i)))) } }
        #expect(vendor.allSatisfy { (0x20...0x7E).contains($0) })
        #expect(v.eax >= 1)
        let leaf1 = CPUIDPolicy().query(leaf: 1, subleaf: 0)
        #expect(leaf1.ecx & 0x8000_0000 != 0)
        #expect(leaf1.ecx & (1 << 27) == 0)
    }
}
