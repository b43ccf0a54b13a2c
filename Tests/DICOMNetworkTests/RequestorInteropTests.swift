import DICOM
import Foundation
import NIOCore
import Testing
@testable import DICOMNetwork

@Suite(.serialized, .timeLimit(.minutes(10))) struct RequestorInteropTests {
    func verificationContexts(_ proposal: PresentationNegotiation.Proposal = .uncompressed) -> [ProposedPresentationContext] {
        PresentationNegotiation.propose([WellKnownUID.verification], transferSyntaxes: proposal.transferSyntaxes)
    }

    @Test(arguments: PresentationNegotiation.Proposal.allCases)
    func echoAgainstDCMTKStorescp(_ proposal: PresentationNegotiation.Proposal) async throws {
        let directory = NSTemporaryDirectory()
        // +xa: DCMTK's storescp accepts every syntax it knows, deflate included.
        let peer = try await PeerProcess.start("/usr/bin/storescp", ["-v", "+xa", "-od", directory, "{port}"])
        defer { peer.stop() }
        var configuration = RequestorConfiguration()
        configuration.calledAETitle = "STORESCP"
        do {
            try await AssociationRequestor.withAssociation(host: "127.0.0.1", port: peer.port, contexts: verificationContexts(proposal),
                                                           configuration: configuration, group: testGroup) { association in
                // storescp chooses by its own +xa preference among what we proposed: this also checks
                // the order we recorded for +xa against the live DCMTK.
                let expected = TransferSyntax.dcmtkAcceptAll.first { proposal.transferSyntaxes.contains($0) }
                #expect(association.context(for: WellKnownUID.verification)?.transferSyntax == expected)
                #expect(association.maximumPDVDataLength == 16372, "storescp announces 16384, as DCMTK's log says Max Send PDV 16372")
                #expect(try await association.echo() == .success)
                #expect(try await association.echo() == .success)
                try await association.release()
            }
        } catch {
            peer.stop()
            let log = peer.log
            Issue.record("\(error); storescp said: \(log)")
        }
    }

    @Test func echoAgainstPynetdicom() async throws {
        let peer = try await PeerProcess.start(try pythonPath(), ["-m", "pynetdicom", "echoscp", "{port}"])
        defer { peer.stop() }
        try await AssociationRequestor.withAssociation(host: "127.0.0.1", port: peer.port, contexts: verificationContexts(),
                                                       configuration: RequestorConfiguration(), group: testGroup) { association in
            #expect(association.accepted.header.userInformation.implementationVersionName?.hasPrefix("PYNETDICOM") == true)
            #expect(try await association.echo() == .success)
            try await association.release()
        }
    }

    /// Stores files of several classes under each -x proposal, to DCMTK's storescp and to
    /// pynetdicom's storescp; what they write has the content dcmdump sees in the original.
    @Test(arguments: PresentationNegotiation.Proposal.allCases)
    func storeToDCMTKAndPynetdicom(_ proposal: PresentationNegotiation.Proposal) async throws {
        let folder = try await mixedStorageFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let names = ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "test-SR.dcm", "ExplVR_BigEnd.dcm"]
        let files = try names.map { try DICOMFile.read(path: folder + "/" + $0) }
        let classes = Array(Set(files.compactMap { $0.dataSet.string(.sopClassUID) })).sorted()
        let contexts = PresentationNegotiation.propose(classes, transferSyntaxes: proposal.transferSyntaxes)
        for peerName in ["storescp", "pynetdicom"] {
            let output = folder + "/" + peerName
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            let peer = peerName == "storescp"
                ? try await PeerProcess.start("/usr/bin/storescp", ["-d", "+xa", "-od", output, "{port}"])
                : try await PeerProcess.start(try pythonPath(), ["-m", "pynetdicom", "storescp", "-od", output, "{port}"])
            defer { peer.stop() }
            var configuration = RequestorConfiguration()
            configuration.calledAETitle = "STORESCP"
            do {
              try await AssociationRequestor.withAssociation(host: "127.0.0.1", port: peer.port, contexts: contexts,
                                                           configuration: configuration, group: testGroup) { association in
                for file in files {
                    let sopClass = file.dataSet.string(.sopClassUID) ?? ""
                    let context = try #require(association.context(for: sopClass), "\(peerName) accepted no context for \(sopClass)")
                    let syntax = try #require(TransferSyntax(uid: context.transferSyntax))
                    var dataSet = file.dataSet
                    dataSet.removeAll { $0.tag.group == 0x0002 }
                    let bytes = try DataSetWriter(transferSyntax: syntax).encode(dataSet)
                    let status = try await association.store(sopClassUID: sopClass, sopInstanceUID: file.dataSet.string(.sopInstanceUID) ?? "",
                                                             dataSet: bytes, contextID: context.id)
                    #expect(status == .success, "\(peerName) under \(proposal.rawValue) in \(syntax.name)")
                }
                try await association.release()
              }
            } catch {
                peer.stop()
                let log = peer.log
                Issue.record("\(peerName) under \(proposal.rawValue): \(error); it said \(log.split(separator: "\n").suffix(12).joined(separator: "\n"))")
                continue
            }
            let written = try FileManager.default.contentsOfDirectory(atPath: output).sorted()
            #expect(written.count == files.count, "\(peerName) wrote \(written)")
            for (name, file) in zip(names, files) {
                let uid = file.dataSet.string(.sopInstanceUID) ?? "?"
                guard let stored = written.first(where: { $0.hasSuffix(uid) || $0.hasSuffix(uid + ".dcm") }) else {
                    Issue.record("\(peerName) did not write \(name)")
                    continue
                }
                let theirs = try await dataSetLines(output + "/" + stored)
                let original = try await dataSetLines(folder + "/" + name)
                #expect(!theirs.isEmpty && theirs == original, "\(name) via \(peerName) under \(proposal.rawValue): only theirs \(theirs.filter { !original.contains($0) }.prefix(3).map { $0.prefix(120) }), only original \(original.filter { !theirs.contains($0) }.prefix(3).map { $0.prefix(120) })")
            }
        }
    }

    @Test func refusedConnectionIsSaidSo() async throws {
        let port = try freePort()
        await #expect(throws: AssociationFailure.self) {
            try await AssociationRequestor.withAssociation(host: "127.0.0.1", port: port, contexts: verificationContexts(),
                                                           configuration: RequestorConfiguration(), group: testGroup) { _ in }
        }
    }

    @Test func rejectionByDCMTKIsReportedWithItsReason() async throws {
        // dcmqrscp rejects a called AE title it does not serve.
        let directory = NSTemporaryDirectory() + "dcmqrscp-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory + "/db", withIntermediateDirectories: true)
        let config = directory + "/dcmqrscp.cfg"
        try """
        NetworkTCPPort = 104
        MaxPDUSize = 16384
        MaxAssociations = 16
        HostTable BEGIN
        HostTable END
        VendorTable BEGIN
        VendorTable END
        AETable BEGIN
        ARCHIVE \(directory)/db RW (10, 1024mb) ANY
        AETable END
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let peer = try await PeerProcess.start("/usr/bin/dcmqrscp", ["-c", config, "{port}"])
        defer { peer.stop() }
        var configuration = RequestorConfiguration()
        configuration.calledAETitle = "WRONG"
        do {
            try await AssociationRequestor.withAssociation(host: "127.0.0.1", port: peer.port, contexts: verificationContexts(),
                                                           configuration: configuration, group: testGroup) { _ in }
            Issue.record("associated with a wrong called AE title")
        } catch let failure as AssociationFailure {
            guard case .rejected(let rj) = failure else { Issue.record("\(failure)"); return }
            #expect(rj.reasonText == "Called AE Title Not Recognized", "\(failure)")
            #expect(rj.resultText == "Rejected Permanent" && rj.sourceText == "Service User")
        }
        // The right one associates and echoes.
        configuration.calledAETitle = "ARCHIVE"
        try await AssociationRequestor.withAssociation(host: "127.0.0.1", port: peer.port, contexts: verificationContexts(),
                                                       configuration: configuration, group: testGroup) { association in
            #expect(try await association.echo() == .success)
            try await association.release()
        }
    }
}

@Suite(.timeLimit(.minutes(10))) struct RequestorTimeoutTests {
    /// A peer that accepts TCP and never answers: -ta expires and says so.
    @Test func silentPeerTimesOutWithTheACSETimeout() async throws {
        let peer = try await PeerProcess.start(try pythonPath(), ["-c", """
        import socket, sys, time
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
        c, _ = s.accept()
        time.sleep(30)
        """, "{port}"])
        defer { peer.stop() }
        var configuration = RequestorConfiguration()
        configuration.acseTimeout = .seconds(1)
        let contexts = PresentationNegotiation.propose([WellKnownUID.verification], transferSyntaxes: ["1.2.840.10008.1.2"])
        do {
            try await AssociationRequestor.withAssociation(host: "127.0.0.1", port: peer.port, contexts: contexts,
                                                           configuration: configuration, group: testGroup) { _ in }
            Issue.record("associated with a peer that never answers")
        } catch let failure as AssociationFailure {
            #expect(failure == .timedOut("A-ASSOCIATE response"), "\(failure)")
        }
    }
}
