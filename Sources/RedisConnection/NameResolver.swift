import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Why a name did not resolve: the name and the reason (getaddrinfo's text, or the time waited).
public struct NameResolutionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The name looked up.
    public var host: String
    /// What went wrong, for a person.
    public var reason: String
    /// True when the lookup was still running when the caller stopped waiting.
    public var timedOut: Bool

    public init(host: String, reason: String, timedOut: Bool = false) {
        self.host = host
        self.reason = reason
        self.timedOut = timedOut
    }

    public var description: String { "cannot resolve \(host): \(reason)" }
}

/// Name lookups that never run on an event loop or an actor: each runs getaddrinfo on a thread
/// of the resolver's own pool, and the caller waits for the answer (or stops waiting at its
/// timeout) without holding a thread. Lookups of one name running at the same time share one
/// getaddrinfo call, so a name whose DNS server never answers holds at most one thread however
/// often a link retries it. NIO's own resolver runs every lookup of an event loop on one serial
/// queue, where a hanging lookup would hold up the next connection to an address literal too.
public final class NameResolver: Sendable {
    /// A blocking lookup: the host's addresses as numeric text, IPv4 ones first.
    public typealias Lookup = @Sendable (String) -> Result<[String], NameResolutionError>

    /// The process's resolver (getaddrinfo, four threads).
    public static let shared = NameResolver(threads: 4, lookup: NameResolver.systemLookup)

    private let pool: NIOThreadPool
    private let lookup: Lookup
    private let inFlight = NIOLockedValueBox<[String: EventLoopFuture<[String]>]>([:])

    /// A resolver running `lookup` on `threads` threads of its own (started here).
    public init(threads: Int, lookup: @escaping Lookup) {
        pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
        self.lookup = lookup
    }

    /// The addresses of `host` (numeric text, IPv4 first); an address literal is answered at
    /// once. Fails with the lookup's reason, or when nothing came back within `timeout` (the
    /// lookup itself goes on, and a later call for the name joins it).
    public func addresses(of host: String, timeout: TimeAmount,
                          on loop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any()) -> EventLoopFuture<[String]> {
        if Self.isAddressLiteral(host) { return loop.makeSucceededFuture([host]) }
        let running = inFlight.withLockedValue { inFlight -> EventLoopFuture<[String]> in
            if let future = inFlight[host] { return future }
            let lookup = self.lookup
            let future = pool.runIfActive(eventLoop: loop) { () throws -> [String] in try lookup(host).get() }
            inFlight[host] = future
            return future
        }
        running.whenComplete { [inFlight] _ in
            inFlight.withLockedValue { if $0[host] === running { $0[host] = nil } }
        }
        let answer = loop.makePromise(of: [String].self)
        let timer = loop.scheduleTask(in: timeout) {
            answer.fail(NameResolutionError(host: host, reason: "no answer within \(timeout.nanoseconds / 1_000_000) ms", timedOut: true))
        }
        running.hop(to: loop).whenComplete { result in
            timer.cancel()
            answer.completeWith(result.mapError { $0 as? NameResolutionError ?? NameResolutionError(host: host, reason: "\($0)") })
        }
        return answer.futureResult
    }

    /// `addresses(of:timeout:)` for async callers.
    public func addresses(of host: String, timeout: TimeAmount) async throws(NameResolutionError) -> [String] {
        do {
            return try await addresses(of: host, timeout: timeout).get()
        } catch let error as NameResolutionError {
            throw error
        } catch {
            throw NameResolutionError(host: host, reason: "\(error)")
        }
    }

    /// Whether `host` is an IPv4 or IPv6 address rather than a name.
    public static func isAddressLiteral(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// getaddrinfo (blocking): every address of `host`, IPv4 ones first, each once.
    public static let systemLookup: Lookup = { host in
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &result)
        guard status == 0, let first = result else {
            let reason = status == EAI_SYSTEM ? String(cString: strerror(errno)) : String(cString: gai_strerror(status))
            return .failure(NameResolutionError(host: host, reason: reason))
        }
        defer { freeaddrinfo(first) }
        var v4: [String] = [], v6: [String] = []
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let ai = p {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(ai.pointee.ai_addr, ai.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if ai.pointee.ai_family == AF_INET {
                    if !v4.contains(text) { v4.append(text) }
                } else if !v6.contains(text) {
                    v6.append(text)
                }
            }
            p = ai.pointee.ai_next
        }
        guard !(v4 + v6).isEmpty else { return .failure(NameResolutionError(host: host, reason: "no address")) }
        return .success(v4 + v6)
    }
}
