import Glibc
import HyperABI

extension Domain {
    /// Writes shared_info's wall clock: the time of day at Xen system time 0, so that
    /// wall time = wc + the pvclock's system time. Versioned like Xen's (odd while being written).
    func writeWallClock() {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let realtime = UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
        let boot = realtime &- systemTime()
        let sec = boot / 1_000_000_000, nsec = boot % 1_000_000_000
        let si = sharedInfoMFN
        let version = (memory.readWord(mfn: si, offset: SharedInfoLayout.wcVersion) ?? 0) & 0xffff_ffff
        func put32(_ v: UInt32, _ off: Int) {
            withUnsafeBytes(of: v.littleEndian) { _ = memory.write(mfn: si, offset: off, bytes: $0) }
        }
        put32(UInt32(truncatingIfNeeded: version + 1), SharedInfoLayout.wcVersion)
        put32(UInt32(truncatingIfNeeded: sec), SharedInfoLayout.wcSec)
        put32(UInt32(truncatingIfNeeded: nsec), SharedInfoLayout.wcNsec)
        put32(UInt32(truncatingIfNeeded: sec >> 32), SharedInfoLayout.wcSecHi)
        put32(UInt32(truncatingIfNeeded: version + 2), SharedInfoLayout.wcVersion)
    }
}
