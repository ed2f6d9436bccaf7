import HyperABI
import Testing
@testable import Hypervisor

@Suite struct GuestAddressSpaceTests {
    @Test func translatesThroughTheGuestsPageTables() throws {
        let g = try TinyGuest()
        let space = g.vcpu.addressSpace
        let t = try space.translate(g.va(page: 3, offset: 0x123), write: true).get()
        #expect(t.mfn == g.domain.p2m[7])
        #expect(t.offset == 0x123)
    }

    @Test func refusesWhatTheGuestCouldNotTouch() throws {
        let g = try TinyGuest(pages: 4, readOnly: [1], supervisor: [2])
        let s = g.vcpu.addressSpace
        #expect(throws: GuestAddressSpace.Fault.notPresent(level: 1)) { try s.translate(g.va(page: 4), write: false).get() }
        #expect(throws: GuestAddressSpace.Fault.notPresent(level: 4)) { try s.translate(0x1000_0000_0000, write: false).get() }
        #expect(throws: GuestAddressSpace.Fault.readOnly(level: 1)) { try s.translate(g.va(page: 1), write: true).get() }
        #expect(throws: GuestAddressSpace.Fault.notUser(level: 1)) { try s.translate(g.va(page: 2), write: false).get() }
        #expect(throws: GuestAddressSpace.Fault.nonCanonical) { try s.translate(0x8000_0000_0000_0000, write: false).get() }
        #expect(throws: GuestAddressSpace.Fault.hypervisorRange) { try s.translate(PVLayout.machphysVirtStart, write: false).get() }
        _ = try s.translate(g.va(page: 1), write: false).get()
    }

    @Test func copiesAcrossPagesAndFailsWithoutPartialWrites() throws {
        let g = try TinyGuest(pages: 4, readOnly: [2])
        let s = g.vcpu.addressSpace
        let data = (0..<64).map { UInt8($0) }
        try s.copyToGuest(g.va(page: 0, offset: 4096 - 32), bytes: data)       // straddles pages 0 and 1
        #expect(try g.peek(page: 0, offset: 4096 - 32, count: 32) == Array(data[0..<32]))
        #expect(try g.peek(page: 1, count: 32) == Array(data[32..<64]))
        var back = [UInt8](repeating: 0, count: 64)
        try back.withUnsafeMutableBytes { try s.copyFromGuest(g.va(page: 0, offset: 4096 - 32), into: $0) }
        #expect(back == data)
        // Page 1 writable, page 2 read-only: nothing at all may be written.
        #expect(throws: XenErrno.EFAULT) { try s.copyToGuest(g.va(page: 1, offset: 4096 - 8), bytes: [UInt8](repeating: 0xee, count: 16)) }
        #expect(try g.peek(page: 1, offset: 4096 - 8, count: 8) == [UInt8](repeating: 0, count: 8))
        // A read running off the mapped pages fails too.
        #expect(throws: XenErrno.EFAULT) {
            try back.withUnsafeMutableBytes { try s.copyFromGuest(g.va(page: 3, offset: 4096 - 16), into: $0) }
        }
        #expect(throws: XenErrno.EFAULT) { try s.copyToGuest(UInt64.max - 4, bytes: [1, 2, 3, 4, 5, 6, 7, 8]) }
    }
}
