import DICOM
import Foundation
import Testing
@testable import DICOMNetwork

/// pynetdicom's annotated DIMSE messages (tests/encoded_dimse_msg.py): P-DATA-TF PDUs whose
/// single PDV holds a command set or a data set.
let pynetdicomDIMSE = pynetdicomFixtures("encoded_dimse_msg")

@Suite(.timeLimit(.minutes(10))) struct DIMSETests {
    /// The command set inside one of pynetdicom's fixtures (MCH byte first, then the bytes).
    func command(_ name: String) throws -> [UInt8] {
        let bytes = try #require(pynetdicomDIMSE[name], "\(name) (pip install pynetdicom)")
        return Array(bytes.dropFirst())
    }

    @Test func commandSetsDecodeAndEncodeToPynetdicomsBytes() throws {
        let names = pynetdicomDIMSE.keys.filter { $0.hasSuffix("_cmd") || $0.hasSuffix("_cmd_b") }.sorted()
        #expect(names.count >= 10)
        for name in names {
            let bytes = try command(name)
            let message = try DIMSEMessage(commandSet: bytes)
            // pynetdicom's fixture with a duplicated element cannot re-encode identically.
            if name.contains("with_dup") { continue }
            #expect(message.commandSet() == bytes, "\(name)")
        }
    }

    /// The quick command set reader gives what the general reader gives, for pynetdicom's
    /// command sets and ours, and leaves everything unusual to it.
    @Test func quickCommandSetReadingGivesTheGeneralReadersDataSet() throws {
        let names = pynetdicomDIMSE.keys.filter { $0.hasSuffix("_cmd") || $0.hasSuffix("_cmd_b") }.sorted()
        var commandSets = try (names + ["c_move_rsp_cmd_with_dup"]).map { try command($0) }
        commandSets += [
            { var rq = CStoreRQ(messageID: 5, affectedSOPClassUID: "1.2.840.10008.5.1.4.1.1.2", affectedSOPInstanceUID: "1.2.3.4")
              rq.moveOriginatorApplicationEntityTitle = "ARCHIVE"
              rq.moveOriginatorMessageID = 7
              return rq.commandSet() }(),
            CMoveRSP(messageIDBeingRespondedTo: 3, affectedSOPClassUID: QueryRetrieveModel.studyRoot.moveSOPClass,
                     status: .pending, counts: .init(remaining: 4, completed: 1, failed: 0, warning: 0)).commandSet(),
        ]
        var quick = 0
        for bytes in commandSets {
            let general = try DataSetReader.read(bytes, transferSyntax: .implicitVRLittleEndian)
            if let read = CommandSetReader.quickRead(bytes) {
                #expect(read == general, "\(bytes)")
                quick += 1
            }
        }
        // Every one of them, its offending-element list of two tags (`_with_dup`) included.
        #expect(quick == commandSets.count)

        let good = try command("c_store_rq_cmd")
        var outOfOrder = good
        outOfOrder.replaceSubrange(0..<0, with: [0x00, 0x00, 0x00, 0x10, 0x02, 0x00, 0x00, 0x00, 0x31, 0x00])  // (0000,1000) first
        var unknown = good
        unknown += [0x00, 0x00, 0x00, 0x50, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00]  // (0000,5000), no such element
        var retired = good
        retired += [0x00, 0x00, 0x50, 0x08, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00]  // (0000,0850), retired
        var undefined = good
        undefined += [0x00, 0x00, 0x31, 0x10, 0xFF, 0xFF, 0xFF, 0xFF]
        let otherGroup = good + [0x08, 0x00, 0x16, 0x00, 0x02, 0x00, 0x00, 0x00, 0x31, 0x00]
        for (what, bytes) in [("cut short", Array(good.dropLast(3))), ("a header cut", Array(good.prefix(good.count - 10) + [0, 0, 0])),
                              ("out of order", outOfOrder), ("unknown", unknown), ("retired", retired),
                              ("undefined length", undefined), ("another group", otherGroup)] {
            #expect(CommandSetReader.quickRead(bytes) == nil, "\(what)")
        }
        // What the general reader says of a command set cut short still reaches the caller.
        #expect(throws: DICOMError.self) { try DIMSEMessage(commandSet: Array(good.dropLast(3))) }
    }

    /// The quick reader's VRs are those of the data dictionary (DCMTK's, generated).
    @Test func quickCommandSetVRsAreTheDictionarys() {
        for (element, vr) in CommandSetReader.elementVRs {
            let entry = DataDictionary.standard.entry(for: Tag(0x0000, element))
            #expect(entry?.vrs == [vr] && entry?.isRetired == false, "(0000,\(String(element, radix: 16)))")
        }
        #expect(CommandSetReader.elementVRs.map(\.element) == CommandSetReader.elementVRs.map(\.element).sorted())
    }

    @Test func fieldsOfTheMoveMessages() throws {
        guard case .moveRQ(let rq) = try DIMSEMessage(commandSet: try command("c_move_rq_cmd")) else {
            Issue.record("not a C-MOVE-RQ"); return
        }
        #expect(rq.messageID == 7 && rq.moveDestination == "MOVE_SCP" && rq.priority == .low)
        guard case .moveRSP(let rsp) = try DIMSEMessage(commandSet: try command("c_move_rsp_cmd")) else {
            Issue.record("not a C-MOVE-RSP"); return
        }
        #expect(rsp.status.isPending)
        #expect(rsp.counts == SubOperationCounts(remaining: 3, completed: 1, failed: 2, warning: 4))
        guard case .storeRQ(let store) = try DIMSEMessage(commandSet: try command("c_store_rq_cmd")) else {
            Issue.record("not a C-STORE-RQ"); return
        }
        #expect(store.affectedSOPInstanceUID == "1.2.1" && store.moveOriginatorApplicationEntityTitle == "UNITTEST"
            && store.moveOriginatorMessageID == 3)
    }

    @Test func ourMessagesRoundTrip() throws {
        let messages: [DIMSEMessage] = [
            .echoRQ(CEchoRQ(messageID: 1)),
            .echoRSP(CEchoRSP(messageIDBeingRespondedTo: 1, status: .success)),
            .moveRQ(CMoveRQ(messageID: 3, affectedSOPClassUID: QueryRetrieveModel.studyRoot.moveSOPClass, moveDestination: "MOVESCU")),
            .moveRSP(CMoveRSP(messageIDBeingRespondedTo: 3, affectedSOPClassUID: QueryRetrieveModel.studyRoot.moveSOPClass,
                              status: .subOperationsCompleteWithFailures, counts: .init(remaining: 0, completed: 9, failed: 1, warning: 0))),
            .cancelRQ(CCancelRQ(messageIDBeingRespondedTo: 3)),
            .storeRSP(CStoreRSP(messageIDBeingRespondedTo: 5, affectedSOPClassUID: "1.2", affectedSOPInstanceUID: "1.2.3", status: .dataSetDoesNotMatchSOPClass)),
            .findRQ(CFindRQ(messageID: 9, affectedSOPClassUID: QueryRetrieveModel.patientRoot.findSOPClass)),
            .getRSP(CGetRSP(messageIDBeingRespondedTo: 2, affectedSOPClassUID: "1.2", status: .pending, counts: .init(remaining: 1))),
        ]
        for message in messages {
            #expect(try DIMSEMessage(commandSet: message.commandSet()) == message)
        }
    }

    @Test func statusTextsAsDCMTKPrintsThem() {
        #expect(DIMSEStatus(0xA801).text(for: .move) == "Refused: MoveDestinationUnknown")
        #expect(DIMSEStatus(0xA701).text(for: .move) == "Refused: OutOfResourcesNumberOfMatches")
        #expect(DIMSEStatus(0xA702).text(for: .move) == "Refused: OutOfResourcesSubOperations")
        #expect(DIMSEStatus(0xA900).text(for: .move) == "Error: DataSetDoesNotMatchSOPClass")
        #expect(DIMSEStatus(0xFE00).text(for: .move) == "Cancel: SubOperationsTerminatedDueToCancelIndication")
        #expect(DIMSEStatus(0xB000).text(for: .move) == "Warning: SubOperationsCompleteOneOrMoreFailures")
        #expect(DIMSEStatus(0xC123).text(for: .move) == "Failed: UnableToProcess")
        #expect(DIMSEStatus(0xFF00).text(for: .move) == "Pending")
        #expect(DIMSEStatus(0x0000).text(for: .move) == "Success")
        #expect(DIMSEStatus(0xB000).category == .warning && DIMSEStatus(0xA801).category == .failure)
        #expect(DIMSEStatus(0xFE00).category == .cancel && DIMSEStatus(0xFF01).isPending)
    }

    @Test func badCommandSetsSayWhatIsMissing() throws {
        var b = CommandSetBuilder(.cMoveRQ)
        b.us(CommandTag.messageID, 1)
        #expect(throws: DIMSEError.missing(message: "C-MOVE-RQ", element: "Affected SOP Class UID")) {
            try DIMSEMessage(commandSet: b.encoded())
        }
        var unknown = DataSet()
        unknown.set(DataElement(tag: CommandTag.commandField, vr: .US, bytes: [0x34, 0x12]))
        #expect(throws: DIMSEError.unknownCommand(0x1234)) { try DIMSEMessage(commandSet: unknown) }
    }
}

