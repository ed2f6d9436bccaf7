// BlockDevice.swift - a disk through GuestKit's C block front end
// (blkfront.h: Xen's blkif on a one-page ring, Linux blkfront's xenbus
// handshake). The protocol stays in C; this file only types it.
//
// Sectors are 512 bytes everywhere (`BlockDevice.sectorSize`), as in
// blkif, whatever the disk's `sector-size`. Single vCPU, not from event or
// trap handlers, as in C.

import CGuestKit

/// A failed block call: the front end's errno and, when a back-end answer caused it, that answer's BLKIF status.
public enum BlockError: Error, Equatable {
    /// The call failed without a failed answer behind it (EINVAL, ETIMEDOUT, ENOTCONN, ENODEV, EBUSY, EOPNOTSUPP for a feature not offered, ...).
    case xen(XenError)
    /// The back end answered `operation` with `status`; `errno` is what the front end returned for it (EIO, EROFS or EOPNOTSUPP).
    case response(status: BlockDevice.Status, operation: BlockDevice.Operation, errno: XenError)

    /// Xen's errno, either way.
    public var errno: XenError {
        switch self {
        case .xen(let e): return e
        case .response(_, _, let e): return e
        }
    }
}

/// One open disk (a `struct gk_blk *` of blkfront.h). A plain handle, like
/// `EventChannel`: copies name the same disk, and none may be used after `close()`.
public struct BlockDevice {
    /// A blkif operation (`BLKIF_OP_*` in <xen/io/blkif.h>).
    public struct Operation: RawRepresentable, Equatable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// BLKIF_OP_READ.
        public static var read: Operation { Operation(rawValue: UInt8(BLKIF_OP_READ)) }
        /// BLKIF_OP_WRITE.
        public static var write: Operation { Operation(rawValue: UInt8(BLKIF_OP_WRITE)) }
        /// BLKIF_OP_WRITE_BARRIER.
        public static var writeBarrier: Operation { Operation(rawValue: UInt8(BLKIF_OP_WRITE_BARRIER)) }
        /// BLKIF_OP_FLUSH_DISKCACHE.
        public static var flushDiskCache: Operation { Operation(rawValue: UInt8(BLKIF_OP_FLUSH_DISKCACHE)) }
        /// BLKIF_OP_DISCARD.
        public static var discard: Operation { Operation(rawValue: UInt8(BLKIF_OP_DISCARD)) }
        /// BLKIF_OP_INDIRECT.
        public static var indirect: Operation { Operation(rawValue: UInt8(BLKIF_OP_INDIRECT)) }
    }

    /// A blkif response's status (`BLKIF_RSP_*`).
    public struct Status: RawRepresentable, Equatable {
        public let rawValue: Int16
        public init(rawValue: Int16) { self.rawValue = rawValue }

        /// BLKIF_RSP_OKAY (0).
        public static var okay: Status { Status(rawValue: Int16(BLKIF_RSP_OKAY)) }
        /// BLKIF_RSP_ERROR (-1): this request failed.
        public static var error: Status { Status(rawValue: Int16(BLKIF_RSP_ERROR)) }
        /// BLKIF_RSP_EOPNOTSUPP (-2): the back end does not do this operation.
        public static var notSupported: Status { Status(rawValue: Int16(BLKIF_RSP_EOPNOTSUPP)) }
    }

    /// What the handshake found (`struct gk_blk_info`).
    public struct Info {
        /// `virtual-device` (51712 = xvda).
        public var deviceNumber: UInt32
        /// `backend-id`: the domain serving the disk.
        public var backendDomain: UInt16
        /// The disk's size in 512-byte sectors.
        public var sectors: UInt64
        /// `sector-size`: transfers must be aligned to it.
        public var logicalSectorSize: Int
        /// `info` has VDISK_READONLY.
        public var isReadOnly: Bool
        /// `feature-flush-cache`, `feature-barrier`, `feature-discard`.
        public var canFlush: Bool
        public var canBarrier: Bool
        public var canDiscard: Bool
        /// What was published: the ring's grant ref and the event channel.
        public var ringRef: UInt32
        public var port: UInt32
        /// "device/vbd/<devid>" (relative to the home) and the back end's absolute directory.
        public var frontend: [UInt8]
        public var backend: [UInt8]
    }

    /// Counters since the open (`struct gk_blk_stats`).
    public struct Statistics {
        public var requests: UInt64
        public var errors: UInt64
        public var notifications: UInt64
        public var waits: UInt64
    }

    /// Bytes per blkif sector (GK_BLK_SECTOR_SIZE).
    public static var sectorSize: Int { Int(GK_BLK_SECTOR_SIZE) }
    /// `open`'s default: the disk with the lowest virtual-device (GK_BLK_ANY).
    public static var firstDisk: UInt32 { UInt32(GK_BLK_ANY) }

    let handle: OpaquePointer

    /// The disks the toolstack announced (device/vbd), ascending; empty without any.
    public static func list() throws(XenError) -> [UInt32] {
        // Room for xvda ... xvdp, every name the toolstack gives (more than GK_BLK_MAX may be listed).
        var devids = [UInt32](repeating: 0, count: 16)
        let n = try XenError.check(Int(devids.withUnsafeMutableBufferPointer {
            gk_blk_list($0.baseAddress, UInt32($0.count))
        }))
        return Array(devids[0..<min(n, devids.count)])
    }

    /// The virtual-device number of "xvda" ... "xvdp" (202 << 8 | disk << 4), nil for other names.
    public static func deviceNumber(named name: [UInt8]) -> UInt32? {
        let prefix: [UInt8] = [120, 118, 100]       // "xvd"
        guard name.count == 4, Array(name[0..<3]) == prefix, name[3] >= 97, name[3] <= 112 else { return nil }
        return 202 << 8 | UInt32(name[3] - 97) << 4
    }

    /// Connects to disk `deviceNumber` (`firstDisk`: the lowest one).
    public static func open(_ deviceNumber: UInt32 = firstDisk) throws(BlockError) -> BlockDevice {
        var dev: OpaquePointer? = nil
        let rc = Int(gk_blk_open(deviceNumber, &dev))
        if rc < 0 { throw .xen(XenError(result: rc)) }
        return BlockDevice(handle: dev!)
    }

    /// Connects to the disk the guest knows as `name` ("xvda" ... "xvdp").
    public static func open(named name: [UInt8]) throws(BlockError) -> BlockDevice {
        guard let devid = deviceNumber(named: name) else { throw .xen(.EINVAL) }
        return try open(devid)
    }

    /// What the handshake found.
    public var info: Info {
        let i = gk_blk_info(handle)!.pointee
        return Info(deviceNumber: i.devid, backendDomain: i.backend_id, sectors: i.sectors,
                    logicalSectorSize: Int(i.sector_size), isReadOnly: i.readonly != 0,
                    canFlush: i.flush != 0, canBarrier: i.barrier != 0, canDiscard: i.discard != 0,
                    ringRef: i.ring_ref, port: i.port,
                    frontend: withUnsafeBytes(of: i.frontend) { Xen.untilNUL($0) },
                    backend: withUnsafeBytes(of: i.backend) { Xen.untilNUL($0) })
    }

    /// The disk's size in 512-byte sectors.
    public var sectorCount: UInt64 { gk_blk_info(handle)!.pointee.sectors }

    /// The back end says the disk is read-only (writes are still sent: it decides).
    public var isReadOnly: Bool { gk_blk_info(handle)!.pointee.readonly != 0 }

    /// Counters since the open.
    public var statistics: Statistics {
        let s = gk_blk_stats(handle)!.pointee
        return Statistics(requests: s.requests, errors: s.errors, notifications: s.notifications, waits: s.waits)
    }

    /// Reads `buffer.count / 512` sectors from `sector`; the count must be a whole number of sectors.
    public func read(sector: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(BlockError) {
        let n = try BlockDevice.sectors(in: buffer.count)
        try check { gk_blk_read(handle, sector, buffer.baseAddress, n) }
    }

    /// Reads `bytes.count / 512` sectors from `sector` into `bytes`.
    public func read(sector: UInt64, into bytes: inout [UInt8]) throws(BlockError) {
        let n = try BlockDevice.sectors(in: bytes.count)
        try check { bytes.withUnsafeMutableBytes { gk_blk_read(handle, sector, $0.baseAddress, n) } }
    }

    /// `count` sectors from `sector`, as a new array.
    public func read(sector: UInt64, count: Int) throws(BlockError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count * BlockDevice.sectorSize)
        try read(sector: sector, into: &bytes)
        return bytes
    }

    /// Writes `buffer` (whole sectors) from `sector`; with `barrier`, as
    /// BLKIF_OP_WRITE_BARRIER requests: ordered after everything before and durable when answered.
    public func write(sector: UInt64, from buffer: UnsafeRawBufferPointer, barrier: Bool = false) throws(BlockError) {
        let n = try BlockDevice.sectors(in: buffer.count)
        try check {
            barrier ? gk_blk_barrier_write(handle, sector, buffer.baseAddress, n)
                    : gk_blk_write(handle, sector, buffer.baseAddress, n)
        }
    }

    /// Writes `bytes` (whole sectors) from `sector`.
    public func write(sector: UInt64, from bytes: [UInt8], barrier: Bool = false) throws(BlockError) {
        let n = try BlockDevice.sectors(in: bytes.count)
        try check {
            bytes.withUnsafeBytes {
                barrier ? gk_blk_barrier_write(handle, sector, $0.baseAddress, n)
                        : gk_blk_write(handle, sector, $0.baseAddress, n)
            }
        }
    }

    /// BLKIF_OP_FLUSH_DISKCACHE: every write answered so far is durable (`.xen(.EOPNOTSUPP)` without feature-flush-cache).
    public func flush() throws(BlockError) {
        try check { gk_blk_flush(handle) }
    }

    /// BLKIF_OP_DISCARD of `count` sectors from `sector`, one request (feature-discard).
    public func discard(sector: UInt64, count: UInt64) throws(BlockError) {
        try check { gk_blk_discard(handle, sector, count) }
    }

    /// Disconnects (state Closing, then Closed, every grant ended). The disk is closed even when this throws.
    public func close() throws(BlockError) {
        let rc = Int(gk_blk_close(handle))
        if rc < 0 { throw .xen(XenError(result: rc)) }
    }

    /// Whole sectors in `bytes`, or EINVAL.
    static func sectors(in bytes: Int) throws(BlockError) -> UInt64 {
        if bytes % sectorSize != 0 { throw .xen(.EINVAL) }
        return UInt64(bytes / sectorSize)
    }

    /// Runs one C call and turns its result into a `BlockError`. Only a
    /// response that failed during this call counts as the cause: the C
    /// side keeps the last bad status across calls.
    func check(_ call: () -> Int32) throws(BlockError) {
        let errorsBefore = gk_blk_stats(handle)!.pointee.errors
        let rc = Int(call())
        if rc >= 0 { return }
        let errno = XenError(result: rc)
        var op: UInt8 = 0
        let status = gk_blk_last_status(handle, &op)
        if gk_blk_stats(handle)!.pointee.errors != errorsBefore && status != 0 {
            throw .response(status: Status(rawValue: Int16(truncatingIfNeeded: status)),
                            operation: Operation(rawValue: op), errno: errno)
        }
        throw .xen(errno)
    }
}
