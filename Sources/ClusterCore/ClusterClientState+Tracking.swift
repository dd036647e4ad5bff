import NIOCore
import RESP

/// CLIENT TRACKING (client-side caching) in cluster mode. A node tracks the keys read on a
/// connection and sends that connection the invalidations, so a tracking client's commands go
/// on connections of its own to the masters (one per node), each set up with the CLIENT
/// TRACKING ON commands a node accepted (`commands`), and their pushes go to the client. A
/// CLIENT TRACKING command itself is checked by a node (`.tracking`): its answer is the
/// client's, and `trackingAccepted` records an accepted one. CLIENT CACHING (OPTIN/OPTOUT)
/// is checked here with a node's texts and sent just before the client's next command, on the
/// connection that command goes to. REDIRECT is refused: a client ID names one node's connection.
public struct ClusterTracking: Sendable, Hashable {
    public internal(set) var on = false
    public internal(set) var optin = false
    public internal(set) var optout = false
    /// BCAST: every master sends the invalidations of its keys under the prefixes, read or not.
    public internal(set) var broadcast = false
    /// The accepted ON commands since tracking was last off, each distinct one once, in order
    /// (BCAST prefixes add up over them); at most 64, the oldest dropped.
    public internal(set) var commands: [[ByteBuffer]] = []
    /// CLIENT CACHING yes (true) or no (false), for the client's next command.
    var caching: Bool?

    public init() {}
}

extension ClusterClientState {
    public static let redirectRefused = "ERR Tandem proxy: CLIENT TRACKING … REDIRECT is not supported in cluster mode (a client ID names one node's connection); use RESP3 (HELLO 3) without REDIRECT"

    /// CLIENT TRACKING, CACHING, GETREDIR and TRACKINGINFO; nil for another subcommand.
    mutating func trackingStep(_ sub: String, _ arguments: [ByteBuffer]) -> ClusterStep? {
        switch sub {
        case "CLIENT|TRACKING":
            guard arguments.count >= 3 else { return .reply(.simpleError("ERR wrong number of arguments for 'client|tracking' command")) }
            guard !inTransaction else { return Self.unsupported("CLIENT TRACKING inside a transaction") }
            if Self.trackingRedirects(arguments) { return .reply(.simpleError(Self.redirectRefused)) }
            return .tracking(arguments)
        case "CLIENT|CACHING":
            guard arguments.count == 3 else { return .reply(.simpleError("ERR wrong number of arguments for 'client|caching' command")) }
            guard tracking.on else {
                return .reply(.simpleError("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"))
            }
            switch CommandKeys.word(arguments, 2) {
            case "YES":
                guard tracking.optin else { return .reply(.simpleError("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")) }
                tracking.caching = true
            case "NO":
                guard tracking.optout else { return .reply(.simpleError("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")) }
                tracking.caching = false
            default:
                return .reply(.simpleError("ERR syntax error"))
            }
            return .reply(.simpleString("OK"))
        case "CLIENT|GETREDIR":
            guard arguments.count == 2 else { return .reply(.simpleError("ERR wrong number of arguments for 'client|getredir' command")) }
            return .reply(.integer(tracking.on ? 0 : -1))
        case "CLIENT|TRACKINGINFO":
            // A node's view: on the client's own connections while it tracks, else a shared one (off).
            guard arguments.count == 2 else { return .reply(.simpleError("ERR wrong number of arguments for 'client|trackinginfo' command")) }
            return .route(.anyMaster)
        default:
            return nil
        }
    }

    /// Whether a CLIENT TRACKING command has the REDIRECT option (a PREFIX's value is not an option).
    public static func trackingRedirects(_ arguments: [ByteBuffer]) -> Bool {
        var index = 3
        while index < arguments.count {
            switch CommandKeys.word(arguments, index) {
            case "REDIRECT": return true
            case "PREFIX": index += 2
            default: index += 1
            }
        }
        return false
    }

    /// A node answered +OK to this CLIENT TRACKING command: ON is recorded for the client's
    /// other connections and later ones, OFF forgets tracking. As on a node, each ON sets the
    /// mode afresh (OPTIN, OPTOUT, BCAST, NOLOOP from its own options) while BCAST prefixes add
    /// up: an ON given again moves to the end of the list replayed, so the last one decides.
    public mutating func trackingAccepted(_ arguments: [ByteBuffer]) {
        guard arguments.count >= 3, CommandKeys.word(arguments, 2) == "ON" else {
            tracking = ClusterTracking()
            return
        }
        tracking.on = true
        (tracking.optin, tracking.optout, tracking.broadcast) = (false, false, false)
        var index = 3
        while index < arguments.count {
            switch CommandKeys.word(arguments, index) {
            case "OPTIN": tracking.optin = true
            case "OPTOUT": tracking.optout = true
            case "BCAST": tracking.broadcast = true
            case "PREFIX", "REDIRECT": index += 1
            default: break
            }
            index += 1
        }
        tracking.commands = Array((tracking.commands.filter { $0 != arguments } + [arguments]).suffix(64))
    }

    /// CLIENT CACHING's effect on this command: what to send just before it (nil: nothing).
    /// Any command but CLIENT … consumes it, as on a node.
    mutating func takeCaching(_ name: String) -> [ByteBuffer]? {
        guard let caching = tracking.caching, name != "CLIENT" else { return nil }
        tracking.caching = nil
        return [ByteBuffer(string: "CLIENT"), ByteBuffer(string: "CACHING"), ByteBuffer(string: caching ? "yes" : "no")]
    }
}
