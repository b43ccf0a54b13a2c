import DICOM
import Foundation
import Testing
@testable import DICOMNetwork

/// A capture made by Scripts/capture-golden.py: a foreign client's PDUs with what pynetdicom
/// and pydicom read from them.
struct GoldenCapture: CustomStringConvertible {
    var name: String
    var expectations: [String: String] = [:]
    var pdus: [(kind: String, bytes: [UInt8])] = []
    var description: String { name }

    static let names = ["dcmtk-echoscu", "dcmtk-storescu", "dcmtk-findscu", "dcmtk-movescu",
                        "pynetdicom-echoscu", "pynetdicom-storescu", "pynetdicom-findscu", "pynetdicom-movescu"]

    init(_ name: String) throws {
        self.name = name
        guard let path = Bundle.module.path(forResource: "Fixtures/golden/\(name)", ofType: "txt"),
              let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw TestPeerMissing(what: "the golden capture \(name)")
        }
        for line in text.split(separator: "\n") {
            if line.hasPrefix("#") { continue }
            if line.hasPrefix("expect "), let equals = line.firstIndex(of: "=") {
                expectations[String(line[line.index(line.startIndex, offsetBy: 7)..<equals])] = String(line[line.index(after: equals)...])
            } else if line.hasPrefix("pdu ") {
                pdus.append((String(line.dropFirst(4)), []))
            } else if !pdus.isEmpty {
                pdus[pdus.count - 1].bytes += line.split(separator: " ").compactMap { UInt8($0, radix: 16) }
            }
        }
    }
}

/// The RQ with the reserved bytes of its presentation context items set to zero: DCMTK and
/// pynetdicom send 0xff in one of them, PS3.8 says zero, and we send zero.
func zeroingReservedContextBytes(_ rq: [UInt8]) -> [UInt8] {
    var bytes = rq
    var offset = 74
    while offset + 4 <= bytes.count {
        let length = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
        if bytes[offset] == 0x20, offset + 8 <= bytes.count {
            bytes[offset + 5] = 0; bytes[offset + 6] = 0; bytes[offset + 7] = 0
        }
        offset += 4 + length
    }
    return bytes
}

