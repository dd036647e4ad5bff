import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RedisConnection
import Testing

/// `NameResolver` with an injected lookup that hangs until the test lets it go: a hanging name
/// holds up neither another name nor an address literal, the caller stops waiting at its
/// timeout, and lookups of one name at the same time share one call.
@Suite("Name lookups off the event loop")
struct NameResolverTests {
    /// A blocking lookup: "slow.example" waits until `release()`; other names answer at once.
    final class HangingLookup: Sendable {
        let calls = NIOLockedValueBox<[String]>([])
        let gate = DispatchSemaphore(value: 0)

        var lookup: NameResolver.Lookup {
            { [self] host in
                calls.withLockedValue { $0.append(host) }
                if host == "slow.example" { gate.wait() }
                if host.hasSuffix(".invalid") { return .failure(NameResolutionError(host: host, reason: "Name or service not known")) }
                return .success(["192.0.2.\(host.count)"])
            }
        }

        func release(_ count: Int) { for _ in 0..<count { gate.signal() } }
    }

    @Test("a hanging name times out for its caller; another name and a literal are answered meanwhile; one call per name in flight")
    func hangingName() async throws {
        let fake = HangingLookup()
        let resolver = NameResolver(threads: 2, lookup: fake.lookup)
        func attempt() async -> Result<[String], NameResolutionError> {
            do { return .success(try await resolver.addresses(of: "slow.example", timeout: .milliseconds(200))) } catch { return .failure(error) }
        }
        async let slow1 = attempt()
        async let slow2 = attempt()
        let fast = try await resolver.addresses(of: "db.example", timeout: .seconds(30))
        #expect(fast == ["192.0.2.10"])
        #expect(try await resolver.addresses(of: "127.0.0.1", timeout: .seconds(30)) == ["127.0.0.1"])
        #expect(try await resolver.addresses(of: "::1", timeout: .seconds(30)) == ["::1"])
        for result in [await slow1, await slow2] {
            guard case .failure(let error) = result else {
                Issue.record("slow.example answered while its lookup hangs: \(result)")
                continue
            }
            #expect(error.timedOut && error.host == "slow.example")
            #expect(error.description == "cannot resolve slow.example: no answer within 200 ms")
        }
        let calls = fake.calls.withLockedValue { $0 }
        #expect(calls.filter { $0 == "slow.example" }.count == 1, "\(calls)")
        #expect(!calls.contains("127.0.0.1") && !calls.contains("::1"), "literals never reach the lookup")
        fake.release(1)
    }

    @Test("a failed lookup's reason reaches the caller; the system lookup answers localhost")
    func failures() async throws {
        let fake = HangingLookup()
        let resolver = NameResolver(threads: 1, lookup: fake.lookup)
        await #expect(throws: NameResolutionError(host: "db.invalid", reason: "Name or service not known")) {
            try await resolver.addresses(of: "db.invalid", timeout: .seconds(30))
        }
        let system = NameResolver(threads: 1, lookup: NameResolver.systemLookup)
        #expect(try await system.addresses(of: "localhost", timeout: .seconds(30)).first == "127.0.0.1")
    }
}
