import CZlib

/// Streaming raw inflate (RFC 1951) for the deflated transfer syntax (PS3.5 A.5).
struct Inflater: @unchecked Sendable {
    private final class Stream {
        var z = z_stream()
        var ended = false
        init() throws {
            guard czlib_inflate_init_raw(&z) == Z_OK else {
                throw DICOMError.encoding("zlib could not start an inflate stream")
            }
        }
        deinit { inflateEnd(&z) }
    }

    private let stream: Stream
    /// True once the deflate stream's final block was read; bytes after it are ignored.
    var isFinished: Bool { stream.ended }

    init() {
        // inflateInit2 fails only without memory.
        stream = try! Stream()
    }

    mutating func inflate(_ input: [UInt8], offset: Int) throws -> [UInt8] {
        guard !stream.ended, !input.isEmpty else { return [] }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: max(65536, input.count * 4))
        var input = input
        try input.withUnsafeMutableBufferPointer { inBuf in
            stream.z.next_in = inBuf.baseAddress
            stream.z.avail_in = UInt32(inBuf.count)
            repeat {
                let produced: Int = try chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.z.next_out = outBuf.baseAddress
                    stream.z.avail_out = UInt32(outBuf.count)
                    let rc = CZlib.inflate(&stream.z, Z_NO_FLUSH)
                    switch rc {
                    case Z_OK, Z_BUF_ERROR: break
                    case Z_STREAM_END: stream.ended = true
                    default:
                        let message = stream.z.msg.map { String(cString: $0) } ?? "error \(rc)"
                        throw DICOMError.malformed(offset: offset, reason: "deflated data does not inflate: \(message)")
                    }
                    return outBuf.count - Int(stream.z.avail_out)
                }
                output.append(contentsOf: chunk[0..<produced])
                if produced == 0 { break }
            } while stream.z.avail_in > 0 && !stream.ended || stream.z.avail_out == 0
            stream.z.next_in = nil
            stream.z.avail_in = 0
        }
        return output
    }
}

/// Raw deflate (RFC 1951) of a whole buffer.
enum Deflate {
    static func compress(_ input: [UInt8], level: Int) throws -> [UInt8] {
        var z = z_stream()
        guard czlib_deflate_init_raw(&z, Int32(max(0, min(9, level)))) == Z_OK else {
            throw DICOMError.encoding("zlib could not start a deflate stream at level \(level)")
        }
        defer { deflateEnd(&z) }
        var input = input
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&z, UInt(input.count))) + 64)
        let written: Int = input.withUnsafeMutableBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                z.next_in = inBuf.baseAddress
                z.avail_in = UInt32(inBuf.count)
                z.next_out = outBuf.baseAddress
                z.avail_out = UInt32(outBuf.count)
                _ = CZlib.deflate(&z, Z_FINISH)
                return outBuf.count - Int(z.avail_out)
            }
        }
        guard z.avail_in == 0 else { throw DICOMError.encoding("deflate did not consume its input") }
        output.removeSubrange(written...)
        return output
    }
}
