import NIOCore
import RESP

/// libFuzzer entry point. Beyond "no crash", it checks that the decoders agree with
/// themselves: feeding the input whole or in pieces yields the same frames and the same
/// error, and every decoded reply re-encodes to bytes that decode to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let limits = RESPLimits(maxBulkLength: 1 << 20, maxDepth: 16, maxLineLength: 1024)
    let chunk = max(1, Int(bytes.first ?? 1) % 17)

    let replyWhole = replies(bytes, chunk: bytes.count + 1, limits: limits)
    let replyChunked = replies(bytes, chunk: chunk, limits: limits)
    precondition(replyWhole == replyChunked, "reply frames differ when fed in pieces of \(chunk)")
    for frame in replyWhole.frames {
        let value = try! RESPValueParser.parseReply(frame, limits: limits)
        var encoded = ByteBuffer()
        encoded.writeRESPValue(value)
        let again = try! RESPValueParser.parseReply(encoded, limits: limits)
        precondition(String(describing: again) == String(describing: value), "re-encoded reply decodes differently")
    }

    let requestWhole = requests(bytes, chunk: bytes.count + 1, limits: limits)
    let requestChunked = requests(bytes, chunk: chunk, limits: limits)
    precondition(requestWhole == requestChunked, "requests differ when fed in pieces of \(chunk)")
    return 0
}

struct Outcome: Equatable {
    var frames: [ByteBuffer] = []
    var error: String? = nil
}

/// Feeds `bytes` in pieces of `chunk` to a decoder and records its frames (raw bytes) or error.
func feed<D: NIOSingleStepByteToMessageDecoder>(
    _ bytes: [UInt8], chunk: Int, decoder: D, raw: (D.InboundOut) -> ByteBuffer
) -> Outcome {
    var decoder = decoder
    var buffer = ByteBuffer()
    var outcome = Outcome()
    do {
        var i = 0
        while i < bytes.count {
            buffer.writeBytes(bytes[i..<min(i + chunk, bytes.count)])
            i += chunk
            while let out = try decoder.decode(buffer: &buffer) { outcome.frames.append(raw(out)) }
        }
        while let out = try decoder.decodeLast(buffer: &buffer, seenEOF: true) { outcome.frames.append(raw(out)) }
    } catch {
        outcome.error = (error as? RESPProtocolError)?.message ?? "\(error)"
    }
    return outcome
}

func replies(_ bytes: [UInt8], chunk: Int, limits: RESPLimits) -> Outcome {
    feed(bytes, chunk: chunk, decoder: RESPFrameDecoder(limits: limits)) { $0 }
}

func requests(_ bytes: [UInt8], chunk: Int, limits: RESPLimits) -> Outcome {
    feed(bytes, chunk: chunk, decoder: RESPRequestDecoder(limits: limits)) { $0.raw }
}

// SwiftPM links an executable target's entry point as `<module>_main`; with
// -parse-as-library there is none, so provide it and hand control to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("RESPFuzzer_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data, size) }
}
