import ELFImage
import Testing

/// Damaged copies of good images must load or be refused with an error naming the file: never trap.
@Suite("Damaged images never trap")
struct MutationTests {
    /// Deterministic xorshift64* so a failure can be replayed.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 0x2545_f491_4f6c_dd1d
        }
    }

    static let images: [[UInt8]] = {
        var sections = Fixture.miniOS()
        sections.segments.removeFirst()
        sections.sections = [.init(payload: Fixture.miniOSNotes())]
        return [Fixture.miniOS().build(), Fixture.linux().build(), sections.build()]
    }()

    @Test func everyTruncation() {
        for image in Self.images {
            for length in 0 ..< image.count {
                check(Array(image.prefix(length)))
            }
        }
    }

    @Test func randomByteDamage() {
        var random = Generator(state: 0x5eed_1234_abcd_0001)
        for round in 0 ..< 3000 {
            var bytes = Self.images[round % Self.images.count]
            // Mostly the headers and notes (first 0x240 bytes), sometimes anywhere.
            for _ in 0 ... Int.random(in: 0 ..< 4, using: &random) {
                let span = Bool.random(using: &random) ? min(0x240, bytes.count) : bytes.count
                let at = Int.random(in: 0 ..< span, using: &random)
                bytes[at] = Bool.random(using: &random) ? UInt8.random(in: 0 ... 255, using: &random) : 0xff
            }
            check(bytes)
        }
    }

    private func check(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let image = try ELFImage.load(bytes: bytes, name: Fixture.name, limits: ELFLimits(memoryBytes: 64 << 20))
            for segment in image.segments {
                #expect(UInt64(segment.bytes.count) == segment.fileSize, sourceLocation: sourceLocation)
                #expect(image.kernelStart <= segment.vaddr && segment.range.upperBound <= image.kernelEnd,
                        sourceLocation: sourceLocation)
            }
        } catch {
            #expect(error.description.hasPrefix("\(Fixture.name): "), sourceLocation: sourceLocation)
        }
    }
}
