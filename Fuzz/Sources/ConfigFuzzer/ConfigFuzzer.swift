import Foundation
import KeepalivedConfig
import NodeConfig
import SentinelConfig

/// libFuzzer entry point for the config readers: the first byte picks the reader, the rest is
/// the file's text. Any input must end in a configuration or a thrown error naming where —
/// never a crash, a trap or a hang. (`include` in keepalived.conf reads other files: inputs
/// naming paths are left to the reader, which must refuse what is not a regular file.)
/// `CONFIG_FUZZ_READER=sentinel|keepalived|node` pins one reader (`scripts/fuzz config-sentinel`…):
/// then the whole input is the file's text, and a run spends all its time on that reader.
let pinnedReader: UInt8? = {
    guard let name = getenv("CONFIG_FUZZ_READER").map({ String(cString: $0) }) else { return nil }
    return ["sentinel": 0, "keepalived": 1, "node": 2][name]
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let skip = pinnedReader == nil ? 1 : 0
    let text = String(decoding: UnsafeBufferPointer(start: data + skip, count: size - skip), as: UTF8.self)
    switch pinnedReader ?? data[0] % 3 {
    case 0:
        _ = try? SentinelConfiguration(parsing: text, file: "fuzz.conf")
    case 1:
        _ = try? KeepalivedConfiguration.parse(text, file: "/nonexistent-fuzz/keepalived.conf")
    default:
        _ = try? NodeConfiguration(parsing: text, file: "fuzz.yaml")
    }
    return 0
}

// SwiftPM links an executable target's entry point as `<module>_main`; with
// -parse-as-library there is none, so provide it and hand control to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("ConfigFuzzer_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data, size) }
}
