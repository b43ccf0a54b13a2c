import Foundation
import Testing
@testable import DICOMNetwork

/// Runs python3 (found on PATH) with a script; its stdout.
func python(_ script: String, _ arguments: [String] = []) throws -> String {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
    guard let python = path.map({ "\($0)/python3" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw TestPeerMissing(what: "python3")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = ["-c", script] + arguments
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw TestPeerMissing(what: "pynetdicom (python3 -m pip install pynetdicom)") }
    return String(decoding: data, as: UTF8.self)
}


func hexBytes(_ text: Substring) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex {
        let next = text.index(index, offsetBy: 2)
        bytes.append(UInt8(text[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

/// The bytes constants of one of pynetdicom's test fixture modules, by name.
func pynetdicomFixtures(_ module: String, where condition: String = "True") -> [String: [UInt8]] {
    let script = """
    import pynetdicom.tests.\(module) as e
    for name in dir(e):
        value = getattr(e, name)
        if isinstance(value, bytes) and (\(condition)): print(name, value.hex())
    """
    guard let output = try? python(script) else { return [:] }
    var result: [String: [UInt8]] = [:]
    for line in output.split(separator: "\n") {
        let parts = line.split(separator: " ")
        if parts.count == 2 { result[String(parts[0])] = hexBytes(parts[1]) }
    }
    return result
}

/// pynetdicom's annotated golden PDUs (its tests/encoded_pdu_items.py), by name.
let pynetdicomPDUs = pynetdicomFixtures("encoded_pdu_items", where: "value[:1] in bytes(range(1, 8)) and len(value) > 1")

@Suite(.timeLimit(.minutes(10))) struct PDUGoldenBytes {
    @Test func everyPynetdicomPDUDecodesAndEncodesToTheSameBytes() throws {
        let pdus = pynetdicomPDUs.filter { $0.key.hasPrefix("a_") || $0.key.hasPrefix("p_data") }
        #expect(pdus.count >= 15, "pynetdicom's encoded_pdu_items (pip install pynetdicom)")
        for (name, bytes) in pdus.sorted(by: { $0.key < $1.key }) {
            if name == "a_associate_ac_user" {
                // pynetdicom's fixture says 184 bytes in its header but holds 198: its user
                // information item runs past the PDU, which must be an error.
                #expect(throws: PDUError.self) { try PDU.decode(bytes[...], maximumLength: 1 << 20) }
                continue
            }
            let decoded = try PDU.decode(bytes[...], maximumLength: 1 << 20)
            let (pdu, consumed) = try #require(decoded, "\(name)")
            #expect(consumed == bytes.count, "\(name)")
            var expected = bytes
            if name == "a_associate_rq_user_id_user_pass" {
                // This fixture has 0xff in a reserved byte of its presentation context item;
                // reserved fields are sent as zero (PS3.8 9.3.2.2).
                #expect(expected[105] == 0xFF)
                expected[105] = 0
            }
            #expect(pdu.encoded() == expected, "\(name) re-encodes to other bytes")
            #expect(try PDU.decode(pdu.encoded()[...], maximumLength: 1 << 20)?.pdu == pdu, "\(name) round trip")
        }
    }

    @Test func fieldsOfTheAssociateRequest() throws {
        let bytes = try #require(pynetdicomPDUs["a_associate_rq"])
        guard case .associateRQ(let rq)? = try PDU.decode(bytes[...], maximumLength: 16384)?.pdu else {
            Issue.record("not an A-ASSOCIATE-RQ")
            return
        }
        #expect(rq.header.calledAETitle == "ANY-SCP" && rq.header.callingAETitle == "ECHOSCU")
        #expect(rq.header.applicationContext == "1.2.840.10008.3.1.1.1")
        #expect(rq.presentationContexts == [ProposedPresentationContext(id: 1, abstractSyntax: "1.2.840.10008.1.1", transferSyntaxes: ["1.2.840.10008.1.2"])])
        #expect(rq.header.userInformation.maximumLength == 16382)
        #expect(rq.header.userInformation.implementationClassUID == "1.2.826.0.1.3680043.9.3811.0.9.0")
        #expect(rq.header.userInformation.implementationVersionName == "PYNETDICOM_090")
    }

    @Test func userInformationSubItems() throws {
        let cases = ["a_associate_rq_user_async", "a_associate_rq_role", "a_associate_rq_user_id_user_pass", "a_associate_rq_user_id_ext_neg"]
        for name in cases {
            let bytes = try #require(pynetdicomPDUs[name], "\(name)")
            guard case .associateRQ(let rq)? = try PDU.decode(bytes[...], maximumLength: 16384)?.pdu else {
                Issue.record("\(name) is not an A-ASSOCIATE-RQ")
                continue
            }
            let info = rq.header.userInformation
            switch name {
            case "a_associate_rq_user_async": #expect(info.asynchronousOperationsWindow == .init(invoked: 5, performed: 5))
            case "a_associate_rq_role": #expect(!info.roleSelections.isEmpty)
            case "a_associate_rq_user_id_user_pass":
                #expect(info.userIdentityRequest?.type == 2)
                #expect(info.userIdentityRequest.map { String(decoding: $0.primaryField, as: UTF8.self) } == "pynetdicom")
            default: #expect(info.userIdentityRequest != nil || !info.extendedNegotiations.isEmpty)
            }
        }
    }

    @Test func decoderWaitsForTheWholePDUAndEnforcesTheMaximum() throws {
        let bytes = try #require(pynetdicomPDUs["p_data_tf"])
        for cut in 0..<bytes.count {
            #expect(try PDU.decode(bytes[..<cut], maximumLength: 16384) == nil, "partial input at \(cut)")
        }
        // A 4 GB length is refused from the header alone.
        #expect(throws: PDUError.tooLong(length: 0xFFFF_FFFF, maximum: 16384)) {
            try PDU.decode([0x04, 0x00, 0xFF, 0xFF, 0xFF, 0xFF][...], maximumLength: 16384)
        }
        // An unknown PDU type is a value, not an error.
        let unknown = try PDU.decode([0x09, 0x00, 0x00, 0x00, 0x00, 0x02, 0xAB, 0xCD][...], maximumLength: 16384)
        #expect(unknown?.pdu == .unknown(type: 0x09, body: [0xAB, 0xCD]))
    }

    @Test(arguments: [
        ([0x04, 0, 0, 0, 0, 6, 0, 0, 0, 9, 1, 3] as [UInt8], "PDV of length 9"),
        ([0x04, 0, 0, 0, 0, 6, 0, 0, 0, 2, 1, 0xF3] as [UInt8], "reserved bits"),
        ([0x04, 0, 0, 0, 0, 0] as [UInt8], "without any presentation data value"),
        ([0x05, 0, 0, 0, 0, 2, 0, 0] as [UInt8], "not 4"),
        ([0x03, 0, 0, 0, 0, 3, 0, 1, 1] as [UInt8], "not 4"),
        ([0x01, 0, 0, 0, 0, 10, 0, 1, 0, 0, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46] as [UInt8], "called AE title needs 16"),
    ])
    func malformedPDUsSayWhatIsWrong(bytes: [UInt8], message: String) {
        do {
            _ = try PDU.decode(bytes[...], maximumLength: 16384)
            Issue.record("decoded \(bytes)")
        } catch let error as PDUError {
            #expect(error.description.contains(message), "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}

@Suite(.timeLimit(.minutes(10))) struct PDUsAgainstDCMTK {
    /// DCMTK's echoscu connects to a one-shot listener that records its A-ASSOCIATE-RQ and
    /// answers with the A-ASSOCIATE-RJ we encode: we decode DCMTK's bytes, DCMTK decodes ours.
    @Test func echoscuRequestDecodesAndOurRejectionIsUnderstood() throws {
        let directory = NSTemporaryDirectory() + "pdu-capture-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let capture = directory + "/rq.bin", portFile = directory + "/port"
        let rejection = PDU.associateRJ(AssociateRJ(result: 1, source: 1, reason: 7)).encoded()
        let listener = """
        import socket, sys
        s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
        open(sys.argv[1], "w").write(str(s.getsockname()[1]))
        s.settimeout(30)
        c, _ = s.accept(); c.settimeout(30)
        data = b""
        while len(data) < 6 or len(data) < 6 + int.from_bytes(data[2:6], "big"):
            chunk = c.recv(65536)
            if not chunk: break
            data += chunk
        open(sys.argv[2], "wb").write(data)
        c.sendall(bytes.fromhex(sys.argv[3]))
        c.recv(10)
        c.close()
        """
        let pythonProcess = Process()
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        guard let python3 = path.map({ "\($0)/python3" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }),
              // DCMTK's, not pynetdicom's console script of the same name.
              let echoscu = ["/usr/bin/echoscu", "/usr/local/bin/echoscu"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestPeerMissing(what: "python3 and DCMTK's echoscu (apt-get install dcmtk)")
        }
        pythonProcess.executableURL = URL(fileURLWithPath: python3)
        pythonProcess.arguments = ["-c", listener, portFile, capture, rejection.map { String(format: "%02x", $0) }.joined()]
        try pythonProcess.run()
        var port = ""
        for _ in 0..<100 where port.isEmpty {
            port = (try? String(contentsOfFile: portFile, encoding: .utf8)) ?? ""
            if port.isEmpty { usleep(50_000) }
        }
        let echo = Process()
        echo.executableURL = URL(fileURLWithPath: echoscu)
        echo.arguments = ["-v", "-aet", "MOVESCU", "-aec", "ARCHIVE", "127.0.0.1", port]
        let output = Pipe()
        echo.standardError = output
        echo.standardOutput = output
        try echo.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        echo.waitUntilExit()
        pythonProcess.waitUntilExit()

        #expect(text.contains("Association Rejected"), "\(text)")
        #expect(text.contains("Called AE Title Not Recognized"), "\(text)")

        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: capture)))
        guard case .associateRQ(let rq)? = try PDU.decode(bytes[...], maximumLength: 16384)?.pdu else {
            Issue.record("echoscu did not send an A-ASSOCIATE-RQ: \(bytes.prefix(16))")
            return
        }
        #expect(rq.header.callingAETitle == "MOVESCU" && rq.header.calledAETitle == "ARCHIVE")
        #expect(rq.presentationContexts.first?.abstractSyntax == "1.2.840.10008.1.1")
        #expect(rq.header.userInformation.maximumLength == 16384)
        #expect(rq.header.userInformation.implementationClassUID?.hasPrefix("1.2.276.0.7230010.3") == true)
        // DCMTK puts 0xff in a reserved byte of the presentation context item; we send zero.
        var expected = bytes
        #expect(expected[105] == 0xFF)
        expected[105] = 0
        #expect(PDU.associateRQ(rq).encoded() == expected, "DCMTK's request re-encodes to the same bytes")
    }
}