@Suite(.timeLimit(.minutes(10))) struct PDataTests {
    /// DCMTK aborts on an odd fragment ("Odd Fragment Length"): a deflated data set of odd
    /// length goes out with one null byte of padding (PS3.5 A.5).
    @Test func oddDataSetsArePaddedToEvenFragments() {
        let pdus = PDataFragmenter.pdus(contextID: 1, command: [0, 0], dataSet: [UInt8](repeating: 7, count: 101), maximumPDVDataLength: 64)
        let data = pdus.flatMap(\.values).filter { !$0.isCommand }
        #expect(data.map(\.data.count) == [64, 38])
        #expect(data.last?.data.last == 0)
    }

    @Test func maximumPDVAsDCMTKComputesIt() {
        #expect(PDataFragmenter.maximumPDVDataLength(peerMaximumLength: 16384) == 16372)
        #expect(PDataFragmenter.maximumPDVDataLength(peerMaximumLength: 0) == 65536)
    }

    @Test func fragmentsFitThePeerAndReassemble() throws {
        let move = DIMSEMessage.moveRQ(CMoveRQ(messageID: 1, affectedSOPClassUID: "1.2.840.10008.5.1.4.1.2.2.2", moveDestination: "MOVESCU"))
        let dataSet = (0..<100_000).map { UInt8(truncatingIfNeeded: $0) }
        for maximum in [16384, 4096, 131072] as [UInt32] {
            let limit = PDataFragmenter.maximumPDVDataLength(peerMaximumLength: maximum)
            let pdus = PDataFragmenter.pdus(contextID: 3, command: move.commandSet(), dataSet: dataSet, maximumPDVDataLength: limit)
            for pdu in pdus {
                #expect(PDU.pData(pdu).encoded().count - 6 <= Int(maximum), "a PDU over the peer's maximum")
            }
            var assembler = MessageAssembler()
            var data: [UInt8] = []
            var commands = 0
            for pdu in pdus {
                for pdv in pdu.values {
                    if let event = try assembler.receive(pdv) {
                        switch event {
                        case .command(let id, let message):
                            #expect(id == 3 && message == move)
                            commands += 1
                        case .dataFragment(_, let bytes, _): data += bytes
                        }
                    }
                }
            }
            #expect(commands == 1 && data == dataSet && assembler.isIdle)
        }
    }

    @Test func fragmentsOutOfOrderAreErrors() throws {
        let echo = DIMSEMessage.echoRQ(CEchoRQ(messageID: 1)).commandSet()
        let find = DIMSEMessage.findRQ(CFindRQ(messageID: 2, affectedSOPClassUID: "1.2")).commandSet()
        var a = MessageAssembler()
        #expect(throws: DIMSEError.self) {
            try a.receive(PresentationDataValue(contextID: 1, isCommand: false, isLast: true, data: [1, 2]))
        }
        var b = MessageAssembler()
        _ = try b.receive(PresentationDataValue(contextID: 1, isCommand: true, isLast: false, data: Array(echo.prefix(10))))
        #expect(throws: DIMSEError.self) {
            try b.receive(PresentationDataValue(contextID: 3, isCommand: true, isLast: true, data: Array(echo.dropFirst(10))))
        }
        var c = MessageAssembler()
        _ = try c.receive(PresentationDataValue(contextID: 1, isCommand: true, isLast: true, data: find))
        #expect(throws: DIMSEError.self) {
            try c.receive(PresentationDataValue(contextID: 1, isCommand: true, isLast: true, data: echo))
        }
        var d = MessageAssembler()
        _ = try d.receive(PresentationDataValue(contextID: 1, isCommand: true, isLast: true, data: find))
        #expect(throws: DIMSEError.self) {
            try d.receive(PresentationDataValue(contextID: 5, isCommand: false, isLast: true, data: [0]))
        }
    }
}
