import DICOM
import DICOMNetwork
import Foundation
import NIOPosix

/// A Move SCP of our own network layer that misbehaves on purpose, in ways real archives
/// do: it answers a C-MOVE with its final response first and stores the objects after.
final class ScriptedMoveSCP: Sendable {
    struct Script: Sendable {
        /// Objects the final response announces as completed.
        var announced: Int
        /// Objects actually stored, after the final response.
        var stored: Int
        /// Pause between the final response and the first store.
        var delay: Duration
    }

    let acceptor: AssociationAcceptor
    var port: Int { acceptor.port }

    static let ctClass = "1.2.840.10008.5.1.4.1.1.2"

    static func dataSet(_ index: Int) throws -> [UInt8] {
        var dataSet = DataSet()
        dataSet.setString(ctClass, for: Tag(0x0008, 0x0016), vr: .UI)
        dataSet.setString(instanceUID(index), for: Tag(0x0008, 0x0018), vr: .UI)
        dataSet.setString("CT", for: Tag(0x0008, 0x0060), vr: .CS)
        dataSet.setString("SCRIPTED^PEER", for: Tag(0x0010, 0x0010), vr: .PN)
        dataSet.setString("SCRIPTED1", for: Tag(0x0010, 0x0020), vr: .LO)
        dataSet.setString("1.2.826.0.1.3680043.8.498.8000", for: Tag(0x0020, 0x000D), vr: .UI)
        return try DataSetWriter(transferSyntax: .explicitVRLittleEndian).encode(dataSet)
    }

    static func instanceUID(_ index: Int) -> String { "1.2.826.0.1.3680043.8.498.8000.\(index + 1)" }

    /// Listens on loopback as ARCHIVE; moves go to `destinationPort` on loopback.
    init(script: Script, destinationPort: Int) async throws {
        var configuration = AcceptorConfiguration()
        configuration.aeTitle = "ARCHIVE"
        configuration.abstractSyntaxes = Set(QueryRetrieveModel.allCases.flatMap { [$0.findSOPClass, $0.moveSOPClass] })
        configuration.transferSyntaxPreference = [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid]
        acceptor = try await AssociationAcceptor.start(
            host: "127.0.0.1", port: 0, configuration: configuration, group: MultiThreadedEventLoopGroup.singleton,
            observer: { _ in }, service: { association in
                while let (message, contextID, _) = try await association.nextMessage() {
                    guard case .moveRQ(let rq) = message else { continue }
                    let final = CMoveRSP(messageIDBeingRespondedTo: rq.messageID, affectedSOPClassUID: rq.affectedSOPClassUID,
                                         status: .success, counts: SubOperationCounts(remaining: 0, completed: UInt16(script.announced), failed: 0, warning: 0))
                    try await association.send(.moveRSP(final), contextID: contextID)
                    // The stores go on their own, as an archive's sub-operations do: this
                    // association keeps serving (a release is answered meanwhile).
                    Task {
                        try? await Task.sleep(for: script.delay)
                        try? await ScriptedMoveSCP.store(script.stored, to: rq.moveDestination, port: destinationPort)
                    }
                }
            })
    }

    static func store(_ count: Int, to destination: String, port: Int) async throws {
        guard count > 0 else { return }
        var configuration = RequestorConfiguration()
        configuration.callingAETitle = "ARCHIVE"
        configuration.calledAETitle = destination
        let contexts = [ProposedPresentationContext(id: 1, abstractSyntax: ctClass, transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid])]
        try await AssociationRequestor.withAssociation(host: "127.0.0.1", port: port, contexts: contexts, configuration: configuration,
                                                       group: MultiThreadedEventLoopGroup.singleton) { association in
            for index in 0..<count {
                _ = try await association.store(sopClassUID: ctClass, sopInstanceUID: instanceUID(index), dataSet: try dataSet(index), contextID: 1)
            }
            try await association.release()
        }
    }

    func stop() async { await acceptor.stop() }
}
