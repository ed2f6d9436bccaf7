import HyperABI

/// Where Xen's PV domain builder puts each bootstrap element, all page-aligned after the kernel and
/// 1:1 with PFNs (VA = virt_base + pfn × 4096): the ramdisk (start_info's module), p2m list, start_info, the XenStore and console ring pages,
/// page tables (L4 first), boot stack.
/// The mapped region ends on a 4 MiB boundary with at least 512 KiB of padding after the stack.
public struct BootLayout: Equatable, Sendable {
    public let virtBase: UInt64
    public let nrPages: Int
    public let kernelPFNs: Range<Int>
    /// The ramdisk's pages (empty without one).
    public let modulePFNs: Range<Int>
    public let p2mPFN: Int
    public let p2mPages: Int
    public let startInfoPFN: Int
    public let storePFN: Int
    public let consolePFN: Int
    public let ptPFN: Int
    public let ptFrames: Int
    public let stackPFN: Int
    /// End (exclusive) of the mapped bootstrap region, as a PFN.
    public let mappedPFNs: Int

    public func va(_ pfn: Int) -> UInt64 { virtBase &+ UInt64(pfn) << 12 }

    /// Lays out a kernel occupying VAs [kernelStart, kernelEnd) and a ramdisk of `moduleBytes` in a domain
    /// of `nrPages` pages.
    public init(virtBase: UInt64, kernelStart: UInt64, kernelEnd: UInt64, nrPages: Int, moduleBytes: Int = 0) throws(ToolstackError) {
        self.virtBase = virtBase
        self.nrPages = nrPages
        let first = Int((kernelStart - virtBase) >> 12)
        let last = Int((kernelEnd - virtBase + 4095) >> 12)
        kernelPFNs = first..<last
        modulePFNs = last..<last + (moduleBytes + 4095) / 4096
        p2mPFN = modulePFNs.upperBound
        p2mPages = (nrPages * 8 + 4095) / 4096
        startInfoPFN = p2mPFN + p2mPages
        storePFN = startInfoPFN + 1
        consolePFN = startInfoPFN + 2
        ptPFN = startInfoPFN + 3
        guard !virtBase.addingReportingOverflow(UInt64(nrPages) << 12).overflow else {
            throw .invalid(object: "kernel layout", problem: "virt_base 0x\(String(virtBase, radix: 16)) + \(nrPages) pages runs past the end of the address space")
        }
        let tooSmall = ToolstackError.invalid(object: "domain memory",
            problem: "\(nrPages >> 8) MiB is too small for this kernel and its bootstrap region; give it more memory (--memory)")
        // The page tables must map themselves: grow the count until it covers the region it implies.
        var frames = 1
        var mapped = 0
        while true {
            let stackEnd = ptPFN + frames + 1
            mapped = ((stackEnd + 128) + 1023) / 1024 * 1024     // +512 KiB, up to 4 MiB
            guard mapped <= nrPages else { throw tooSmall }
            let needed = BootLayout.tablesNeeded(virtBase: virtBase, pages: mapped)
            if needed <= frames { break }
            frames = needed
        }
        ptFrames = frames
        stackPFN = ptPFN + frames
        mappedPFNs = mapped
        let endVA = va(mappedPFNs) - 1
        guard endVA > virtBase, PVLayout.isCanonical(virtBase), PVLayout.isCanonical(endVA), (endVA >> 47) == (virtBase >> 47),
              !(endVA >= PVLayout.hypervisorVirtStart && virtBase < PVLayout.hypervisorVirtEnd) else {
            throw .invalid(object: "kernel layout", problem: "the bootstrap region 0x\(String(virtBase, radix: 16))–0x\(String(endVA, radix: 16)) is not in guest-usable address space")
        }
    }

    /// Page-table frames needed to map `pages` pages from `virtBase`: one L4 plus L3s, L2s and L1s.
    static func tablesNeeded(virtBase: UInt64, pages: Int) -> Int {
        let end = virtBase &+ (UInt64(pages) << 12 &- 1)
        func span(_ shift: UInt64) -> Int { Int((end >> shift) - (virtBase >> shift)) + 1 }
        return 1 + span(39) + span(30) + span(21)
    }
}
