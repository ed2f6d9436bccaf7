import HyperABI

/// A store into a page table, decoded from the faulting instruction (the forms PV kernels use to write
/// PTEs directly: `mov r/m, reg`, `mov r/m, imm32`, `xchg r/m, reg`, `lock cmpxchg r/m, reg`).
struct PageTableStore: Equatable {
    enum Kind: Equatable { case move(UInt64), exchange(register: Int), compareExchange(register: Int) }
    let kind: Kind
    /// 4 or 8 bytes.
    let size: Int
    let length: Int

    /// Decodes `bytes` (at most 15); `register` reads a general register by its encoding number.
    static func decode(_ bytes: [UInt8], register: (Int) -> UInt64) -> PageTableStore? {
        var i = 0
        var rex: UInt8 = 0
        while i < bytes.count, [0xf0, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65].contains(bytes[i]) { i += 1 }
        if i < bytes.count, bytes[i] & 0xf0 == 0x40 { rex = bytes[i]; i += 1 }
        guard i < bytes.count else { return nil }
        let size = rex & 8 != 0 ? 8 : 4
        var opcode = Int(bytes[i]); i += 1
        if opcode == 0x0f {
            guard i < bytes.count else { return nil }
            opcode = 0x0f00 | Int(bytes[i]); i += 1
        }
        guard [0x89, 0xc7, 0x87, 0x0fb1].contains(opcode), i < bytes.count else { return nil }
        let modrm = bytes[i]; i += 1
        let mod = modrm >> 6, reg = Int((modrm >> 3) & 7) | (rex & 4 != 0 ? 8 : 0), rm = modrm & 7
        guard mod != 3 else { return nil }                                   // a memory operand
        if rm == 4 {                                                         // SIB
            guard i < bytes.count else { return nil }
            let base = bytes[i] & 7; i += 1
            if mod == 0 && base == 5 { i += 4 }
        } else if mod == 0 && rm == 5 {
            i += 4                                                           // RIP-relative disp32
        }
        if mod == 1 { i += 1 } else if mod == 2 { i += 4 }
        switch opcode {
        case 0x89:
            guard i <= bytes.count else { return nil }
            return PageTableStore(kind: .move(register(reg)), size: size, length: i)
        case 0xc7:
            guard (modrm >> 3) & 7 == 0, i + 4 <= bytes.count else { return nil }
            let imm = UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
            let value = size == 8 ? UInt64(bitPattern: Int64(Int32(bitPattern: imm))) : UInt64(imm)
            return PageTableStore(kind: .move(value), size: size, length: i + 4)
        case 0x87:
            guard i <= bytes.count else { return nil }
            return PageTableStore(kind: .exchange(register: reg), size: size, length: i)
        default:
            guard i <= bytes.count else { return nil }
            return PageTableStore(kind: .compareExchange(register: reg), size: size, length: i)
        }
    }
}

extension Domain {
    /// VMASST_TYPE_writable_pagetables: the guest kernel stored into one of its L1 page tables (mapped
    /// read-only, so it faulted). Decode the store, validate the new entry exactly as `mmu_update` would,
    /// apply it and resume after the instruction. False if this is not such a store or the entry is
    /// refused: the #PF then goes to the guest, as Xen does.
    func emulatePageTableWrite(_ vcpu: VCPU, _ regs: inout CPURegisters, address: UInt64, errorCode: UInt64) -> Bool {
        guard vmAssist.load(ordering: .relaxed) & (1 << 2) != 0, vcpu.pv.kernelMode, errorCode & 3 == 3,
              case .success(let target) = vcpu.addressSpace.translate(address, write: false) else { return false }
        let snapshot = regs
        guard let store = PageTableStore.decode(instructionBytes(vcpu, at: regs.rip), register: { snapshot[encoding: $0] }),
              address & UInt64(store.size - 1) == 0 else { return false }
        let slot = Int(address & 4095) / 8
        let high = store.size == 4 && address & 4 != 0
        do {
            try withMMU { (mmu) throws(XenErrno) in
                guard mmu.type(target.mfn) == .l1 else { throw .EINVAL }
                let old = memory.readWord(mfn: target.mfn, offset: slot * 8) ?? 0
                let oldPart = store.size == 8 ? old : (high ? old >> 32 : old & 0xffff_ffff)
                func merged(_ v: UInt64) -> UInt64 {
                    guard store.size == 4 else { return v }
                    let part = v & 0xffff_ffff
                    return high ? (old & 0xffff_ffff) | part << 32 : (old & ~0xffff_ffff) | part
                }
                var new = old
                switch store.kind {
                case .move(let v):
                    new = merged(v)
                case .exchange(let r):
                    new = merged(regs[encoding: r])
                    regs[encoding: r] = store.size == 8 ? oldPart : oldPart & 0xffff_ffff
                case .compareExchange(let r):
                    let expected = store.size == 8 ? regs.rax : regs.rax & 0xffff_ffff
                    if expected == oldPart {
                        new = merged(regs[encoding: r])
                        regs.rflags |= 0x40                                   // ZF
                    } else {
                        regs.rax = oldPart
                        regs.rflags &= ~0x40
                    }
                }
                try mmu.updateEntry(table: target.mfn, level: 1, slot: slot, new: new)
            }
        } catch {
            regs = snapshot
            return false
        }
        regs.rip &+= UInt64(store.length)
        vcpu.pv.dirty.insert(.translations)
        return true
    }
}
