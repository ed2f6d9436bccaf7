import HyperABI
import Testing
@testable import Hypervisor

@Suite struct FrameTableTests {
    @Test func allocationIsExclusiveAndFillsTheM2P() throws {
        let hv = try makeHypervisor()
        let frames = hv.frames
        let before = frames.freeFrames
        let d = try hv.control.createDomain(name: "a", pages: 100)
        #expect(frames.freeFrames == before - 101)          // 100 RAM pages + shared_info
        for (pfn, mfn) in d.p2m.enumerated() {
            #expect(frames.owner(of: mfn) == d.id)
            #expect(frames.m2p(mfn) == UInt64(pfn))
        }
        #expect(frames.m2p(d.sharedInfoMFN) == PVLayout.invalidM2PEntry)
        #expect(Set(d.p2m).count == 100)
        #expect(!d.p2m.contains { $0 < UInt64(frames.m2pFrames) })   // never hands out the M2P's own frames
    }

    @Test func outOfMemoryIsAnErrorAndTakesNothing() throws {
        let hv = try makeHypervisor(bytes: 4 << 20)
        let free = hv.frames.freeFrames
        #expect(throws: HypervisorError.self) { try hv.control.createDomain(name: "big", pages: free + 1) }
        #expect(hv.frames.freeFrames == free)
        let e = try #require(throws: HypervisorError.self) { try hv.control.createDomain(name: "big", pages: free + 1) }
        #expect(e.errno == .ENOMEM)
    }

    @Test func destroyReturnsEveryFrameAndTheMemory() throws {
        let hv = try makeHypervisor(bytes: 64 << 20)
        let free = hv.frames.freeFrames
        let d = try hv.control.createDomain(name: "x", pages: 2048)
        // Touch the domain's memory so the memfd really allocates it.
        for pfn in 0..<2048 { try hv.control.write(d, pfn: pfn, bytes: [UInt8](repeating: 0xab, count: 64)) }
        let allocated = hv.memory.allocatedBytes
        hv.control.destroy(d)
        d.waitUntilFinished()
        #expect(hv.frames.freeFrames == free)
        #expect(hv.domains.isEmpty)
        #expect(allocated - hv.memory.allocatedBytes >= 2048 * 4096)   // the blocks went back to the host
        for mfn in d.p2m { #expect(hv.frames.m2p(mfn) == PVLayout.invalidM2PEntry) }
        // A freed frame reads as zero for its next owner.
        let e = try hv.control.createDomain(name: "y", pages: 2048)
        var byte = [UInt8](repeating: 1, count: 1)
        try byte.withUnsafeMutableBytes { try hv.control.read(e, pfn: 0, into: $0) }
        #expect(byte == [0])
    }

    @Test func machineMemoryRefusesOutOfRangeAccess() throws {
        let m = try MachineMemory(bytes: 1 << 20)
        #expect(m.frameCount == 256)
        #expect(m.readWord(mfn: 256, offset: 0) == nil)
        #expect(m.readWord(mfn: 0, offset: 4) == nil)       // misaligned
        #expect(!m.writeWord(mfn: 0, offset: 4096, 1))
        var four = [UInt8](repeating: 0, count: 16)
        #expect(!four.withUnsafeMutableBytes { m.read(mfn: 0, offset: 4090, into: $0) })   // crosses the frame
    }
}

@Suite struct FrameRunTests {
    @Test func consecutiveFramesFormRuns() {
        #expect(FrameTable.runs([]) == [])
        #expect(FrameTable.runs([5]) == [5..<6])
        #expect(FrameTable.runs([7, 3, 4, 5, 9, 8, 20]) == [3..<6, 7..<10, 20..<21])
        #expect(FrameTable.runs([2, 2, 3]) == [2..<4])
    }
}
