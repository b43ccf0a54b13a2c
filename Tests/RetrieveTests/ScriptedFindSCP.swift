import DICOM
import DICOMNetwork
import Foundation
import NIOPosix

/// A Find SCP of our own network layer, on loopback, that answers a C-FIND the way a script
/// says: for the cases a well-behaved archive cannot be made to show on demand (a cancel
/// that surely arrives before the last match, garbled identifiers, a wrong message ID, a
/// peer that aborts or goes silent).
final class ScriptedFindSCP: Sendable {
    enum Script: Sendable {
        /// One match, then wait for the next message: a C-CANCEL for the find is answered
        /// with Cancel (FE00) after `afterCancel` more matches, anything else with C000.
        case waitForCancel(afterCancel: Int)
        /// A garbled identifier, a pending response with none, a good match, Success.
        case garbledIdentifiers
        /// One match, then a response to another message ID.
        case wrongMessageID
        /// One match, then A-ABORT.
        case abortAfterFirst
        /// One match, then nothing (until the requestor gives up).
        case silentAfterFirst
    }

    let acceptor: AssociationAcceptor
    var port: Int { acceptor.port }

    static func match(_ index: Int) throws -> [UInt8] {
        var dataSet = DataSet()
        dataSet.setString("STUDY", for: Tag(0x0008, 0x0052), vr: .CS)
        dataSet.setString("SCRIPTED^PEER", for: Tag(0x0010, 0x0010), vr: .PN)
        dataSet.setString(studyUID(index), for: Tag(0x0020, 0x000D), vr: .UI)
        return try DataSetWriter(transferSyntax: .explicitVRLittleEndian).encode(dataSet)
    }

    static func studyUID(_ index: Int) -> String { "1.2.826.0.1.3680043.8.498.8100.\(index + 1)" }

    /// Patient Name (0010,0010) PN claiming 200 bytes, with 4 there.
    static let garbled: [UInt8] = [0x10, 0x00, 0x10, 0x00, 0x50, 0x4E, 0xC8, 0x00, 0x41, 0x42, 0x43, 0x44]

    init(script: Script) async throws {
        var configuration = AcceptorConfiguration()
        configuration.aeTitle = "SCRIPTED"
        configuration.abstractSyntaxes = Set(QueryRetrieveModel.allCases.map(\.findSOPClass))
        // Explicit VR little endian only, so that the scripted bytes are in the agreed syntax.
        configuration.transferSyntaxPreference = [TransferSyntax.explicitVRLittleEndian.uid]
        acceptor = try await AssociationAcceptor.start(
            host: "127.0.0.1", port: 0, configuration: configuration, group: MultiThreadedEventLoopGroup.singleton,
            observer: { _ in }, service: { association in
                while let (message, contextID, _) = try await association.nextMessage() {
                    guard case .findRQ(let rq) = message else { continue }
                    try await Self.answer(rq, contextID: contextID, script: script, association: association)
                }
            })
    }

    private static func answer(_ rq: CFindRQ, contextID: UInt8, script: Script, association: AcceptedAssociation) async throws {
        func response(_ status: DIMSEStatus, _ dataSet: [UInt8]?, to id: UInt16? = nil) async throws {
            let rsp = CFindRSP(messageIDBeingRespondedTo: id ?? rq.messageID, affectedSOPClassUID: rq.affectedSOPClassUID,
                               status: status, hasDataSet: dataSet != nil)
            try await association.send(.findRSP(rsp), dataSet: dataSet, contextID: contextID)
        }
        switch script {
        case .waitForCancel(let more):
            try await response(.pending, try match(0))
            guard let (next, _, _) = try await association.nextMessage() else { return }
            guard case .cancelRQ(let cancel) = next, cancel.messageIDBeingRespondedTo == rq.messageID else {
                try await response(.cannotUnderstand, nil)
                return
            }
            for index in 0..<more { try await response(.pending, try match(index + 1)) }
            try await response(.cancel, nil)
        case .garbledIdentifiers:
            try await response(.pending, garbled)
            try await response(.pending, nil)
            try await response(.pending, try match(0))
            try await response(.success, nil)
        case .wrongMessageID:
            try await response(.pending, try match(0))
            try await response(.pending, try match(1), to: rq.messageID &+ 100)
            try await response(.success, nil)
        case .abortAfterFirst:
            try await response(.pending, try match(0))
            association.abort()
        case .silentAfterFirst:
            try await response(.pending, try match(0))
            _ = try await association.nextMessage()
        }
    }

    func stop() async { await acceptor.stop() }
}
