@testable import SentinelCore
import Testing

@Suite("Sentinel core: hello fields")
struct HelloFieldsTests {
    @Test("a hello is split into exactly eight fields on the comma byte, empty fields kept; seven or nine are refused")
    func split() throws {
        let f = try #require(HelloFields("10.0.0.2,26379,abc,7,mymaster,10.0.0.1,6379,3"))
        #expect([f.ip, f.port, f.runID, f.epoch, f.name, f.masterIP, f.masterPort, f.configEpoch]
            == ["10.0.0.2", "26379", "abc", "7", "mymaster", "10.0.0.1", "6379", "3"])
        let empty = try #require(HelloFields(",,,,,,,"))
        #expect(empty.ip.isEmpty && empty.configEpoch.isEmpty)
        #expect(HelloFields("10.0.0.2,26379,abc,7,mymaster,10.0.0.1,6379") == nil)
        #expect(HelloFields("10.0.0.2,26379,abc,7,mymaster,10.0.0.1,6379,3,extra") == nil)
        #expect(HelloFields("") == nil)
        // A name with multi-byte characters is cut on the comma bytes only.
        #expect(HelloFields("a,1,b,2,mästér,c,3,4")?.name == "mästér")
    }
}
