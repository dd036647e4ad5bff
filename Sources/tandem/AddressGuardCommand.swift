import ArgumentParser
import VRRP

#if canImport(Glibc)
import Glibc
#endif

/// `tandem address-guard`: started by `tandem vrrp` and `tandem run` themselves (see
/// `AddressGuard`); not for operators, so hidden from the help.
struct AddressGuardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "address-guard",
        abstract: "Removes a tandem's virtual addresses when it dies (started by tandem itself).",
        shouldDisplay: false)

    func run() throws {
        let code = runAddressGuard { line in
            let bytes = Array("tandem address-guard: \(line)\n".utf8)
            _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        }
        if code != 0 { throw ExitCode(code) }
    }
}

/// How `tandem vrrp` and `tandem run` start their guard: this very executable.
let addressGuardLaunch = (program: "/proc/self/exe", arguments: ["tandem", "address-guard"])
