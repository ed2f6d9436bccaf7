// Xen.swift - the xen_version hypercall: who and what the hypervisor is.

import CGuestKit

public enum Xen {
    /// XENVER_compile_info, each field up to its NUL.
    public struct CompileInfo {
        public var compiler: [UInt8]
        public var compileBy: [UInt8]
        public var compileDomain: [UInt8]
        public var compileDate: [UInt8]
    }

    /// XENVER_platform_parameters.
    public struct PlatformParameters {
        /// Start of the hypervisor's hole in the guest's address space.
        public var virtStart: UInt64
    }

    /// XENVER_version: (major, minor).
    public static func version() throws(XenError) -> (major: Int, minor: Int) {
        let v = try XenError.check(Hypervisor.xenVersion(XENVER_version, nil))
        return (v >> 16, v & 0xffff)
    }

    /// XENVER_extraversion, e.g. ".0" or "-rc".
    public static func extraVersion() throws(XenError) -> [UInt8] {
        try fetchString(XENVER_extraversion, capacity: Int(XEN_EXTRAVERSION_LEN))
    }

    /// XENVER_compile_info.
    public static func compileInfo() throws(XenError) -> CompileInfo {
        var info = xen_compile_info()
        let rc = withUnsafeMutableBytes(of: &info) { Hypervisor.xenVersion(XENVER_compile_info, $0.baseAddress) }
        _ = try XenError.check(rc)
        return CompileInfo(
            compiler: withUnsafeBytes(of: info.compiler) { untilNUL($0) },
            compileBy: withUnsafeBytes(of: info.compile_by) { untilNUL($0) },
            compileDomain: withUnsafeBytes(of: info.compile_domain) { untilNUL($0) },
            compileDate: withUnsafeBytes(of: info.compile_date) { untilNUL($0) })
    }

    /// XENVER_capabilities: space-separated guest types, e.g. "xen-3.0-x86_64".
    public static func capabilities() throws(XenError) -> [UInt8] {
        try fetchString(XENVER_capabilities, capacity: Int(XEN_CAPABILITIES_INFO_LEN))
    }

    /// XENVER_changeset: the source revision the hypervisor was built from.
    public static func changeset() throws(XenError) -> [UInt8] {
        try fetchString(XENVER_changeset, capacity: Int(XEN_CHANGESET_INFO_LEN))
    }

    /// XENVER_platform_parameters.
    public static func platformParameters() throws(XenError) -> PlatformParameters {
        var p = xen_platform_parameters(virt_start: 0)
        let rc = withUnsafeMutableBytes(of: &p) { Hypervisor.xenVersion(XENVER_platform_parameters, $0.baseAddress) }
        _ = try XenError.check(rc)
        return PlatformParameters(virtStart: UInt64(p.virt_start))
    }

    /// XENVER_get_features: the XENFEAT_* bits of one 32-bit submap.
    public static func features(submap: UInt32) throws(XenError) -> UInt32 {
        var f = xen_feature_info(submap_idx: submap, submap: 0)
        let rc = withUnsafeMutableBytes(of: &f) { Hypervisor.xenVersion(XENVER_get_features, $0.baseAddress) }
        _ = try XenError.check(rc)
        return f.submap
    }

    /// XENVER_pagesize.
    public static func pageSize() throws(XenError) -> Int {
        try XenError.check(Hypervisor.xenVersion(XENVER_pagesize, nil))
    }

    /// XENVER_guest_handle: the domain's 16-byte handle (its UUID).
    public static func guestHandle() throws(XenError) -> [UInt8] {
        var handle = [UInt8](repeating: 0, count: 16)
        let rc = handle.withUnsafeMutableBytes { Hypervisor.xenVersion(XENVER_guest_handle, $0.baseAddress) }
        _ = try XenError.check(rc)
        return handle
    }

    /// Calls xen_version(cmd) on a `capacity`-byte buffer pre-filled with 0xff
    /// and returns the string up to its NUL. A string that fills the buffer
    /// with no NUL is returned whole (`count == capacity` tells).
    static func fetchString(_ cmd: Int32, capacity: Int) throws(XenError) -> [UInt8] {
        var buf = [UInt8](repeating: 0xff, count: capacity)
        let rc = buf.withUnsafeMutableBytes { Hypervisor.xenVersion(cmd, $0.baseAddress) }
        _ = try XenError.check(rc)
        return buf.withUnsafeBytes { untilNUL($0) }
    }

    static func untilNUL(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        for b in bytes {
            if b == 0 { break }
            out.append(b)
        }
        return out
    }
}
