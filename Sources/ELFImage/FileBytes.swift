import Glibc

/// Reads a whole file into memory, refusing one larger than a limit before reading it all.
enum FileBytes {
    static func read(path: String, limit: UInt64) throws(ELFImageError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(file: path, errno: errno) }
        defer { close(fd) }

        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .cannotRead(file: path, errno: errno) }
        var bytes: [UInt8] = []
        // A chunk just over the expected size reads a regular file in one call; zeroing a larger one
        // would cost more than the read (this is on the domain-creation path).
        var chunkSize = 64 << 10
        if (status.st_mode & S_IFMT) == S_IFREG, let size = UInt64(exactly: status.st_size) {
            guard size <= limit else { throw .fileTooLarge(file: path, size: size, limit: limit) }
            bytes.reserveCapacity(Int(size))
            chunkSize = Int(min(size + 1, 1 << 20))
        }
        // Read in chunks until end of file: the size may change under us, and pipes have none.
        var chunk = [UInt8](repeating: 0, count: max(chunkSize, 1))
        while true {
            // The pointer and count describe `chunk`, live for the duration of the call.
            let (count, code) = chunk.withUnsafeMutableBytes { buffer in
                let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
                return (count, errno)
            }
            if count < 0 {
                if code == EINTR { continue }
                throw .cannotRead(file: path, errno: code)
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0 ..< count])
            guard UInt64(bytes.count) <= limit else {
                throw .fileTooLarge(file: path, size: UInt64(bytes.count), limit: limit)
            }
        }
    }
}
