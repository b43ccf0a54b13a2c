import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing
@testable import DICOMNetwork

@Suite(.timeLimit(.minutes(10))) struct PDUCodecTests {
    /// pynetdicom's golden PDUs through the decoder, whole and byte by byte
    /// (ByteToMessageDecoderVerifier feeds both ways and checks leftovers). Not its P-DATA-TF:
    /// the verifier also sends all inputs ten times over in one buffer, where two P-DATA-TFs
    /// in a row come out as one by design; the streaming tests below cover it.
    @Test func decoderVerifiedOnGoldenPDUs() throws {
        let names = ["a_associate_rq", "a_associate_ac", "a_associate_rj", "a_release_rq", "a_release_rp", "a_abort", "a_p_abort"]
        let pData = try #require(pynetdicomPDUs["p_data_tf"], "p_data_tf (pip install pynetdicom)")
        for pieces in [1, 3, pData.count] { #expect(NetworkFuzzTargets.compareDecoders(pData + pData, pieces: pieces) == nil) }
        var pairs: [(ByteBuffer, [PDU])] = []
        for name in names {
            let bytes = try #require(pynetdicomPDUs[name], "\(name) (pip install pynetdicom)")
            let pdu = try #require(try PDU.decode(bytes[...], maximumLength: 1 << 20)).pdu
            pairs.append((ByteBuffer(bytes: bytes), [pdu]))
        }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) {
            PDUDecoder(maximumLength: 16384)
        }
    }

    @Test func tooLongIsRefusedFromTheHeader() throws {
        let channel = EmbeddedChannel(handler: PDUChannelHandler(maximumLength: 16384))
        var buffer = channel.allocator.buffer(capacity: 6)
        buffer.writeBytes([0x04, 0x00, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: PDUError.tooLong(length: 0xFFFF_FFFF, maximum: 16384)) {
            try channel.writeInbound(buffer)
        }
        _ = try? channel.finish()
    }

    /// The channel handler gives the PDUs of the whole-PDU decoder whatever pieces the stream
    /// arrives in: an A-ASSOCIATE-RQ cut by reads is kept until it is whole, P-DATA-TFs are
    /// taken apart as they come.
    @Test func channelHandlerGivesThePDUsOfTheWholeStream() throws {
        var stream: [UInt8] = []
        for name in ["a_associate_rq", "a_associate_ac", "p_data_tf", "a_release_rq", "a_release_rp", "a_abort"] {
            stream += try #require(pynetdicomPDUs[name], "\(name) (pip install pynetdicom)")
        }
        stream += StreamingPDUDecoderTests.pData([(1, 3, 74), (1, 0, 16000), (1, 2, 0)])
        stream += StreamingPDUDecoderTests.pData([(1, 3, 60), (1, 2, 12000)])
        stream += try #require(pynetdicomPDUs["a_associate_rq"])
        var whole: [PDU] = []
        var offset = 0
        while let (pdu, consumed) = try PDU.decode(stream[offset...], maximumLength: 16384) {
            whole.append(pdu)
            offset += consumed
        }
        for pieces in [1, 7, 100, 5000, 9000, stream.count] {
            let channel = EmbeddedChannel(handler: PDUChannelHandler(maximumLength: 16384))
            var at = 0
            while at < stream.count {
                let end = min(at + pieces, stream.count)
                try channel.writeInbound(channel.allocator.buffer(bytes: stream[at..<end]))
                at = end
            }
            var produced: [PDU] = []
            while let pdu = try channel.readInbound(as: PDU.self) { produced.append(pdu) }
            // P-DATA-TFs that follow each other may come out as one; the PDVs are the same.
            #expect(NetworkFuzzTargets.flattened(produced) == NetworkFuzzTargets.flattened(whole), "pieces of \(pieces)")
            #expect(try channel.finish().isClean)
        }
    }

    /// Bytes after a PDU that could not be decoded are not framed: they end the connection.
    @Test func bytesAfterABadPDUAreAnErrorOfTheirOwn() throws {
        let channel = EmbeddedChannel(handler: PDUChannelHandler(maximumLength: 16384))
        #expect(throws: PDUError.self) { try channel.writeInbound(channel.allocator.buffer(bytes: [0x04, 0, 0, 0, 0, 0])) }
        #expect(throws: PDUChannelHandler.BytesAfterBadPDU.self) {
            try channel.writeInbound(channel.allocator.buffer(bytes: [0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0]))
        }
        #expect(try channel.readInbound(as: PDU.self) == nil)
        _ = try? channel.finish()
    }

    /// A handler after it that closes the channel on a PDU sees no PDU after that, even from
    /// the same read.
    @Test func noPDUGoesUpOnceTheChannelIsInactive() throws {
        final class CloseOnFirst: ChannelInboundHandler {
            typealias InboundIn = PDU
            var seen: [String] = []
            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                seen.append(unwrapInboundIn(data).name)
                context.close(promise: nil)
            }
        }
        let closer = CloseOnFirst()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([PDUChannelHandler(maximumLength: 16384), closer])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 104)).wait()
        let release: [UInt8] = [0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0]
        try channel.writeInbound(channel.allocator.buffer(bytes: release + release + release))
        #expect(closer.seen == ["A-RELEASE-RQ"])
    }

    @Test func encoderWritesOnePDUPerBuffer() throws {
        let channel = EmbeddedChannel(handler: PDUChannelHandler(maximumLength: 16384))
        try channel.writeOutbound(PDU.releaseRQ)
        let out = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(Array(out.readableBytesView) == [0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0])
        #expect(try channel.finish().isClean)
    }
}

