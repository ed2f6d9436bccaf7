import CHost
import HyperABI

/// The CPUID a PV guest sees when its CPUID is emulated (a faulting CPUID or Xen's forced-emulation
/// prefix `ud2; .ascii "xen"; cpuid`).
///
/// Deliberately simple: the host's answer, with
/// - leaf 1 ECX bit 31 (hypervisor present) set;
/// - leaf 1 ECX VMX (bit 5) and SMX (bit 6) cleared: a PV guest cannot use either;
/// - leaf 1 ECX OSXSAVE (bit 27) cleared: it mirrors CR4.OSXSAVE, and the guest's CR4 view has it 0;
/// - Xen's hypervisor leaves at 0x40000000–0x40000002, and zeros for the rest of the hypervisor
///   range 0x40000000–0x4FFFFFFF (as Xen answers leaves past its maximum there);
/// - every other leaf (leaf 7 included) as the host reports it.
public struct CPUIDPolicy: Sendable {
    /// A CPUID source: (leaf, subleaf) → (eax, ebx, ecx, edx).
    public typealias Source = @Sendable (_ leaf: UInt32, _ subleaf: UInt32) -> (eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32)

    /// Xen's hypervisor leaves: base, version, hypercall page.
    public static let hypervisorBase: UInt32 = 0x4000_0000
    /// The highest Xen leaf reported in leaf 0x40000000 EAX.
    public static let hypervisorMaxLeaf: UInt32 = 0x4000_0002
    /// "XenVMMXenVMM" as EBX, ECX, EDX of leaf 0x40000000 (little-endian ASCII).
    public static let signature: (ebx: UInt32, ecx: UInt32, edx: UInt32) = (0x566E_6558, 0x65584D4D, 0x4D4D_566E)
    /// The MSR a guest writes a page's address to have it filled as the hypercall page (leaf 0x40000002 EBX).
    public static let hypercallPageMSR: UInt32 = 0x4000_0000

    /// Leaf 1 ECX bits this policy changes.
    public static let vmxBit: UInt32 = 1 << 5
    public static let smxBit: UInt32 = 1 << 6
    public static let osxsaveBit: UInt32 = 1 << 27
    public static let hypervisorBit: UInt32 = 1 << 31

    private let source: Source

    /// A policy over `source`, the host CPU's CPUID by default (tests pass a fixed table).
    public init(source: @escaping Source = CPUIDPolicy.host) {
        self.source = source
    }

    /// The host CPU's CPUID instruction.
    public static let host: Source = { leaf, subleaf in
        var out: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &out) { raw in
            chost_cpuid(leaf, subleaf, raw.baseAddress!.assumingMemoryBound(to: UInt32.self))
        }
        return (out.0, out.1, out.2, out.3)
    }

    /// The guest's answer for CPUID(leaf, subleaf).
    public func query(leaf: UInt32, subleaf: UInt32) -> (eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32) {
        switch leaf {
        case Self.hypervisorBase:
            let s = Self.signature
            return (Self.hypervisorMaxLeaf, s.ebx, s.ecx, s.edx)
        case Self.hypervisorBase + 1:
            return (XenVersionABI.major << 16 | XenVersionABI.minor, 0, 0, 0)
        case Self.hypervisorBase + 2:
            // One hypercall page; its MSR; no optional features (ECX) advertised.
            return (1, Self.hypercallPageMSR, 0, 0)
        case 0x4000_0000...0x4FFF_FFFF:
            return (0, 0, 0, 0)
        case 1:
            var r = source(leaf, subleaf)
            r.ecx &= ~(Self.vmxBit | Self.smxBit | Self.osxsaveBit)
            r.ecx |= Self.hypervisorBit
            return r
        default:
            return source(leaf, subleaf)
        }
    }
}