@Suite(.timeLimit(.minutes(10))) struct GoldenCaptureTests {
    @Test(arguments: GoldenCapture.names)
    func foreignClientsDecodeAndReencode(_ name: String) throws {
        let capture = try GoldenCapture(name)
        let expect = capture.expectations
        // The association request: read as pynetdicom read it, written back byte for byte.
        let rqBytes = try #require(capture.pdus.first { $0.kind == "associate-rq" }?.bytes)
        guard case .associateRQ(let rq)? = try PDU.decode(rqBytes[...], maximumLength: 16384)?.pdu else {
            Issue.record("\(name): not an A-ASSOCIATE-RQ"); return
        }
        #expect(rq.header.callingAETitle == expect["calling"])
        #expect(rq.header.calledAETitle == expect["called"])
        #expect(String(rq.presentationContexts.count) == expect["contexts"])
        #expect(rq.presentationContexts.first?.abstractSyntax == expect["context.1.abstract"])
        #expect(rq.presentationContexts.first?.transferSyntaxes.joined(separator: ",") == expect["context.1.transfer"])
        #expect(rq.header.userInformation.maximumLength.map(String.init) == expect["maximumLength"])
        #expect(rq.header.userInformation.implementationClassUID == expect["implementationClassUID"])
        #expect(rq.header.userInformation.implementationVersionName == expect["implementationVersionName"])
        #expect(PDU.associateRQ(rq).encoded() == zeroingReservedContextBytes(rqBytes), "\(name): our encoding of their request")

        // The first message: PDUs decode and re-encode exactly; the command reads as pydicom
        // read it and our command set encoding is theirs byte for byte.
        var command: [UInt8] = [], data: [UInt8] = [], dataContext: UInt8 = 0
        for (kind, bytes) in capture.pdus where kind == "p-data" {
            let decoded = try #require(try PDU.decode(bytes[...], maximumLength: 1 << 20))
            #expect(decoded.pdu.encoded() == bytes)
            guard case .pData(let p) = decoded.pdu else { continue }
            for pdv in p.values {
                if pdv.isCommand { command += pdv.data } else { data += pdv.data; dataContext = pdv.contextID }
            }
        }
        let message = try DIMSEMessage(commandSet: command)
        #expect(message.commandSet() == command, "\(name): our encoding of their \(message.name)")
        let field = try DataSetReader.read(command, transferSyntax: .implicitVRLittleEndian).integers(CommandTag.commandField)?.first ?? -1
        #expect(String(format: "0x%04X", field) == expect["command.field"])
        switch message {
        case .echoRQ(let m):
            #expect(String(m.messageID) == expect["command.messageID"])
        case .storeRQ(let m):
            #expect(String(m.messageID) == expect["command.messageID"])
            #expect(m.affectedSOPClassUID == expect["command.affectedSOPClassUID"])
            #expect(m.affectedSOPInstanceUID == expect["command.affectedSOPInstanceUID"])
            #expect(String(m.priority.rawValue) == expect["command.priority"])
            #expect(String(data.count) == expect["data.length"])
        case .findRQ(let m):
            #expect(String(m.messageID) == expect["command.messageID"])
            #expect(m.affectedSOPClassUID == expect["command.affectedSOPClassUID"])
            #expect(String(m.priority.rawValue) == expect["command.priority"])
        case .moveRQ(let m):
            #expect(String(m.messageID) == expect["command.messageID"])
            #expect(m.affectedSOPClassUID == expect["command.affectedSOPClassUID"])
            #expect(m.moveDestination == expect["command.moveDestination"])
            #expect(String(m.priority.rawValue) == expect["command.priority"])
        default:
            Issue.record("\(name): unexpected \(message.name)")
        }
        // The identifier, in the syntax our capture listener accepted (the first proposed).
        let identifierExpectations = expect.filter { $0.key.hasPrefix("identifier.") }
        if !identifierExpectations.isEmpty {
            let syntaxUID = try #require(rq.presentationContexts.first { $0.id == dataContext }?.transferSyntaxes.first)
            let identifier = try DataSetReader.read(data, transferSyntax: try #require(TransferSyntax(uid: syntaxUID)))
            for (key, value) in identifierExpectations {
                let tag = Tag(try #require(UInt32(key.dropFirst("identifier.".count), radix: 16)))
                #expect(identifier[tag] != nil, "\(name): \(key) missing")
                #expect((identifier.string(tag) ?? "") == value, "\(name): \(key)")
            }
            #expect(identifier.elements.count == identifierExpectations.count)
        }
        // The release, when the client sent one.
        if let release = capture.pdus.first(where: { $0.kind == "release-rq" }) {
            #expect(try PDU.decode(release.bytes[...], maximumLength: 16384)?.pdu == .releaseRQ)
            #expect(PDU.releaseRQ.encoded() == release.bytes)
        }
    }
}

@Suite(.timeLimit(.minutes(10))) struct PDUFuzzReplayTests {
    /// The fuzz target's code on the golden captures (its seeds) and on every crasher that
    /// Scripts/fuzz.sh pdu kept: each runs to its end.
    @Test func seedsAndKeptCrashersRunClean() throws {
        var inputs: [[UInt8]] = try GoldenCapture.names.map { try GoldenCapture($0).pdus.flatMap(\.bytes) }
        if let folder = Bundle.module.path(forResource: "Fixtures/crashers", ofType: nil) {
            for name in try FileManager.default.contentsOfDirectory(atPath: folder) where !name.hasPrefix(".") {
                inputs.append([UInt8](FileManager.default.contents(atPath: folder + "/" + name) ?? Data()))
            }
        }
        #expect(inputs.count >= GoldenCapture.names.count)
        for input in inputs {
            NetworkFuzzTargets.pduStream(input)
            // Truncated anywhere, it stops cleanly too.
            for cut in stride(from: 0, to: input.count, by: max(1, input.count / 50)) {
                NetworkFuzzTargets.pduStream(Array(input[..<cut]))
            }
        }
    }
}
