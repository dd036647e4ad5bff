import ArgumentParser

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A subcommand whose issue has not landed: it says so and exits 2, whatever it is given.
protocol PendingSubcommand: AsyncParsableCommand {
    var arguments: [String] { get }
}

extension PendingSubcommand {
    func run() async throws {
        let name = Self.configuration.commandName ?? "?"
        let message = "tandem \(name): not implemented yet\n"
        _ = message.withCString { write(2, $0, strlen($0)) }
        throw ExitCode(2)
    }
}

struct StatusCommand: PendingSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the state of a Tandem node (not implemented yet).")
    @Argument(parsing: .allUnrecognized, help: "Status options.")
    var arguments: [String] = []
}
