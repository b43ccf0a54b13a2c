import DICOM
import Foundation
import NIOCore
import Testing
@testable import DICOMNetwork

/// Peers that misbehave on purpose, against our acceptor. Each ends in an abort or a close
/// with a reason that says what happened; nothing stays open; the acceptor keeps serving.
@Suite(.serialized, .timeLimit(.minutes(10))) struct HostilePeerTests {
    /// Timers short enough for the tests that wait on them, long enough that a loaded CI
    /// machine does not trip them on the healthy associations.
    /// `onEventLoop`: the service is an `EventLoopAssociationService` (as the storage SCP's),
    /// not async code on a task; every test runs with both.
    /// `dimse`: the DIMSE timeout when it differs from the ARTIM timer.
    func acceptor(_ record: AcceptorRecord, timers seconds: Double = 10, dimse: Double? = nil,
                  onEventLoop: Bool) async throws -> AssociationAcceptor {
        try await startTestAcceptor({
            $0.acseTimeout = seconds
            $0.dimseTimeout = dimse ?? seconds
        }, record: record, onEventLoop: onEventLoop)
    }

    /// Our requestor echoes the acceptor: it still serves.
    func expectStillServing(_ acceptor: AssociationAcceptor) async throws {
        var configuration = RequestorConfiguration()
        configuration.calledAETitle = "SWIFTSCP"
        try await AssociationRequestor.withAssociation(
            host: "127.0.0.1", port: acceptor.port,
            contexts: PresentationNegotiation.propose([WellKnownUID.verification], transferSyntaxes: ["1.2.840.10008.1.2"]),
            configuration: configuration, group: testGroup) { association in
            #expect(try await association.echo() == .success)
            try await association.release()
        }
    }

    func expectNothingLeft(_ acceptor: AssociationAcceptor, _ record: AcceptorRecord, connections: Int) async {
        #expect(await eventually { record.closedCount == connections },
                "\(record.closedCount) of \(connections) connections closed; events: \(record.events)")
        #expect(acceptor.activeConnections == 0)
        #expect(await eventually { socketsHeld(onLocalPort: acceptor.port) == 1 }, "only the listening socket is left")
    }

    @Test(arguments: [false, true]) func aPDULengthOf4GBIsRefusedWithAnAbort(onEventLoop: Bool) async throws {
        let record = AcceptorRecord()
        // After the A-ABORT (AA-1) the acceptor waits for the peer to close, at most ARTIM.
        // The DIMSE timeout stays long: a loaded machine once held the healthy echo
        // association of expectStillServing for 3 s.
        let acceptor = try await acceptor(record, timers: 3, dimse: 10, onEventLoop: onEventLoop)
        let client = try RawClient(port: acceptor.port)
        client.send([0x01, 0x00, 0xFF, 0xFF, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 64))
        let answer = await client.read(count: 10)
        client.close()
        // A-ABORT (AA-1 before association: service-user source), then the close.
        #expect(answer.prefix(2) == [0x07, 0x00] && answer.count == 10, "\(answer)")
        await expectNothingLeft(acceptor, record, connections: 1)
        #expect(record.abortReasons.count == 1)
        #expect(record.abortReasons.first?.contains("4294967295") == true, "\(record.abortReasons)")
        try await expectStillServing(acceptor)
        await acceptor.stop()
    }

    @Test(arguments: [false, true]) func garbageBytesAreRefused(onEventLoop: Bool) async throws {
        let record = AcceptorRecord()
        let acceptor = try await acceptor(record, onEventLoop: onEventLoop)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5 {
            let client = try RawClient(port: acceptor.port)
            // An unknown PDU type, then noise.
            client.send([0x4C] + (0..<2000).map { _ in UInt8.random(in: 0...255, using: &generator) })
            _ = await client.read(count: 10)
            client.close()
        }
        let http = try RawClient(port: acceptor.port)
        http.send(Array("GET / HTTP/1.1\r\nHost: pacs\r\n\r\n".utf8))
        _ = await http.read(count: 10)
        http.close()
        await expectNothingLeft(acceptor, record, connections: 6)
        #expect(record.abortReasons.count == 6, "\(record.abortReasons)")
        #expect(record.abortReasons.allSatisfy { !$0.isEmpty })
        try await expectStillServing(acceptor)
        await acceptor.stop()
    }

    @Test(arguments: [false, true]) func aPeerThatStopsMidPDUIsDroppedByTheTimers(onEventLoop: Bool) async throws {
        let record = AcceptorRecord()
        let acceptor = try await acceptor(record, timers: 2, onEventLoop: onEventLoop)
        // Before association: half an A-ASSOCIATE-RQ, then silence. ARTIM (2 s) ends it.
        let early = try RawClient(port: acceptor.port)
        early.send(Array(rawAssociateRQ().prefix(40)))
        // While it hangs, others are served.
        try await expectStillServing(acceptor)
        let started = Date()
        _ = await early.readToEnd()
        early.close()
        #expect(Date().timeIntervalSince(started) < 10)

        // After association: a P-DATA-TF header announcing 1000 bytes, then a PDV header
        // announcing the rest and 14 bytes of it. -td (2 s) ends it.
        let late = try RawClient(port: acceptor.port)
        late.send(rawAssociateRQ())
        late.send([0x04, 0x00, 0x00, 0x00, 0x03, 0xE8] + [0x00, 0x00, 0x03, 0xE4, 0x01, 0x00] + [UInt8](repeating: 0, count: 14))
        let answer = await late.readToEnd()
        late.close()
        #expect(answer.first == 0x02, "A-ASSOCIATE-AC first")
        #expect(answer.suffix(10).first == 0x07, "then an A-ABORT: \(answer.suffix(10))")
        await expectNothingLeft(acceptor, record, connections: 3)
        let reasons = record.abortReasons
        #expect(reasons.contains { $0.contains("ARTIM") }, "\(reasons)")
        #expect(reasons.contains { $0.contains("timed out") }, "\(reasons)")
        await acceptor.stop()
    }

    @Test(arguments: [false, true]) func aPeerThatDisappearsMidTransferLeavesNothingStored(onEventLoop: Bool) async throws {
        let record = AcceptorRecord()
        let acceptor = try await acceptor(record, onEventLoop: onEventLoop)
        let client = try RawClient(port: acceptor.port)
        client.send(rawAssociateRQ())
        #expect(await client.read(count: 6).first == 0x02, "A-ASSOCIATE-AC")
        let command = CStoreRQ(messageID: 1, affectedSOPClassUID: "1.2.840.10008.5.1.4.1.1.2", affectedSOPInstanceUID: "1.2.3.4.5").commandSet()
        client.send(PDU.pData(PDataTF(values: [PresentationDataValue(contextID: 3, isCommand: true, isLast: true, data: command)])).encoded())
        client.send(PDU.pData(PDataTF(values: [PresentationDataValue(contextID: 3, isCommand: false, isLast: false,
                                                                      data: [UInt8](repeating: 0, count: 4000))])).encoded())
        try await Task.sleep(for: .milliseconds(200))
        client.reset()
        await expectNothingLeft(acceptor, record, connections: 1)
        #expect(record.stored.isEmpty)
        #expect(record.abortReasons.count == 1)
        #expect(record.abortReasons.first.map { $0.contains("closed") || $0.contains("reset") } == true, "\(record.abortReasons)")
        try await expectStillServing(acceptor)
        await acceptor.stop()
    }

    /// A complete store, then a PDV on a context that was never accepted, all in one read:
    /// the store is still kept and answered before the abort (as when they came apart).
    @Test(arguments: [false, true]) func aBadPDVAfterACompleteStoreStillLetsTheStoreBeAnswered(onEventLoop: Bool) async throws {
        let record = AcceptorRecord()
        let acceptor = try await acceptor(record, onEventLoop: onEventLoop)
        let client = try RawClient(port: acceptor.port)
        client.send(rawAssociateRQ())
        let header = await client.read(count: 6)
        #expect(header.first == 0x02, "A-ASSOCIATE-AC")
        var rest = header.count == 6 ? Int(header[2]) << 24 | Int(header[3]) << 16 | Int(header[4]) << 8 | Int(header[5]) : 0
        while rest > 0 {
            let got = await client.read(count: rest)
            if got.isEmpty { break }
            rest -= got.count
        }
        let command = CStoreRQ(messageID: 7, affectedSOPClassUID: "1.2.840.10008.5.1.4.1.1.2", affectedSOPInstanceUID: "1.2.3.4.6").commandSet()
        client.send(PDU.pData(PDataTF(values: [
            PresentationDataValue(contextID: 3, isCommand: true, isLast: true, data: command),
            PresentationDataValue(contextID: 3, isCommand: false, isLast: true, data: [UInt8](repeating: 0, count: 100)),
            PresentationDataValue(contextID: 99, isCommand: true, isLast: true, data: [0, 0]),
        ])).encoded())
        let answer = await client.readToEnd()
        client.close()
        #expect(answer.first == 0x04, "a P-DATA-TF (the C-STORE-RSP) first: \(answer.prefix(12))")
        #expect(answer.suffix(10).first == 0x07, "then an A-ABORT")
        await expectNothingLeft(acceptor, record, connections: 1)
        #expect(record.stored.count == 1)
        #expect(record.abortReasons.first?.contains("context 99") == true, "\(record.abortReasons)")
        await acceptor.stop()
    }

    /// Data before our answer to the association request is a protocol error (AA-8).
    @Test(arguments: [false, true]) func dataBeforeTheAssociationIsAcceptedIsAnAbort(onEventLoop: Bool) async throws {
        let record = AcceptorRecord()
        let acceptor = try await acceptor(record, onEventLoop: onEventLoop)
        let client = try RawClient(port: acceptor.port)
        client.send(rawAssociateRQ() + PDU.pData(PDataTF(values: [PresentationDataValue(contextID: 1, isCommand: true, isLast: true,
                                                                                          data: CEchoRQ(messageID: 1).commandSet())])).encoded())
        _ = await client.readToEnd()
        client.close()
        await expectNothingLeft(acceptor, record, connections: 1)
        #expect(record.abortReasons.count == 1)
        #expect(record.abortReasons.first?.contains("P-DATA-TF") == true, "\(record.abortReasons)")
        await acceptor.stop()
    }

    /// An A-ABORT right behind the request, in the same write: the connection ends with one
    /// reason, whichever of the two the acceptor was answering.
    @Test(arguments: [false, true]) func anAbortRightBehindTheRequestIsReported(onEventLoop: Bool) async throws {
        let record = AcceptorRecord()
        let acceptor = try await acceptor(record, onEventLoop: onEventLoop)
        let client = try RawClient(port: acceptor.port)
        client.send(rawAssociateRQ() + PDU.abort(Abort(source: 0, reason: 0)).encoded())
        _ = await client.readToEnd()
        client.close()
        await expectNothingLeft(acceptor, record, connections: 1)
        #expect(record.abortReasons.count == 1, "\(record.events)")
        #expect(record.abortReasons.allSatisfy { !$0.isEmpty })
        try await expectStillServing(acceptor)
        await acceptor.stop()
    }

    @Test(arguments: [false, true]) func twoHundredDroppedConnectionsLeakNothing(onEventLoop: Bool) async throws {
        let record = AcceptorRecord()
        let acceptor = try await acceptor(record, onEventLoop: onEventLoop)
        try await expectStillServing(acceptor)
        let memoryBefore = residentBytes()
        for round in 0..<200 {
            let client = try RawClient(port: acceptor.port)
            switch round % 4 {
            case 0: client.close()
            case 1: client.reset()
            case 2:
                client.send(rawAssociateRQ())
                client.close()
            default:
                client.send(Array(rawAssociateRQ().prefix(100)))
                client.reset()
            }
        }
        await expectNothingLeft(acceptor, record, connections: 201)
        try await expectStillServing(acceptor)
        let growth = residentBytes() - memoryBefore
        // Generous: other tests run in this process at the same time. A leak of the
        // per-connection pipeline (buffers of 16 KiB and more) would exceed it.
        #expect(growth < 32 << 20, "resident memory grew by \(growth >> 20) MiB over 200 connections")
        await acceptor.stop()
    }
}
