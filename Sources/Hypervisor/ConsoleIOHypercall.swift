import HyperABI

extension Domain {
    /// `console_io(cmd, count, buffer)`: the domain's debug console.
    ///
    /// Unlike Xen (where a plain domU gets -EPERM), every domain may use it: it is the console until
    /// the console ring back-end exists. Writes go to the domain's console log and live readers.
    func consoleIO(_ vcpu: VCPU, command: UInt64, count: UInt64, buffer: UInt64) throws(XenErrno) -> UInt64 {
        // `count` is a C int in Xen's prototype: a negative one is refused, not read as 4 GiB.
        let n = Int32(truncatingIfNeeded: count)
        switch ConsoleIOCommand(rawValue: command) {
        case .write:
            guard n >= 0 else { throw .EINVAL }
            let space = vcpu.addressSpace
            var done = 0
            while done < Int(n) {
                let chunk = min(Int(n) - done, vcpu.scratch.count)
                let slice = UnsafeMutableRawBufferPointer(rebasing: vcpu.scratch[0..<chunk])
                try space.copyFromGuest(buffer &+ UInt64(done), into: slice)
                console.output(UnsafeRawBufferPointer(slice))
                done += chunk
            }
            return 0
        case .read:
            guard n >= 0 else { throw .EINVAL }
            let space = vcpu.addressSpace
            let want = min(Int(n), vcpu.scratch.count)
            try space.checkWritable(buffer, count: want)
            let got = console.takeInput(into: UnsafeMutableRawBufferPointer(rebasing: vcpu.scratch[0..<want]))
            try space.copyToGuest(buffer, from: UnsafeRawBufferPointer(rebasing: vcpu.scratch[0..<got]))
            return UInt64(got)
        case nil:
            throw .ENOSYS
        }
    }
}
