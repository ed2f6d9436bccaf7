/// Xen's block device protocol (io/blkif.h): one-page ring of 112-byte slots (32 of them).
public enum BlockInterface {
    /// `BLKIF_OP_*`.
    public enum Operation: UInt8, Sendable {
        case read = 0, write = 1, writeBarrier = 2, flushDiskCache = 3, discard = 5, indirect = 6
    }
    /// `BLKIF_RSP_*`.
    public static let okay: Int16 = 0, error: Int16 = -1, notSupported: Int16 = -2
    /// `BLKIF_MAX_SEGMENTS_PER_REQUEST`: segments a direct request carries in its slot.
    public static let maxSegments = 11
    public static let slotSize = 112
    public static let sectorSize = 512
    /// blkif_request: operation u8 @0, nr_segments u8 @1, handle u16 @2, id u64 @8, sector_number u64 @16,
    /// seg[11] @24 of {gref u32 @0, first_sect u8 @4, last_sect u8 @5} (8 bytes each).
    public static let requestOperation = 0, requestSegments = 1, requestHandle = 2, requestID = 8, requestSector = 16
    public static let segmentArray = 24, segmentSize = 8, segmentFirst = 4, segmentLast = 5
    /// blkif_request_discard: flag u8 @1 (`BLKIF_DISCARD_SECURE`), nr_sectors u64 @24.
    public static let discardFlag = 1, discardSectors = 24
    public static let discardSecure: UInt8 = 1
    /// blkif_request_indirect (BLKIF_OP_INDIRECT, 64 bytes on x86-64): indirect_op u8 @1 (READ or WRITE),
    /// nr_segments u16 @2, then 4 bytes of padding so id u64 sits @8 as in every request, sector_number u64 @16,
    /// handle u16 @24, indirect_grefs[8] u32 @28: pages holding the segments (blkif_request_segment each).
    public static let indirectOperation = 1, indirectSegments = 2, indirectHandle = 24, indirectGrefs = 28
    public static let indirectRequestSize = 64
    /// `BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST`.
    public static let maxIndirectPages = 8
    /// Segment descriptors in one indirect page (4096 / 8): a request of n segments names ceil(n / 512) pages.
    public static let segmentsPerIndirectPage = 4096 / segmentSize
    /// The back-end's node: the most segments it takes in one indirect request (absent: no BLKIF_OP_INDIRECT).
    public static let featureMaxIndirectSegments = "feature-max-indirect-segments"
    /// blkif_response: id u64 @0, operation u8 @8, status s16 @10 (the back-end writes these 12 bytes).
    public static let responseSize = 12, responseOperation = 8, responseStatus = 10
    /// `info` flags.
    public static let vdiskCDROM: UInt32 = 1, vdiskRemovable: UInt32 = 2, vdiskReadOnly: UInt32 = 4
    /// `virtual-device` of xvdN: 202 << 8 | disk << 4.
    public static func xvdNumber(disk: Int) -> Int { 202 << 8 | disk << 4 }
}
