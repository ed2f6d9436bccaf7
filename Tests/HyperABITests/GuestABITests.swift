import CGuestABI
import HyperABI
import Testing
import Toolstack

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
                                                ("remote_shutdown", .remoteShutdown), ("shutdown_code", .shutdownCode), ("watchdog", .watchdog),
                                                ("priority_hint", .priorityHint)]
        for (n, c) in sched { h["SCHEDOP_\(n)"] = Int64(c.rawValue) }
        for r in ShutdownReason.allCases { h["SHUTDOWN_\(r)"] = Int64(r.rawValue) }
        h["sizeof(struct sched_shutdown)"] = Int64(ShutdownReason.structSize)
        h["sizeof(struct sched_priority_hint)"] = 4
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

        func off(_ type: String, _ field: String, _ v: Int) { h["offsetof(\(type), \(field))"] = Int64(v) }
        func size(_ type: String, _ v: Int) { h["sizeof(\(type))"] = Int64(v) }
        size("struct trap_info", TrapInfoLayout.size)
        off("struct trap_info", "vector", TrapInfoLayout.vector); off("struct trap_info", "flags", TrapInfoLayout.flags)
        off("struct trap_info", "cs", TrapInfoLayout.cs); off("struct trap_info", "address", TrapInfoLayout.address)
        let cbs: [(String, CallbackType)] = [("event", .event), ("failsafe", .failsafe), ("syscall", .syscall), ("nmi", .nmi),
                                             ("sysenter", .sysenter), ("syscall32", .syscall32)]
        for (n, t) in cbs { h["CALLBACKTYPE_\(n)"] = Int64(t.rawValue) }
        h["CALLBACKOP_register"] = Int64(CallbackOp.register); h["CALLBACKOP_unregister"] = Int64(CallbackOp.unregister)
        h["CALLBACKF_mask_events"] = Int64(CallbackOp.maskEvents)
        size("struct callback_register", CallbackOp.registerSize)
        off("struct callback_register", "flags", CallbackOp.registerFlagsOffset)
        off("struct callback_register", "address", CallbackOp.registerAddressOffset)
        let segs: [(String, SegmentBase)] = [("FS", .fs), ("GS_USER", .gsUser), ("GS_KERNEL", .gsKernel), ("GS_USER_SEL", .gsUserSelector)]
        for (n, v) in segs { h["SEGBASE_\(n)"] = Int64(v.rawValue) }
        h["UVMF_NONE"] = Int64(UVMF.none); h["UVMF_TLB_FLUSH"] = Int64(UVMF.tlbFlush)
        h["UVMF_INVLPG"] = Int64(UVMF.invlpg); h["UVMF_ALL"] = Int64(UVMF.all)
        let evs: [(String, EventChannelCommand)] = [("bind_interdomain", .bindInterdomain), ("bind_virq", .bindVIRQ), ("bind_pirq", .bindPIRQ),
            ("close", .close), ("send", .send), ("status", .status), ("alloc_unbound", .allocUnbound), ("bind_ipi", .bindIPI),
            ("bind_vcpu", .bindVCPU), ("unmask", .unmask), ("reset", .reset), ("init_control", .initControl),
            ("expand_array", .expandArray), ("set_priority", .setPriority)]
        for (n, c) in evs { h["EVTCHNOP_\(n)"] = Int64(c.rawValue) }
        typealias E = EventChannelLayout
        size("struct evtchn_bind_interdomain", E.bindInterdomainSize)
        off("struct evtchn_bind_interdomain", "remote_port", 4); off("struct evtchn_bind_interdomain", "local_port", 8)
        size("struct evtchn_bind_virq", E.bindVIRQSize); off("struct evtchn_bind_virq", "vcpu", 4); off("struct evtchn_bind_virq", "port", 8)
        size("struct evtchn_status", E.statusSize); off("struct evtchn_status", "status", 8)
        off("struct evtchn_status", "vcpu", 12); off("struct evtchn_status", "u", 16)
        size("struct evtchn_alloc_unbound", E.allocUnboundSize)
        off("struct evtchn_alloc_unbound", "remote_dom", 2); off("struct evtchn_alloc_unbound", "port", 4)
        size("struct evtchn_bind_ipi", E.bindIPISize); size("struct evtchn_bind_vcpu", E.bindVCPUSize); size("struct evtchn_reset", E.resetSize)
        let stats: [(String, EventChannelStatus)] = [("closed", .closed), ("unbound", .unbound), ("interdomain", .interdomain),
                                                    ("pirq", .pirq), ("virq", .virq), ("ipi", .ipi)]
        for (n, v) in stats { h["EVTCHNSTAT_\(n)"] = Int64(v.rawValue) }
        let virqs: [(String, VIRQ)] = [("TIMER", .timer), ("DEBUG", .debug), ("CONSOLE", .console), ("DOM_EXC", .domExc),
            ("TBUF", .tbuf), ("DEBUGGER", .debugger), ("XENOPROF", .xenoprof), ("CON_RING", .conRing), ("PCPU_STATE", .pcpuState),
            ("MEM_EVENT", .memEvent), ("ARGO", .argo), ("ENOMEM", .enomem), ("XENPMU", .xenpmu)]
        for (n, v) in virqs { h["VIRQ_\(n)"] = Int64(v.rawValue) }
        h["NR_VIRQS"] = Int64(VIRQ.count)
        let vops: [(String, VCPUOpCommand)] = [("initialise", .initialise), ("up", .up), ("down", .down), ("is_up", .isUp),
            ("get_runstate_info", .getRunstateInfo), ("register_runstate_memory_area", .registerRunstateMemoryArea),
            ("set_periodic_timer", .setPeriodicTimer), ("stop_periodic_timer", .stopPeriodicTimer),
            ("set_singleshot_timer", .setSingleshotTimer), ("stop_singleshot_timer", .stopSingleshotTimer),
            ("register_vcpu_info", .registerVCPUInfo)]
        for (n, v) in vops { h["VCPUOP_\(n)"] = Int64(v.rawValue) }
        size("struct vcpu_set_singleshot_timer", VCPUOpLayout.singleshotSize)
        size("struct vcpu_set_periodic_timer", VCPUOpLayout.periodicSize)
        size("struct vcpu_register_vcpu_info", VCPUOpLayout.registerVCPUInfoSize)
        typealias R = CPUUserRegsLayout
        size("struct cpu_user_regs", R.size)
        for (f, v) in [("rdi", R.rdi), ("rsi", R.rsi), ("rip", R.rip), ("cs", R.cs), ("saved_upcall_mask", R.savedUpcallMask),
                       ("rflags", R.rflags), ("rsp", R.rsp), ("ss", R.ss)] { off("struct cpu_user_regs", f, v) }
        typealias G = VCPUGuestContextLayout
        size("struct vcpu_guest_context", G.size)
        for (f, v) in [("flags", G.flags), ("user_regs", G.userRegs), ("trap_ctxt", G.trapContext), ("ldt_ents", G.ldtEntries),
                       ("gdt_frames", G.gdtFrames), ("gdt_ents", G.gdtEntries), ("kernel_ss", G.kernelSS), ("kernel_sp", G.kernelSP),
                       ("ctrlreg", G.controlRegisters), ("event_callback_eip", G.eventCallback),
                       ("failsafe_callback_eip", G.failsafeCallback), ("syscall_callback_eip", G.syscallCallback),
                       ("vm_assist", G.vmAssist), ("fs_base", G.fsBase), ("gs_base_kernel", G.gsBaseKernel),
                       ("gs_base_user", G.gsBaseUser)] { off("struct vcpu_guest_context", f, v) }
        h["VGCF_in_kernel"] = Int64(G.flagInKernel); h["VGCF_online"] = Int64(G.flagOnline)
        h["VGCF_failsafe_disables_events"] = Int64(G.flagFailsafeDisablesEvents)
        h["VGCF_syscall_disables_events"] = Int64(G.flagSyscallDisablesEvents)
        h["XEN_LEGACY_MAX_VCPUS"] = Int64(SharedInfoLayout.legacyMaxVCPUs)
        size("struct vcpu_runstate_info", RunstateLayout.size)
        off("struct vcpu_runstate_info", "state_entry_time", RunstateLayout.stateEntryTime)
        off("struct vcpu_runstate_info", "time", RunstateLayout.time)
        let states: [(String, RunState)] = [("running", .running), ("runnable", .runnable), ("blocked", .blocked), ("offline", .offline)]
        for (n, v) in states { h["RUNSTATE_\(n)"] = Int64(v.rawValue) }
        size("struct sched_poll", SchedPollLayout.size)
        off("struct sched_poll", "nr_ports", SchedPollLayout.nrPorts); off("struct sched_poll", "timeout", SchedPollLayout.timeout)
        size("struct multicall_entry", MulticallLayout.size)
        off("struct multicall_entry", "result", MulticallLayout.result); off("struct multicall_entry", "args", MulticallLayout.args)
        size("struct vcpu_time_info", VCPUTimeLayout.size)
        off("struct vcpu_time_info", "tsc_timestamp", VCPUTimeLayout.tscTimestamp)
        off("struct vcpu_time_info", "system_time", VCPUTimeLayout.systemTime)
        off("struct vcpu_time_info", "tsc_to_system_mul", VCPUTimeLayout.tscToSystemMul)
        off("struct vcpu_time_info", "tsc_shift", VCPUTimeLayout.tscShift)
        size("struct vcpu_info", VCPUInfoLayout.size)
        off("struct vcpu_info", "evtchn_upcall_mask", VCPUInfoLayout.upcallMask)
        off("struct vcpu_info", "evtchn_pending_sel", VCPUInfoLayout.pendingSel)
        off("struct vcpu_info", "arch.cr2", VCPUInfoLayout.cr2); off("struct vcpu_info", "time", VCPUInfoLayout.time)
        typealias SI = SharedInfoLayout
        off("struct shared_info", "evtchn_pending", SI.evtchnPending); off("struct shared_info", "evtchn_mask", SI.evtchnMask)
        off("struct shared_info", "wc_version", SI.wcVersion); off("struct shared_info", "wc_sec", SI.wcSec)
        off("struct shared_info", "wc_nsec", SI.wcNsec); off("struct shared_info", "wc_sec_hi", SI.wcSecHi)

        h["MMU_NORMAL_PT_UPDATE"] = 0; h["MMU_MACHPHYS_UPDATE"] = 1; h["MMU_PT_UPDATE_PRESERVE_AD"] = 2; h["MMU_PT_UPDATE_NO_TRANSLATE"] = 3
        h["MMU_UPDATE_PREEMPTED"] = Int64(MMULayout.preemptedFlag)
        size("struct mmu_update", MMULayout.updateSize); size("struct mmuext_op", MMULayout.extSize)
        let exts: [(String, Int64)] = [("PIN_L1_TABLE", 0), ("PIN_L2_TABLE", 1), ("PIN_L3_TABLE", 2), ("PIN_L4_TABLE", 3),
            ("UNPIN_TABLE", 4), ("NEW_BASEPTR", 5), ("TLB_FLUSH_LOCAL", 6), ("INVLPG_LOCAL", 7), ("TLB_FLUSH_MULTI", 8),
            ("INVLPG_MULTI", 9), ("TLB_FLUSH_ALL", 10), ("INVLPG_ALL", 11), ("FLUSH_CACHE", 12), ("SET_LDT", 13),
            ("NEW_USER_BASEPTR", 15), ("CLEAR_PAGE", 16), ("COPY_PAGE", 17), ("FLUSH_CACHE_GLOBAL", 18), ("MARK_SUPER", 19),
            ("UNMARK_SUPER", 20)]
        for (n, v) in exts { h["MMUEXT_\(n)"] = v }
        let mems: [(String, MemoryOpCommand)] = [("increase_reservation", .increaseReservation), ("decrease_reservation", .decreaseReservation),
            ("maximum_ram_page", .maximumRAMPage), ("current_reservation", .currentReservation), ("maximum_reservation", .maximumReservation),
            ("machphys_mfn_list", .machphysMFNList), ("populate_physmap", .populatePhysmap), ("add_to_physmap", .addToPhysmap),
            ("memory_map", .memoryMap), ("machine_memory_map", .machineMemoryMap), ("exchange", .exchange),
            ("machphys_mapping", .machphysMapping)]
        for (n, c) in mems { h["XENMEM_\(n)"] = Int64(c.rawValue) }
        typealias M = MemoryOpLayout
        size("struct xen_memory_reservation", M.reservationSize)
        off("struct xen_memory_reservation", "nr_extents", M.nrExtents); off("struct xen_memory_reservation", "extent_order", M.extentOrder)
        off("struct xen_memory_reservation", "mem_flags", M.memFlags); off("struct xen_memory_reservation", "domid", M.domid)
        size("struct xen_add_to_physmap", M.addToPhysmapSize)
        off("struct xen_add_to_physmap", "space", 4); off("struct xen_add_to_physmap", "idx", 8); off("struct xen_add_to_physmap", "gpfn", 16)
        h["XENMAPSPACE_shared_info"] = Int64(M.spaceSharedInfo); h["XENMAPSPACE_grant_table"] = Int64(M.spaceGrantTable)
        size("struct xen_machphys_mapping", M.machphysMappingSize)

        let gnt: [(String, GrantTableCommand)] = [("map_grant_ref", .mapGrantRef), ("unmap_grant_ref", .unmapGrantRef),
            ("setup_table", .setupTable), ("copy", .copy), ("query_size", .querySize), ("set_version", .setVersion),
            ("get_version", .getVersion)]
        for (n, c) in gnt { h["GNTTABOP_\(n)"] = Int64(c.rawValue) }
        typealias GL = GrantLayout
        for (n, v) in [("permit_access", GL.permitAccess), ("readonly", GL.readonly), ("reading", GL.reading),
                       ("writing", GL.writing), ("sub_page", GL.subPage)] { h["GTF_\(n)"] = Int64(v) }
        for (n, v) in [("device_map", GL.mapDevice), ("host_map", GL.mapHost), ("readonly", GL.mapReadonly),
                       ("application_map", GL.mapApplication), ("contains_pte", GL.mapContainsPTE)] { h["GNTMAP_\(n)"] = Int64(v) }
        h["GNTCOPY_source_gref"] = Int64(GL.copySourceGref); h["GNTCOPY_dest_gref"] = Int64(GL.copyDestGref)
        for s in GrantStatus.allCases { h["GNTST_\(s.xenName)"] = Int64(s.rawValue) }
        h["GNTTAB_NR_RESERVED_ENTRIES"] = Int64(GL.reservedEntries)
        size("grant_entry_v1_t", GL.entrySize); off("grant_entry_v1_t", "domid", GL.entryDomid); off("grant_entry_v1_t", "frame", GL.entryFrame)
        let mapT = "struct gnttab_map_grant_ref"
        size(mapT, GL.mapSize)
        for (f, v) in [("flags", GL.mapFlags), ("ref", GL.mapRef), ("dom", GL.mapDom), ("status", GL.mapStatus),
                       ("handle", GL.mapHandle), ("dev_bus_addr", GL.mapDevBusAddr)] { off(mapT, f, v) }
        size("struct gnttab_unmap_grant_ref", GL.unmapSize)
        off("struct gnttab_unmap_grant_ref", "handle", GL.unmapHandle); off("struct gnttab_unmap_grant_ref", "status", GL.unmapStatus)
        size("struct gnttab_setup_table", GL.setupSize)
        off("struct gnttab_setup_table", "nr_frames", GL.setupNrFrames); off("struct gnttab_setup_table", "status", GL.setupStatus)
        off("struct gnttab_setup_table", "frame_list", GL.setupFrameList)
        let copyT = "struct gnttab_copy"
        size(copyT, GL.copySize)
        for (f, v) in [("source.domid", GL.copySource + GL.copyPtrDomid), ("source.offset", GL.copySource + GL.copyPtrOffset),
                       ("dest", GL.copyDest), ("len", GL.copyLen), ("flags", GL.copyFlags), ("status", GL.copyStatus)] { off(copyT, f, v) }
        size("struct gnttab_query_size", GL.querySize)
        off("struct gnttab_query_size", "max_nr_frames", GL.queryMaxNrFrames); off("struct gnttab_query_size", "status", GL.queryStatus)
        size("struct gnttab_get_version", GL.getVersionSize); off("struct gnttab_get_version", "version", GL.getVersionVersion)

        let xs: [(String, XenStoreMessageType)] = [("DIRECTORY", .directory), ("READ", .read), ("GET_PERMS", .getPerms),
            ("WATCH", .watch), ("UNWATCH", .unwatch), ("TRANSACTION_START", .transactionStart), ("TRANSACTION_END", .transactionEnd),
            ("INTRODUCE", .introduce), ("RELEASE", .release), ("GET_DOMAIN_PATH", .getDomainPath), ("WRITE", .write),
            ("MKDIR", .mkdir), ("RM", .rm), ("SET_PERMS", .setPerms), ("WATCH_EVENT", .watchEvent), ("ERROR", .error),
            ("IS_DOMAIN_INTRODUCED", .isDomainIntroduced), ("RESET_WATCHES", .resetWatches), ("DIRECTORY_PART", .directoryPart)]
        for (n, t) in xs { h["XS_\(n)"] = Int64(t.rawValue) }
        h["XENSTORE_PAYLOAD_MAX"] = Int64(XenStoreLimits.payloadMax); h["XENSTORE_RING_SIZE"] = Int64(StoreRingLayout.size)
        size("struct xsd_sockmsg", XenStoreLimits.headerSize)
        typealias SR = StoreRingLayout
        typealias CR = ConsoleRingLayout
        for (f, v) in [("rsp", SR.response), ("req_cons", SR.requestConsumer), ("req_prod", SR.requestProducer),
                       ("rsp_cons", SR.responseConsumer), ("rsp_prod", SR.responseProducer)] { off("struct xenstore_domain_interface", f, v) }
        for (f, v) in [("out", CR.output), ("in_cons", CR.inputConsumer), ("in_prod", CR.inputProducer),
                       ("out_cons", CR.outputConsumer), ("out_prod", CR.outputProducer)] { off("struct xencons_interface", f, v) }
        for (n, s) in [("Initialising", XenbusState.initialising), ("InitWait", .initWait), ("Initialised", .initialised),
                       ("Connected", .connected), ("Closing", .closing), ("Closed", .closed)] { h["XenbusState\(n)"] = Int64(s.rawValue) }

        typealias BI = BlockInterface
        let blkOps: [(String, BI.Operation)] = [("READ", .read), ("WRITE", .write), ("WRITE_BARRIER", .writeBarrier),
            ("FLUSH_DISKCACHE", .flushDiskCache), ("DISCARD", .discard), ("INDIRECT", .indirect)]
        for (n, o) in blkOps { h["BLKIF_OP_\(n)"] = Int64(o.rawValue) }
        h["BLKIF_MAX_SEGMENTS_PER_REQUEST"] = Int64(BI.maxSegments)
        h["BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST"] = Int64(BI.maxIndirectPages)
        h["BLKIF_DISCARD_SECURE"] = Int64(BI.discardSecure)
        h["BLKIF_RSP_EOPNOTSUPP"] = Int64(BI.notSupported); h["BLKIF_RSP_ERROR"] = Int64(BI.error); h["BLKIF_RSP_OKAY"] = Int64(BI.okay)
        h["VDISK_CDROM"] = Int64(BI.vdiskCDROM); h["VDISK_REMOVABLE"] = Int64(BI.vdiskRemovable); h["VDISK_READONLY"] = Int64(BI.vdiskReadOnly)
        size("struct blkif_request_segment", BI.segmentSize)
        off("struct blkif_request_segment", "first_sect", BI.segmentFirst); off("struct blkif_request_segment", "last_sect", BI.segmentLast)
        size("struct blkif_request", BI.slotSize)
        for (f, v) in [("nr_segments", BI.requestSegments), ("handle", BI.requestHandle), ("id", BI.requestID),
                       ("sector_number", BI.requestSector), ("seg", BI.segmentArray)] { off("struct blkif_request", f, v) }
        off("struct blkif_request_discard", "flag", BI.discardFlag); off("struct blkif_request_discard", "nr_sectors", BI.discardSectors)
        size("struct blkif_request_indirect", BI.indirectRequestSize)
        for (f, v) in [("indirect_op", BI.indirectOperation), ("nr_segments", BI.indirectSegments), ("id", BI.requestID),
                       ("sector_number", BI.requestSector), ("handle", BI.indirectHandle), ("indirect_grefs", BI.indirectGrefs)] {
            off("struct blkif_request_indirect", f, v)
        }
        off("struct blkif_response", "operation", BI.responseOperation); off("struct blkif_response", "status", BI.responseStatus)
        size("union blkif_sring_entry", BI.slotSize)

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
