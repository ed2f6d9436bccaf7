import ELFImage
import Foundation
import Testing

/// `ELFImage.load(path:)`: reading real files, and the errors reading gives.
@Suite("Loading from a path")
struct FileTests {
    /// A fresh temporary directory, removed by the caller.
    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("elfimage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
        return url
    }

    @Test func loadsARealFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("mini-os.elf").path
        let bytes = Fixture.miniOS().build()
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let image = try ELFImage.load(path: path, limits: Fixture.limits)
        #expect(image.name == path)
        #expect(image.fileSize == UInt64(bytes.count))
        #expect(image.entry == 0x10)
        #expect(image.segments.map(\.bytes) == [Fixture.text, Fixture.data])
    }

    @Test func missingFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("missing.elf").path
        let error = #expect(throws: ELFImageError.self) { try ELFImage.load(path: path, limits: Fixture.limits) }
        #expect(error == .cannotOpen(file: path, errno: ENOENT))
        #expect(error?.description == "\(path): cannot open: ENOENT (No such file or directory)")
    }

    @Test func directoryCannotBeRead() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = #expect(throws: ELFImageError.self) { try ELFImage.load(path: directory.path, limits: Fixture.limits) }
        #expect(error == .cannotRead(file: directory.path, errno: EISDIR))
        #expect(error?.description.hasPrefix("\(directory.path): cannot read: EISDIR") == true)
    }

    @Test func fileLargerThanLimitIsNotRead() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("big.elf").path
        try Data(count: 200).write(to: URL(fileURLWithPath: path))
        let limits = ELFLimits(memoryBytes: 16 << 20, maxFileBytes: 100)
        let error = #expect(throws: ELFImageError.self) { try ELFImage.load(path: path, limits: limits) }
        #expect(error == .fileTooLarge(file: path, size: 200, limit: 100))
        #expect(error?.description.hasPrefix("\(path): file is too large") == true)
    }

    @Test func endlessDeviceStopsAtTheLimit() {
        let limits = ELFLimits(memoryBytes: 16 << 20, maxFileBytes: 4096)
        let error = #expect(throws: ELFImageError.self) { try ELFImage.load(path: "/dev/zero", limits: limits) }
        guard case .fileTooLarge("/dev/zero", let size, 4096)? = error else {
            Issue.record("expected fileTooLarge, got \(String(describing: error))")
            return
        }
        #expect(size > 4096)
    }

    @Test func emptyFileOnDisk() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("empty.elf").path
        try Data().write(to: URL(fileURLWithPath: path))
        #expect(throws: ELFImageError.emptyFile(file: path)) { try ELFImage.load(path: path, limits: Fixture.limits) }
    }
}
