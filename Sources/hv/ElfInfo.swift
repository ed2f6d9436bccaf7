import ArgumentParser
import ELFImage
import Foundation

/// `hv elf-info IMAGE.elf`: what the loader finds in a kernel image.
struct ElfInfo: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "elf-info", abstract: "Show what the PV loader finds in a kernel ELF file.")

    @Argument(help: "A PV guest kernel ELF file.")
    var image: String

    @Option(help: "Guest memory to check the image against.")
    var memory = ByteSize(bytes: 64 << 20)

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let img: ELFImage
        do {
            img = try ELFImage.load(path: image, limits: ELFLimits(memoryBytes: UInt64(memory.bytes)))
        } catch {
            report("hv: \(error)")
            throw ExitCode(1)
        }
        func h(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
        if json {
            var o: [String: Any] = [
                "file": img.name, "entry": h(img.entry), "virt_base": h(img.virtBase), "paddr_offset": h(img.paddrOffset),
                "kernel_start": h(img.kernelStart), "kernel_end": h(img.kernelEnd), "file_size": img.fileSize,
            ]
            o["segments"] = img.segments.map { s -> [String: Any] in
                ["index": s.index, "vaddr": h(s.vaddr), "offset": h(s.fileOffset), "filesz": s.fileSize, "memsz": s.memSize,
                 "flags": (s.readable ? "r" : "-") + (s.writable ? "w" : "-") + (s.executable ? "x" : "-")]
            }
            o["notes"] = img.notes.all.map { ["type": $0.type, "name": $0.name, "value": $0.value] as [String: Any] }
            if let hp = img.notes.hypercallPage { o["hypercall_page"] = h(hp) }
            let data = try JSONSerialization.data(withJSONObject: o, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("\(img.name): x86-64 PV kernel, \(img.fileSize) bytes")
        print("  entry          \(h(img.entry))")
        print("  virt_base      \(h(img.virtBase))    paddr_offset \(h(img.paddrOffset))")
        print("  kernel range   \(h(img.kernelStart)) – \(h(img.kernelEnd)) (\((img.kernelEnd - img.kernelStart + 1023) / 1024) KiB)")
        if let hp = img.notes.hypercallPage { print("  hypercall page \(h(hp))") }
        print("  segments:")
        for s in img.segments {
            let flags = (s.readable ? "r" : "-") + (s.writable ? "w" : "-") + (s.executable ? "x" : "-")
            print("    [\(s.index)] \(flags) vaddr \(h(s.vaddr))  filesz \(h(s.fileSize))  memsz \(h(s.memSize))  offset \(h(s.fileOffset))")
        }
        print("  Xen notes:")
        for n in img.notes.all { print("    \(n.name.padding(toLength: 20, withPad: " ", startingAt: 0)) \(n.value)") }
    }
}