/// The streaming decoder against the whole-PDU one, on real PDUs cut at every size.
@Suite(.timeLimit(.minutes(10))) struct StreamingPDUDecoderTests {
    static func pData(_ values: [(id: UInt8, control: UInt8, count: Int)]) -> [UInt8] {
        var body: [UInt8] = []
        for (index, value) in values.enumerated() {
            let length = UInt32(value.count + 2)
            body += [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
            body += [value.id, value.control]
            body += (0..<value.count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
        }
        let length = UInt32(body.count)
        return [0x04, 0, UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)] + body
    }

    @Test func piecesOfEverySizeGiveTheSamePDUs() throws {
        var stream: [UInt8] = []
        for name in ["a_associate_rq", "a_associate_ac", "p_data_tf", "a_release_rq", "a_release_rp", "a_abort"] {
            stream += try #require(pynetdicomPDUs[name], "\(name) (pip install pynetdicom)")
        }
        stream += Self.pData([(1, 3, 74), (1, 0, 16000), (1, 2, 0), (3, 1, 5)])
        stream += Self.pData([(5, 0, 9000)])
        stream += [0x09, 0, 0, 0, 0, 2, 0xAB, 0xCD]  // an unknown type
        var whole: [PDU] = []
        var offset = 0
        while let (pdu, consumed) = try PDU.decode(stream[offset...], maximumLength: 16384) {
            whole.append(pdu)
            offset += consumed
        }
        #expect(whole.count == 9 && offset == stream.count)
        for pieces in [1, 2, 3, 5, 6, 7, 11, 64, 1000, 4096, 16390, stream.count] {
            #expect(NetworkFuzzTargets.compareDecoders(stream, pieces: pieces) == nil)
        }
    }

    /// Golden and generated PDUs with random bytes changed or cut: both decoders still agree.
    @Test func mutatedStreamsGiveTheSameResults() throws {
        var base: [UInt8] = try #require(pynetdicomPDUs["a_associate_rq"], "pip install pynetdicom")
        base += Self.pData([(1, 3, 40), (1, 0, 300)]) + Self.pData([(1, 2, 20)]) + [0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0]
        var generator = SystemRandomNumberGenerator()
        for round in 0..<1500 {
            var bytes = base
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let at = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes[at] ^= 1 << UInt8.random(in: 0...7, using: &generator)
                default: bytes.removeSubrange(at...)
                }
                if bytes.isEmpty { bytes = [0x04] }
            }
            let pieces = [1, 2, 5, 6, 7, 13, 64, 4096][round % 8]
            let mismatch = NetworkFuzzTargets.compareDecoders(bytes, pieces: pieces)
            #expect(mismatch == nil, "\(bytes): \(mismatch ?? "")")
            if mismatch != nil { return }
        }
    }

    @Test func malformedPDataGivesTheSameErrors() throws {
        let good = Self.pData([(1, 3, 10)])
        var cases: [(String, [UInt8])] = []
        var lengthOne = good; lengthOne[9] = 1
        cases.append(("a PDV of length 1", lengthOne))
        var beyond = good; beyond[9] = 200
        cases.append(("a PDV longer than its PDU", beyond))
        var reserved = good; reserved[11] = 0x07
        cases.append(("reserved bits", reserved))
        cases.append(("no PDV", [0x04, 0, 0, 0, 0, 0]))
        for short in 1...5 {
            cases.append(("\(short) byte(s) after the last PDV", Self.pData([(1, 0, 4)]).enumerated().map { $0.offset == 5 ? $0.element + UInt8(short) : $0.element } + Array(repeating: 0, count: short)))
        }
        cases.append(("too long", [0x04, 0, 0, 1, 0, 0] + Array(repeating: 0, count: 16)))
        cases.append(("a release with a body of 2", [0x05, 0, 0, 0, 0, 2, 0, 0]))
        for (what, bytes) in cases {
            var thrown = false
            var offset = 0
            do { while let (_, consumed) = try PDU.decode(bytes[offset...], maximumLength: 16384) { offset += consumed } } catch { thrown = true }
            #expect(thrown, "\(what): the whole-PDU decoder accepts it")
            for pieces in [1, 2, 5, 6, 7, bytes.count] {
                let mismatch = NetworkFuzzTargets.compareDecoders(bytes, pieces: pieces)
                #expect(mismatch == nil, "\(what): \(mismatch ?? "")")
            }
        }
    }

    /// Every byte of a read is consumed: nothing is left for NIO to join to the next read.
    @Test func nothingIsLeftInTheReadBuffer() throws {
        let stream = Self.pData([(1, 0, 20000)]) + Self.pData([(1, 2, 300)])
        var decoder = PDUDecoder(maximumLength: 65536)
        var produced: [PDU] = []
        var at = 0
        while at < stream.count {
            let end = min(at + 4093, stream.count)
            var buffer = ByteBuffer(bytes: stream[at..<end])
            at = end
            while let pdu = try decoder.decode(buffer: &buffer) { produced.append(pdu) }
            #expect(buffer.readableBytes == 0)
        }
        // The second P-DATA-TF arrives in the read that ends the first: handed on together.
        #expect(produced.count == 1)
        guard case .pData(let both) = produced.first else { Issue.record("not a P-DATA-TF"); return }
        #expect(both.values.map(\.data.count) == [20000, 300])
    }

    /// P-DATA-TFs in one read come out as one, up to the limit; other PDUs stay apart, and an
    /// error comes after the PDVs before it.
    @Test func pDataTFsInOneReadAreHandedOnTogether() throws {
        let release: [UInt8] = [0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0]
        let bad: [UInt8] = [0x04, 0, 0, 0, 0, 0]
        var stream = Self.pData([(1, 0, 100)]) + Self.pData([(1, 0, 200), (1, 2, 50)]) + release + Self.pData([(1, 3, 10)])
        var decoder = PDUDecoder(maximumLength: 65536)
        var buffer = ByteBuffer(bytes: stream)
        var produced: [PDU] = []
        while let pdu = try decoder.decode(buffer: &buffer) { produced.append(pdu) }
        #expect(produced.map(\.name) == ["P-DATA-TF", "A-RELEASE-RQ", "P-DATA-TF"])
        if case .pData(let first) = produced.first { #expect(first.values.map(\.data.count) == [100, 200, 50]) }

        // Through the channel handler, which calls only while bytes are left: the error still
        // comes in the same read, after the PDV before it.
        let tails: [[UInt8]] = [
            bad,                                                         // a P-DATA-TF without PDVs
            [0x04, 0, 0, 2, 0, 0],                                       // longer than the maximum
            [0x04, 0, 0, 0, 0, 13, 0, 0, 0, 6, 1, 0, 9, 9, 9, 9, 0, 0, 0],  // a 3-byte stub after a PDV
        ]
        for fixedTail in tails {
            let channel = EmbeddedChannel(handler: PDUChannelHandler(maximumLength: 65536))
            var input = channel.allocator.buffer(capacity: 256)
            input.writeBytes(Self.pData([(1, 0, 100)]) + fixedTail)
            #expect(throws: (any Error).self, "\(fixedTail)") { try channel.writeInbound(input) }
            let first = try channel.readInbound(as: PDU.self)
            if case .pData(let p)? = first { #expect(p.values.map(\.data.count) == [100]) } else { Issue.record("no P-DATA-TF first: \(String(describing: first))") }
            _ = try? channel.finish()
        }

        // 40 PDUs of 60,000 bytes: merged up to a MiB at a time.
        stream = (0..<40).flatMap { _ in Self.pData([(1, 0, 60000)]) }
        decoder = PDUDecoder(maximumLength: 65536)
        buffer = ByteBuffer(bytes: stream)
        produced = []
        while let pdu = try decoder.decode(buffer: &buffer) { produced.append(pdu) }
        let counts = produced.map { pdu -> Int in if case .pData(let p) = pdu { p.values.count } else { 0 } }
        #expect(counts.reduce(0, +) == 40 && counts.count == 3 && counts.allSatisfy { $0 <= 18 }, "\(counts)")
    }

    /// A data PDV that lies whole in one read is a view of the read buffer; commands, small
    /// PDVs, PDVs cut by the end of a read and reads into a mostly empty buffer are copied.
    /// Either way the PDVs are those of the whole PDU.
    @Test func dataPDVsWholeInOneReadAreViewsOfIt() throws {
        // A command, a 16 KiB data PDV, a small data PDV.
        let stream = Self.pData([(1, 1, 200), (1, 0, 16384), (1, 2, 100)])
        guard case .pData(let whole)? = try PDU.decode(stream[...], maximumLength: 65536)?.0 else {
            Issue.record("not a P-DATA-TF"); return
        }
        func decode(_ reads: [ByteBuffer]) throws -> [PresentationDataValue] {
            var decoder = PDUDecoder(maximumLength: 65536)
            var values: [PresentationDataValue] = []
            for var buffer in reads {
                while let pdu = try decoder.decode(buffer: &buffer) {
                    if case .pData(let p) = pdu { values += p.values }
                }
            }
            return values
        }
        // One read that fills its buffer.
        var values = try decode([ByteBuffer(bytes: stream)])
        #expect(values == whole.values)
        #expect(values.map(\.payload.isView) == [false, true, false])

        // The same read into a buffer of 1 MiB: not worth keeping alive for 16 KiB.
        var roomy = ByteBufferAllocator().buffer(capacity: 1 << 20)
        roomy.writeBytes(stream)
        values = try decode([roomy])
        #expect(values == whole.values)
        #expect(values.map(\.payload.isView) == [false, false, false])

        // The data PDV cut in two by the end of a read.
        let cut = 6 + 6 + 200 + 6 + 8000
        values = try decode([ByteBuffer(bytes: stream[..<cut]), ByteBuffer(bytes: stream[cut...])])
        #expect(values == whole.values)
        #expect(values.map(\.payload.isView) == [false, false, false])
    }

    /// A view keeps what it holds even when the buffer it views is written again: NIO copies
    /// storage that is not its alone before writing to it.
    @Test func aViewKeepsItsBytesWhenTheBufferIsWrittenAgain() throws {
        let stream = Self.pData([(1, 2, 16384)])
        guard case .pData(let whole)? = try PDU.decode(stream[...], maximumLength: 65536)?.0 else {
            Issue.record("not a P-DATA-TF"); return
        }
        var decoder = PDUDecoder(maximumLength: 65536)
        var buffer = ByteBuffer(bytes: stream)
        guard case .pData(let p)? = try decoder.decode(buffer: &buffer) else { Issue.record("no P-DATA-TF"); return }
        #expect(p.values.first?.payload.isView == true)
        // As NIO's read loop reuses a buffer: cleared and read into again.
        buffer.clear()
        buffer.writeBytes([UInt8](repeating: 0xEE, count: stream.count))
        buffer.withUnsafeMutableReadableBytes { $0.storeBytes(of: 0xAB, toByteOffset: 20, as: UInt8.self) }
        #expect(p.values == whole.values)
    }
}

/// Quick ACKs start once the peer goes quiet after a read (what a sender held back by Nagle
/// looks like), not while data keeps coming.
@Suite(.timeLimit(.minutes(10))) struct QuickAckTests {
    @Test func quickAcksStartWhenThePeerWaitsAfterARead() throws {
        let loop = EmbeddedEventLoop()
        let handler = QuickAckHandler()
        let channel = EmbeddedChannel(handler: handler, loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 104)).wait()
        // Data every millisecond: the peer does not wait for us.
        for _ in 0..<50 {
            try channel.writeInbound(channel.allocator.buffer(bytes: [1, 2, 3]))
            channel.pipeline.fireChannelReadComplete()  // a socket's read ends so; writeInbound does not
            loop.advanceTime(by: .milliseconds(1))
        }
        #expect(!handler.quickAcks)
        // Then nothing for longer than the stall: from now on, after every read.
        loop.advanceTime(by: QuickAckHandler.stall)
        #expect(handler.quickAcks)
        // Reads still pass through.
        try channel.writeInbound(channel.allocator.buffer(bytes: [4]))
        var passed = 0
        while let buffer = try channel.readInbound(as: ByteBuffer.self) { passed += buffer.readableBytes }
        #expect(passed == 50 * 3 + 1)
        _ = try channel.finish()
    }

    @Test func aQuietConnectionBeforeAnyReadChangesNothing() throws {
        let loop = EmbeddedEventLoop()
        let handler = QuickAckHandler()
        let channel = EmbeddedChannel(handler: handler, loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 104)).wait()
        loop.advanceTime(by: .seconds(1))
        #expect(!handler.quickAcks)
        _ = try channel.finish()
    }
}
