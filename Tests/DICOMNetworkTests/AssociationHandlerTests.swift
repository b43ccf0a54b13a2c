import NIOCore
import NIOEmbedded
import Testing
@testable import DICOMNetwork

@Suite(.timeLimit(.minutes(10))) struct AssociationHandlerTests {
    let rq = AssociateRQ(header: AssociateHeader(calledAETitle: "ARCHIVE", callingAETitle: "MOVESCU"),
                         presentationContexts: [ProposedPresentationContext(id: 1, abstractSyntax: "1.2.840.10008.1.1", transferSyntaxes: ["1.2.840.10008.1.2"])])
    var ac: AssociateAC {
        AssociateAC(header: AssociateHeader(calledAETitle: "ARCHIVE", callingAETitle: "MOVESCU"),
                    presentationContexts: [AcceptedPresentationContext(id: 1, result: .acceptance, transferSyntax: "1.2.840.10008.1.2")])
    }
    let data = PDataTF(values: [PresentationDataValue(contextID: 1, isCommand: true, isLast: true, data: [1, 2])])

    func channel(_ role: AssociationHandler.Role) throws -> (EmbeddedChannel, AssociationHandler) {
        let handler = AssociationHandler(role: role)
        let channel = EmbeddedChannel(handler: handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 104)).wait()
        return (channel, handler)
    }

    @Test func requestorLifecycle() throws {
        let (channel, handler) = try channel(.requestor)
        try channel.writeOutbound(ULRequest.associate(rq))
        #expect(try channel.readOutbound(as: PDU.self) == .associateRQ(rq))
        #expect(handler.state == .sta5)
        try channel.writeInbound(PDU.associateAC(ac))
        #expect(try channel.readInbound(as: ULIndicationEvent.self) == .associateAccepted(ac))
        try channel.writeOutbound(ULRequest.data(data))
        #expect(try channel.readOutbound(as: PDU.self) == .pData(data))
        try channel.writeInbound(PDU.pData(data))
        #expect(try channel.readInbound(as: ULIndicationEvent.self) == .data(data))
        try channel.writeOutbound(ULRequest.release)
        #expect(try channel.readOutbound(as: PDU.self) == .releaseRQ)
        try channel.writeInbound(PDU.releaseRP)
        #expect(try channel.readInbound(as: ULIndicationEvent.self) == .releaseConfirmed)
        #expect(handler.state == .sta1)
        #expect(!channel.isActive, "AR-3 closes the connection")
    }

    @Test func acceptorLifecycleWithARTIMAfterRelease() throws {
        let (channel, handler) = try channel(.acceptor)
        #expect(handler.state == .sta2)
        try channel.writeInbound(PDU.associateRQ(rq))
        #expect(try channel.readInbound(as: ULIndicationEvent.self) == .associateRequest(rq))
        try channel.writeOutbound(ULRequest.accept(ac))
        #expect(try channel.readOutbound(as: PDU.self) == .associateAC(ac))
        try channel.writeInbound(PDU.releaseRQ)
        #expect(try channel.readInbound(as: ULIndicationEvent.self) == .releaseRequest)
        try channel.writeOutbound(ULRequest.releaseResponse)
        #expect(try channel.readOutbound(as: PDU.self) == .releaseRP)
        #expect(handler.state == .sta13)
        // The requestor should close; if it does not, ARTIM does.
        (channel.eventLoop as! EmbeddedEventLoop).advanceTime(by: .seconds(31))
        #expect(!channel.isActive)
        #expect(handler.state == .sta1)
    }

    @Test func silentPeerIsDroppedByARTIM() throws {
        let (channel, _) = try channel(.acceptor)
        (channel.eventLoop as! EmbeddedEventLoop).advanceTime(by: .seconds(29))
        #expect(channel.isActive)
        (channel.eventLoop as! EmbeddedEventLoop).advanceTime(by: .seconds(2))
        #expect(!channel.isActive, "a peer that never sends A-ASSOCIATE-RQ is disconnected")
    }

    @Test func unexpectedAndUnknownPDUsAbort() throws {
        // P-DATA before any association: AA-1, an A-ABORT, then ARTIM.
        let (early, handler) = try channel(.acceptor)
        try early.writeInbound(PDU.pData(data))
        #expect(try early.readOutbound(as: PDU.self) == .abort(Abort(source: 0, reason: 0)))
        #expect(handler.state == .sta13)

        // An unknown PDU type on an established association: AA-8, provider abort.
        let (established, _) = try channel(.requestor)
        try established.writeOutbound(ULRequest.associate(rq))
        _ = try established.readOutbound(as: PDU.self)
        try established.writeInbound(PDU.associateAC(ac))
        _ = try established.readInbound(as: ULIndicationEvent.self)
        try established.writeInbound(PDU.unknown(type: 0x42, body: [1]))
        #expect(try established.readOutbound(as: PDU.self) == .abort(Abort(source: 2, reason: 1)))
        guard case .providerAborted(let why)? = try established.readInbound(as: ULIndicationEvent.self) else {
            Issue.record("no provider abort indication"); return
        }
        #expect(why.contains("unknown PDU type 0x42"), "\(why)")
    }

    @Test func peerAbortAndLostConnectionAreIndicated() throws {
        let (a, _) = try channel(.requestor)
        try a.writeOutbound(ULRequest.associate(rq))
        try a.writeInbound(PDU.associateAC(ac))
        _ = try a.readInbound(as: ULIndicationEvent.self)
        try a.writeInbound(PDU.abort(Abort(source: 0, reason: 0)))
        #expect(try a.readInbound(as: ULIndicationEvent.self) == .aborted(Abort(source: 0, reason: 0)))
        #expect(!a.isActive)

        let (b, _) = try channel(.requestor)
        try b.writeOutbound(ULRequest.associate(rq))
        try b.writeInbound(PDU.associateAC(ac))
        _ = try b.readInbound(as: ULIndicationEvent.self)
        try b.close().wait()
        #expect(try b.readInbound(as: ULIndicationEvent.self) == .providerAborted("the peer closed the connection"))
    }

    @Test func requestsNotAllowedInTheStateFail() throws {
        let (channel, _) = try channel(.requestor)
        #expect(throws: AssociationError.self) { try channel.writeOutbound(ULRequest.data(data)) }
        #expect(throws: AssociationError.self) { try channel.writeOutbound(ULRequest.release) }
    }

    @Test func rejectionIsIndicatedAndCloses() throws {
        let (channel, handler) = try channel(.requestor)
        try channel.writeOutbound(ULRequest.associate(rq))
        let rj = AssociateRJ(result: 1, source: 1, reason: 7)
        try channel.writeInbound(PDU.associateRJ(rj))
        #expect(try channel.readInbound(as: ULIndicationEvent.self) == .associateRejected(rj))
        #expect(handler.state == .sta1 && !channel.isActive)
        #expect(rj.reasonText == "Called AE Title Not Recognized" && rj.resultText == "Rejected Permanent" && rj.sourceText == "Service User")
    }
}
