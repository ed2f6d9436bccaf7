import ArgumentParser
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Demo (placeholder)")
}
