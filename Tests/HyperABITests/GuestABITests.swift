import CGuestABI
import HyperABI
import Testing

/// GuestKit's C headers and the host's HyperABI are written separately; this test is what keeps them one ABI.
@Suite struct GuestABITests {
    /// GuestKit's table, by name.
    let guest: [String: Int64] = {
        var out: [String: Int64] = [:]
        let entries = cguestabi_entries()!
        for i in 0..<cguestabi_count() { out[String(cString: entries[i].name)] = Int64(entries[i].value) }
        return out
    }()

    /// The host's values for the same names.
    var host: [String: Int64] {
        var h: [String: Int64] = [:]
        for call in Hypercall.allCases { h["__HYPERVISOR_\(call.xenName)"] = Int64(call.rawValue) }
        h["CONSOLEIO_write"] = Int64(ConsoleIOCommand.write.rawValue)
        h["CONSOLEIO_read"] = Int64(ConsoleIOCommand.read.rawValue)
        let sched: [(String, SchedOpCommand)] = [("yield", .yield), ("block", .block), ("shutdown", .shutdown), ("poll", .poll),
                                                ("remote_shutdown", .remoteShutdown), ("shutdown_code", .shutdownCode), ("watchdog", .watchdog)]
        for (n, c) in sched { h["SCHEDOP_\(n)"] = Int64(c.rawValue) }
        for r in ShutdownReason.allCases { h["SHUTDOWN_\(r)"] = Int64(r.rawValue) }
        h["sizeof(struct sched_shutdown)"] = Int64(ShutdownReason.structSize)
        let ver: [(String, XenVersionCommand)] = [("version", .version), ("extraversion", .extraversion), ("compile_info", .compileInfo),
            ("capabilities", .capabilities), ("changeset", .changeset), ("platform_parameters", .platformParameters),
            ("get_features", .getFeatures), ("pagesize", .pagesize), ("guest_handle", .guestHandle)]
        for (n, c) in ver { h["XENVER_\(n)"] = Int64(c.rawValue) }
        typealias V = XenVersionABI
        h["sizeof(xen_extraversion_t)"] = Int64(V.extraversionSize)
        h["sizeof(struct xen_compile_info)"] = Int64(V.compileInfoSize)
        h["offsetof(struct xen_compile_info, compiler)"] = Int64(V.compileInfoCompilerOffset)
        h["offsetof(struct xen_compile_info, compile_by)"] = Int64(V.compileInfoByOffset)
        h["offsetof(struct xen_compile_info, compile_domain)"] = Int64(V.compileInfoDomainOffset)
        h["offsetof(struct xen_compile_info, compile_date)"] = Int64(V.compileInfoDateOffset)
        h["sizeof(xen_capabilities_info_t)"] = Int64(V.capabilitiesSize)
        h["sizeof(xen_changeset_info_t)"] = Int64(V.changesetSize)
        h["sizeof(struct xen_platform_parameters)"] = Int64(V.platformParametersSize)
        h["sizeof(struct xen_feature_info)"] = Int64(V.featureInfoSize)
        h["offsetof(struct xen_feature_info, submap)"] = Int64(V.featureInfoSubmapOffset)
        h["sizeof(xen_domain_handle_t)"] = Int64(V.domainHandleSize)

        typealias S = StartInfoLayout
        let si: [(String, Int)] = [("magic", S.magic), ("nr_pages", S.nrPages), ("shared_info", S.sharedInfo), ("flags", S.flags),
            ("store_mfn", S.storeMFN), ("store_evtchn", S.storeEvtchn), ("console.domU.mfn", S.consoleMFN),
            ("console.domU.evtchn", S.consoleEvtchn), ("pt_base", S.ptBase), ("nr_pt_frames", S.nrPTFrames), ("mfn_list", S.mfnList),
            ("mod_start", S.modStart), ("mod_len", S.modLen), ("cmd_line", S.cmdLine), ("first_p2m_pfn", S.firstP2MPFN),
            ("nr_p2m_frames", S.nrP2MFrames)]
        for (f, o) in si { h["offsetof(struct start_info, \(f))"] = Int64(o) }
        h["sizeof(struct start_info)"] = Int64(S.size)
        h["MAX_GUEST_CMDLINE"] = Int64(S.cmdLineSize)
        let sif: [(String, StartInfoFlags)] = [("PRIVILEGED", .privileged), ("INITDOMAIN", .initDomain), ("MULTIBOOT_MOD", .multibootModule),
                                               ("MOD_START_PFN", .modStartPFN), ("VIRT_P2M_4TOOLS", .virtP2MForTools)]
        for (n, f) in sif { h["SIF_\(n)"] = Int64(f.rawValue) }

        let ids: [(String, UInt16)] = [("SELF", DomainID.this), ("IO", DomainID.io), ("XEN", DomainID.xen), ("COW", DomainID.cow),
                                       ("INVALID", DomainID.invalid), ("ANY", DomainID.any), ("IDLE", DomainID.idle)]
        for (n, v) in ids { h["DOMID_\(n)"] = Int64(v) }
        h["HYPERVISOR_VIRT_START"] = Int64(bitPattern: PVLayout.hypervisorVirtStart)
        h["HYPERVISOR_VIRT_END"] = Int64(bitPattern: PVLayout.hypervisorVirtEnd)
        h["MACH2PHYS_VIRT_START"] = Int64(bitPattern: PVLayout.machphysVirtStart)
        h["MACH2PHYS_VIRT_END"] = Int64(bitPattern: PVLayout.machphysVirtEnd)
        h["FLAT_KERNEL_CS"] = Int64(PVLayout.flatKernelCS)
        h["FLAT_KERNEL_SS"] = Int64(PVLayout.flatKernelSS)
        h["FLAT_KERNEL_DS"] = Int64(PVLayout.flatKernelDS)
        h["FLAT_RING3_CS32"] = Int64(PVLayout.flatUserCS32)

        for e in XenErrno.allCases { h["XEN_\(e.name)"] = Int64(e.rawValue) }
        for n in XenELFNote.allCases { h["XEN_ELFNOTE_\(n.name)"] = Int64(n.rawValue) }
        return h
    }

    @Test func everyGuestKitDefinitionMatchesHyperABI() {
        #expect(guest.count > 150)
        for (name, value) in guest.sorted(by: { $0.key < $1.key }) {
            #expect(host[name] == value, "\(name): GuestKit says \(value), HyperABI says \(host[name].map(String.init) ?? "nothing")")
        }
    }

    @Test func hyperABIHasNothingGuestKitLacks() {
        for name in host.keys.sorted() {
            #expect(guest[name] != nil, "\(name) is in HyperABI but not in GuestKit's headers")
        }
    }

    @Test func errnoResultsAreNegated() {
        #expect(XenErrno.EFAULT.hypercallResult == UInt64(bitPattern: -14))
        #expect(XenErrno.ENOSYS.hypercallResult == UInt64(bitPattern: -38))
    }

    @Test func canonicalAddresses() {
        #expect(PVLayout.isCanonical(0x0000_7fff_ffff_ffff))
        #expect(PVLayout.isCanonical(0xffff_8000_0000_0000))
        #expect(!PVLayout.isCanonical(0x0000_8000_0000_0000))
        #expect(!PVLayout.isCanonical(0x8000_0000_0000_0000))
    }
}
