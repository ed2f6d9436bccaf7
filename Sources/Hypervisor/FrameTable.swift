import HyperABI
import Synchronization

/// Who owns each machine frame, the free list, and the machine-to-physical (M2P) table.
///
/// The M2P lives in the first frames of machine memory itself, so every domain's window can map
/// it read-only at Xen's address (0xffff800000000000) and guests read it with plain loads.
public final class FrameTable: Sendable {
    /// Owner value of a free frame.
    public static let free: UInt16 = 0xffff

    public let memory: MachineMemory
    /// Types and reference counts of every frame (the PV MMU).
    let pages: PageInfo
    /// Frames [0, m2pFrames) hold the M2P table (owned by DOMID_XEN).
    public let m2pFrames: Int
    private struct State {
        var owner: [UInt16]
        var freeList: [UInt32]   // stack of free MFNs, lowest on top
    }
    private let state: Mutex<State>

    public init(memory: MachineMemory) {
        self.memory = memory
        self.pages = PageInfo(frames: memory.frameCount)
        let m2pBytes = memory.frameCount * 8
        // Round the M2P up to 2 MiB so the platform may map it with large pages.
        let m2pFrames = ((m2pBytes + (2 << 20) - 1) / (2 << 20)) * 512
        self.m2pFrames = min(m2pFrames, memory.frameCount)
        var owner = [UInt16](repeating: FrameTable.free, count: memory.frameCount)
        for i in 0..<self.m2pFrames { owner[i] = DomainID.xen }
        let freeList = (self.m2pFrames..<memory.frameCount).reversed().map { UInt32($0) }
        state = Mutex(State(owner: owner, freeList: freeList))
        // A fresh M2P says "no domain's RAM" for every frame.
        for mfn in 0..<memory.frameCount { setM2P(mfn: UInt64(mfn), pfn: PVLayout.invalidM2PEntry) }
    }

    /// Number of frames no domain holds.
    public var freeFrames: Int { state.withLock { $0.freeList.count } }

    /// Owner of `mfn`, or nil when out of range.
    public func owner(of mfn: UInt64) -> UInt16? {
        state.withLock { s in mfn < UInt64(s.owner.count) ? s.owner[Int(mfn)] : nil }
    }

    /// Takes `count` frames for `domain`, lowest MFNs first; all or nothing.
    public func allocate(_ count: Int, for domain: UInt16) throws(HypervisorError) -> [UInt64] {
        let taken: [UInt64]? = state.withLock { s in
            guard count <= s.freeList.count else { return nil }
            var out = [UInt64]()
            out.reserveCapacity(count)
            for _ in 0..<count {
                let mfn = s.freeList.removeLast()
                s.owner[Int(mfn)] = domain
                out.append(UInt64(mfn))
            }
            return out
        }
        guard let taken else {
            throw HypervisorError(.ENOMEM, "domain \(domain)", "allocate \(count) frames",
                                  "only \(freeFrames) free frames of machine memory")
        }
        // No zeroing needed: a free frame was never touched or was punched out on release, so it reads as zero.
        return taken
    }

    /// Returns frames to the free pool, punching them out of the memfd so the host gets the memory back.
    public func release(_ mfns: [UInt64], from domain: UInt16) {
        for mfn in mfns {
            setM2P(mfn: mfn, pfn: PVLayout.invalidM2PEntry)
            pages.reset(mfn)
        }
        // One hole per run of consecutive frames: a domain's frames are mostly contiguous.
        for run in FrameTable.runs(mfns) { memory.release(run) }
        state.withLock { s in
            for mfn in mfns where mfn < UInt64(s.owner.count) && s.owner[Int(mfn)] == domain {
                s.owner[Int(mfn)] = FrameTable.free
                s.freeList.append(UInt32(mfn))
            }
        }
    }

    /// Hands a frame from one owner to another (a dead domain's frame that others still map goes to Xen).
    func reassign(_ mfn: UInt64, from: UInt16, to: UInt16) {
        state.withLock { s in
            if mfn < UInt64(s.owner.count), s.owner[Int(mfn)] == from { s.owner[Int(mfn)] = to }
        }
        setM2P(mfn: mfn, pfn: PVLayout.invalidM2PEntry)
    }

    /// Frames grouped into runs of consecutive MFNs, in ascending order.
    public static func runs(_ mfns: [UInt64]) -> [Range<UInt64>] {
        var out: [Range<UInt64>] = []
        for mfn in mfns.sorted() {
            if let last = out.last, last.upperBound == mfn {
                out[out.count - 1] = last.lowerBound..<mfn + 1
            } else if out.last?.contains(mfn) != true {
                out.append(mfn..<mfn + 1)
            }
        }
        return out
    }

    /// M2P[mfn] := pfn.
    public func setM2P(mfn: UInt64, pfn: UInt64) {
        let byte = Int(mfn) * 8
        memory.writeWord(mfn: UInt64(byte >> 12), offset: byte & 4095, pfn)
    }

    /// M2P[mfn].
    public func m2p(_ mfn: UInt64) -> UInt64? {
        guard memory.isValid(mfn) else { return nil }
        let byte = Int(mfn) * 8
        return memory.readWord(mfn: UInt64(byte >> 12), offset: byte & 4095)
    }
}
