import ArgumentParser
import Daemon

/// Tandem's version, printed by `tandem --version`.
let tandemVersion = "0.1.0-dev"

@main
struct Tandem: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem",
        abstract: "Redis high availability in one program: Sentinel, proxy and VRRP.",
        discussion: """
            Tandem does the jobs of Redis Sentinel, HAProxy and keepalived for a Redis
            master/replica group. Each job is a subcommand; `tandem run` runs them together.
            """,
        version: tandemVersion,
        subcommands: [SentinelCommand.self, ProxyCommand.self, VRRPCommand.self, RunCommand.self, SwitchoverCommand.self, StatusCommand.self,
                      CheckConfigCommand.self, AddressGuardCommand.self]
    )
}

extension LogFormat: ExpressibleByArgument {}
