import Foundation
import RedisTestSupport
import Testing

/// Runs the built `tandem` executable.
func runTandem(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tandem"),
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/debug/tandem"),
    ]
    guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        throw HarnessError("tandem executable not found next to the test binary; run `swift build` first")
    }
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

@Suite("The tandem command line")
struct CommandLineTests {
    @Test("--version prints the version and --help lists every subcommand")
    func versionAndHelp() throws {
        let version = try runTandem(["--version"])
        #expect(version.status == 0)
        #expect(version.output.hasPrefix("0."))
        let help = try runTandem(["--help"])
        #expect(help.status == 0)
        for subcommand in ["sentinel", "proxy", "vrrp", "run", "status"] {
            #expect(help.output.contains(subcommand), "help does not list \(subcommand)")
        }
    }

    @Test("subcommands that have not landed say so and exit 2", arguments: ["run", "status"])
    func pending(subcommand: String) throws {
        let result = try runTandem([subcommand, "/etc/some.conf", "--port", "26379"])
        #expect(result.status == 2)
        #expect(result.output.contains("tandem \(subcommand): not implemented yet"))
    }

    @Test("an unknown subcommand is an error naming it")
    func unknown() throws {
        let result = try runTandem(["frobnicate"])
        #expect(result.status != 0)
        #expect(result.output.contains("frobnicate"))
    }
}
