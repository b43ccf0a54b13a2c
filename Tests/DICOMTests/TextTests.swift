import Foundation
import Testing
@testable import DICOM

@Suite(.timeLimit(.minutes(10))) struct DumpFormatTests {
    /// Our dump lines are dcmdump's lines, character for character, for elements both
    /// dictionaries name alike.
    @Test func linesMatchDcmdumpExactly() async throws {
        let directory = try temporaryDirectory()
        let path = directory + "/sample.dcm"
        try await run("dump2dcm", ["+te", fixture("sample.dump"), path])
        let theirs = try await run("dcmdump", ["-q", "-Un", path]).stdout.split(separator: "\n").map(String.init)
        let ours = DumpFormatter().lines(try DICOMFile.read(path: path).dataSet)
        var identical = 0
        for line in ours where !line.contains("(fffe,") && !line.contains(" SQ ") {
            let key = String(line.prefix { $0 != " " }) + " "
            guard let match = theirs.first(where: { $0.drop { $0 == " " }.hasPrefix(key) && $0.hasPrefix(String(repeating: " ", count: line.prefix { $0 == " " }.count) + "(") }) else { continue }
            if match.hasSuffix("Unknown Tag & Data") || line.hasSuffix("Unknown Tag & Data") { continue }
            if match.contains("RETIRED_") { continue }
            // DCMTK's own rounding of some doubles, and its long form of OD, are not ours.
            if line.contains(" OD ") || (line.contains(" FD ") && line.contains("e+")) { continue }
            #expect(line == match)
            identical += 1
        }
        #expect(identical >= 55)
    }

    @Test func longValuesAreCutUnlessAskedNotTo() throws {
        var dataSet = DataSet()
        dataSet.set(DataElement(tag: .pixelData, vr: .OW, bytes: [UInt8](repeating: 0xAB, count: 1000)))
        let short = DumpFormatter().format(dataSet)
        #expect(short.hasPrefix("(7fe0,0010) OW abab\\abab\\abab\\abab\\abab\\abab\\abab\\abab\\abab\\abab\\abab\\abab\\abab... # 1000, 1 PixelData"))
        let long = DumpFormatter(maximumValueLength: nil).format(dataSet)
        #expect(long.count > 2400)
    }
}

@Suite(.timeLimit(.minutes(10))) struct DumpParserTests {
    /// dcmdump's text of a file, read by our dump parser, is the data set we read from the file.
    @Test func dcmdumpTextOfPydicomsFilesParsesToTheSameDataSet() async throws {
        var compared = 0
        let files = try PydicomData.files("test_files")
        for path in files {
            let name = (path as NSString).lastPathComponent
            let dump = try await run("dcmdump", ["-q", "-Un", "+L", path], allowFailure: true)
            guard dump.status == 0, !dump.stderr.contains("E: ") else { continue }
            guard let file = try? DICOMFile.read(path: path, options: dcmtkOptions) else { continue }
            // Values with line breaks, which the one-line format cannot carry, and files
            // whose private tags DCMTK's dictionary names with other VRs, are left out.
            let lines = dump.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            if lines.contains(where: { !$0.isEmpty && !$0.drop(while: { $0 == " " }).hasPrefix("(") && !$0.hasPrefix("#") }) { continue }
            if dump.stdout.contains(" ?? ") || dump.stdout.contains(" xs ") || dump.stdout.contains(" ox ") { continue }
            // dcmdump prints text in the file's character set; only UTF-8 output is text here.
            if dump.stdout.contains("\u{FFFD}") { continue }
            let parsed: DumpParser.Result
            do {
                parsed = try DumpParser.parse(dump.stdout, source: name, dictionary: dcmtkDictionary)
            } catch {
                Issue.record("\(name): \(error)")
                continue
            }
            let ours = DumpLine.parse(DumpFormatter(maximumValueLength: nil).format(parsed.dataSet))
            let reference = DumpLine.parse(DumpFormatter(maximumValueLength: nil).format(file.dataSet))
            // dcmdump does not print trailing spaces inside multi-valued strings' last value.
            let differences = dumpDifferences(ours: ours, theirs: reference, stringLengthsMayDiffer: true)
            let same = differences.isEmpty
            #expect(same, "\(name):\n\(differences.prefix(3).joined(separator: "\n"))")
            compared += 1
        }
        #expect(compared > 40, "only \(compared) files compared")
    }

    var dcmtkOptions: DataSetParser.Options {
        var options = DataSetParser.Options()
        options.dictionary = dcmtkDictionary
        return options
    }

    @Test func dump2dcmReadsWhatWeParse() async throws {
        // The sample dump, parsed by us and written, equals what dump2dcm makes of it.
        let directory = try temporaryDirectory()
        let theirs = directory + "/theirs.dcm"
        try await run("dump2dcm", ["+te", fixture("sample.dump"), theirs])
        let text = try String(contentsOfFile: fixture("sample.dump"), encoding: .utf8)
        let parsed = try DumpParser.parse(text, source: "sample.dump")
        var options = DICOMFile.WriteOptions()
        options.fileFormat = false
        let ours = try DICOMFile(dataSet: parsed.dataSet, transferSyntax: .explicitVRLittleEndian).encoded(options)
        options.transferSyntax = .explicitVRLittleEndian
        let reference = try DICOMFile.read(path: theirs).encoded(options)
        #expect(ours == reference)
    }

    @Test func keywordsStandInForTags() throws {
        let result = try DumpParser.parse("""
        # query
        QueryRetrieveLevel [STUDY]
        PatientID LO [PAT001]
        StudyInstanceUID
        (0008,0016) UI =CTImageStorage
        ReferencedStudySequence SQ
          (fffe,e000) na
            ReferencedSOPInstanceUID [1.2.3]
          (fffe,e00d)
        (fffe,e0dd)
        """, source: "q.txt")
        let dataSet = result.dataSet
        #expect(dataSet.string(.queryRetrieveLevel) == "STUDY")
        #expect(dataSet.string(.patientID) == "PAT001")
        #expect(dataSet[.studyInstanceUID]?.bytes == [])
        #expect(dataSet.string(.sopClassUID) == "1.2.840.10008.5.1.4.1.1.2")
        #expect(dataSet[Tag(0x0008, 0x1110)]?.items?.first?.string(Tag(0x0008, 0x1155)) == "1.2.3")
    }

    @Test(arguments: [
        ("(0010,0020 LO [x]", 1, "'(' without ')'"),
        ("(0010,002X) LO [x]", 1, "is not a tag"),
        ("NoSuchKeyword [x]", 1, "is not a keyword"),
        ("(0010,0020) ZZ [x]", 1, "'ZZ' is not a VR"),
        ("(0028,0010) US [abc]", 1, "is not an unsigned 16-bit number"),
        ("# c\n(0028,0010) US 70000", 2, "is not an unsigned 16-bit number"),
        ("(0010,0020) LO [x\n(fffe,e000) na", 1, "without ']'"),
        ("(fffe,e000) na (Item)", 1, "outside a sequence"),
        ("(fffe,e00d) na", 1, "outside an item"),
        ("(0008,1110) SQ (Sequence)\n(fffe,e000) na", 2, "ends inside"),
        ("(0008,0016) UI =NoSuchUID", 1, "names no UID"),
    ])
    func badDumpTextNamesTheLine(text: String, line: Int, message: String) {
        do {
            _ = try DumpParser.parse(text, source: "q.txt")
            Issue.record("parsed: \(text)")
        } catch let error as DICOMError {
            guard case .badDump(let source, let errorLine, let reason) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(source == "q.txt" && errorLine == line, "\(error)")
            #expect(reason.contains(message), "\(reason)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}

@Suite(.timeLimit(.minutes(10))) struct KeyOverrideTests {
    @Test func everyDCMTKForm() throws {
        var dataSet = DataSet()
        for key in ["0008,0052=STUDY", "(0010,0020)=PAT001", "StudyInstanceUID=1.2.3", "PatientName=", "AccessionNumber", "0010,0030"] {
            try KeyOverride(parsing: key).apply(to: &dataSet)
        }
        #expect(dataSet.string(.queryRetrieveLevel) == "STUDY")
        #expect(dataSet.string(.patientID) == "PAT001")
        #expect(dataSet.string(.studyInstanceUID) == "1.2.3")
        #expect(dataSet[.patientName]?.bytes == [] && dataSet[.patientName]?.vr == .PN)
        #expect(dataSet[Tag(0x0008, 0x0050)]?.bytes == [])
        #expect(dataSet[Tag(0x0010, 0x0030)]?.vr == .DA)
        // UIDs are padded with NUL, text with spaces.
        #expect(dataSet[.studyInstanceUID]?.bytes == Array("1.2.3".utf8) + [0])
        #expect(dataSet[.patientID]?.bytes == Array("PAT001".utf8))
    }

    @Test func laterKeysReplaceEarlierOnesAndFileValues() throws {
        var dataSet = DataSet()
        dataSet.setString("OLD", for: .patientID)
        try KeyOverride(parsing: "PatientID=A").apply(to: &dataSet)
        try KeyOverride(parsing: "0010,0020=B").apply(to: &dataSet)
        #expect(dataSet.string(.patientID) == "B")
    }

    @Test func sequencePaths() throws {
        var dataSet = DataSet()
        try KeyOverride(parsing: "ReferencedStudySequence[0].ReferencedSOPInstanceUID=1.2.3").apply(to: &dataSet)
        try KeyOverride(parsing: "ReferencedStudySequence[1].(0008,1150)=1.2.840.10008.3.1.2.3.1").apply(to: &dataSet)
        try KeyOverride(parsing: "(0008,1110)[0].ReferencedSOPClassUID=1.2.840.10008.3.1.2.3.1").apply(to: &dataSet)
        try KeyOverride(parsing: "ProcedureCodeSequence").apply(to: &dataSet)
        let items = try #require(dataSet[Tag(0x0008, 0x1110)]?.items)
        #expect(items.count == 2)
        #expect(items[0].string(Tag(0x0008, 0x1155)) == "1.2.3")
        #expect(items[0].string(Tag(0x0008, 0x1150)) == "1.2.840.10008.3.1.2.3.1")
        #expect(items[1].string(Tag(0x0008, 0x1150)) == "1.2.840.10008.3.1.2.3.1")
        #expect(dataSet[Tag(0x0008, 0x1032)]?.items == [])
        // Numbers are encoded in binary for binary VRs.
        try KeyOverride(parsing: "Rows=512").apply(to: &dataSet)
        #expect(dataSet[Tag(0x0028, 0x0010)]?.bytes == [0x00, 0x02])
    }

    @Test(arguments: [
        ("0010,002X=A", "not a tag"),
        ("(0010,0020=A", "'(' without ')'"),
        ("PatientIDx=A", "'PatientIDx' is not a keyword"),
        ("=A", "no tag or keyword"),
        ("ReferencedStudySequence.ReferencedSOPInstanceUID=1", "needs an item number"),
        ("PatientID[0].PatientName=A", "is not a sequence"),
        ("ReferencedStudySequence[x].ReferencedSOPInstanceUID=1", "is not an item number"),
        ("ReferencedStudySequence[0]=1", "names an attribute, not an item"),
        ("ReferencedStudySequence=1", "is a sequence and takes no value"),
        ("Rows=big", "not an unsigned 16-bit number"),
        ("fffe,e000=1", "item or delimitation tag"),
        ("ReferencedStudySequence[0]", "names an attribute, not an item"),
        (String(repeating: "ReferencedStudySequence[0].", count: 33) + "PatientID=A", "33 sequences deep"),
        ("(0008,1110)[9999].(0008,1110)[9999].PatientID=A", "addresses 20000 items"),
    ])
    func badKeysSayWhatIsWrong(key: String, message: String) {
        do {
            _ = try KeyOverride(parsing: key)
            Issue.record("accepted \(key)")
        } catch let error as DICOMError {
            guard case .badKey(let text, let reason) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(text == key)
            #expect(reason.contains(message), "\(reason)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func privateTagsAreAccepted() throws {
        var dataSet = DataSet()
        try KeyOverride(parsing: "0009,0010=ACME").apply(to: &dataSet)
        try KeyOverride(parsing: "0009,1001=value").apply(to: &dataSet)
        #expect(dataSet[Tag(0x0009, 0x0010)]?.vr == .LO)
        #expect(dataSet[Tag(0x0009, 0x1001)]?.vr == .UN)
    }
}

@Suite(.timeLimit(.minutes(10))) struct QueryFileTests {
    @Test func dicomFilesBareDataSetsAndDumpText() async throws {
        let directory = try temporaryDirectory()
        let dump = directory + "/q.txt"
        try "(0008,0052) CS [PATIENT]     # QueryRetrieveLevel\n(0010,0020) LO [PAT001]      # PatientID\n"
            .write(toFile: dump, atomically: true, encoding: .utf8)
        let part10 = directory + "/q.dcm", bare = directory + "/q-bare.dcm", implicitBare = directory + "/q-implicit.dcm"
        try await run("dump2dcm", [dump, part10])
        try await run("dump2dcm", ["-F", "+te", dump, bare])
        try await run("dump2dcm", ["-F", "+ti", dump, implicitBare])
        for path in [dump, part10, bare, implicitBare] {
            let query = try QueryFile.load(path: path)
            #expect(query.string(.queryRetrieveLevel) == "PATIENT", "\(path)")
            #expect(query.string(.patientID) == "PAT001", "\(path)")
            #expect(!query.elements.contains { $0.tag.group == 0x0002 })
        }
        let withKeys = try QueryFile.identifier(file: dump, keys: [try KeyOverride(parsing: "PatientID=PAT002")])
        #expect(withKeys.string(.patientID) == "PAT002")
        #expect(try QueryFile.identifier(file: nil, keys: [try KeyOverride(parsing: "QueryRetrieveLevel=STUDY")]).count == 1)
    }

    @Test func whatIsNotAQueryFileIsSaidSo() throws {
        let directory = try temporaryDirectory()
        let cases: [(String, [UInt8], String)] = [
            ("empty", [], "empty"),
            ("binary", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, 0x49, 0x48, 0x44, 0x52, 1, 2, 3], "not a DICOM query file"),
            ("prose", Array("Dear archive, please send the study.\n".utf8), "is not a keyword"),
            ("truncated-dicom", [UInt8](repeating: 0, count: 128) + Array("DICM".utf8) + [0x02, 0x00, 0x10, 0x00, 0x55, 0x49, 0x40, 0x00], "not a DICOM query file"),
        ]
        for (name, bytes, message) in cases {
            let path = directory + "/" + name
            try writeBytes(bytes, path)
            do {
                _ = try QueryFile.load(path: path)
                Issue.record("\(name) loaded")
            } catch let error as DICOMError {
                #expect(error.description.contains(message), "\(name): \(error)")
                #expect(error.description.contains(name), "the message names the file: \(error)")
            }
        }
        #expect(throws: DICOMError.io(path: directory + "/missing", reason: "no such file")) {
            try QueryFile.load(path: directory + "/missing")
        }
        #expect(throws: DICOMError.io(path: directory, reason: "is a directory, not a query file")) {
            try QueryFile.load(path: directory)
        }
    }
}

@Suite(.timeLimit(.minutes(10))) struct CharacterSetTests {
    /// Person names decoded as pydicom decodes them, for every character set file it ships.
    @Test func personNamesDecodeAsPydicomDecodesThem() async throws {
        let files = try PydicomData.files("charset_files")
        let script = """
        import sys, pydicom
        for path in sys.argv[1:]:
            ds = pydicom.dcmread(path)
            ds.decode()
            print(path + "\\t" + str(ds.get("PatientName", "")).replace("\\n", " "))
        """
        let output = try await run("python3", ["-c", script] + files).stdout
        var compared = 0
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { continue }
            let file = try DICOMFile.read(path: String(parts[0]))
            // pydicom leaves out empty trailing component groups ("=" at the end).
            var ours = file.dataSet.string(.patientName) ?? ""
            while ours.hasSuffix("=") { ours.removeLast() }
            #expect(ours == String(parts[1]), "\((String(parts[0]) as NSString).lastPathComponent)")
            compared += 1
        }
        #expect(compared >= 15)
    }

    @Test func commonRepertoires() {
        #expect(SpecificCharacterSet(terms: ["ISO_IR 100"]).decode([0x4D, 0xFC, 0x6C, 0x6C, 0x65, 0x72]) == "Müller")
        #expect(SpecificCharacterSet(terms: ["ISO_IR 192"]).decode(Array("Müller^ユルゲン".utf8)) == "Müller^ユルゲン")
        // ISO 2022 IR 87: JIS X 0208 after ESC $ B, back to ASCII after ESC ( B.
        let yamada: [UInt8] = [0x59, 0x61, 0x6D, 0x61, 0x64, 0x61, 0x5E, 0x54, 0x61, 0x72, 0x6F, 0x75, 0x3D,
                               0x1B, 0x24, 0x42, 0x3B, 0x33, 0x45, 0x44, 0x1B, 0x28, 0x42, 0x5E,
                               0x1B, 0x24, 0x42, 0x42, 0x40, 0x4F, 0x3A, 0x1B, 0x28, 0x42]
        #expect(SpecificCharacterSet(terms: ["", "ISO 2022 IR 87"]).decode(yamada, isPersonName: true) == "Yamada^Tarou=山田^太郎")
        // Bytes no repertoire explains come out as replacement characters, never a failure.
        #expect(SpecificCharacterSet(terms: ["ISO_IR 192"]).decode([0x41, 0xFF, 0x42]) == "A\u{FFFD}B")
    }
}

/// String values of VRs without a character set are taken apart as bytes; the values are
/// those the character-level reading gave (kept here as the reference), on generated values
/// with backslashes, padding, NULs, empty values and some UTF-8.
@Suite(.timeLimit(.minutes(10))) struct PlainStringValueTests {
    static func reference(_ bytes: [UInt8], vr: VR) -> [String] {
        let text = String(decoding: bytes, as: UTF8.self)
        if vr.isSingleValuedText { return [String(text.trailingTrimmed)] }
        return text.split(separator: "\\", omittingEmptySubsequences: false).map { value in
            vr == .UI ? String(value.trailingTrimmed) : value.trimmingSpaces
        }
    }

    @Test func bytesGiveTheValuesTheCharacterReadingGave() {
        let pieces: [[UInt8]] = [[0x31, 0x2E, 0x32], [0x5C], [0x20], [0x00], Array("CT".utf8), Array("é".utf8),
                                 Array("20261125".utf8), [0x20, 0x20], [0x2B, 0x31, 0x2E, 0x35, 0x65, 0x33]]
        var generator = SystemRandomNumberGenerator()
        var checked = 0
        for vr in [VR.UI, .CS, .DA, .DS, .IS, .AE, .AS, .TM, .DT, .UR, .UN] {
            for _ in 0..<400 {
                var bytes: [UInt8] = []
                for _ in 0..<Int.random(in: 0...8, using: &generator) {
                    bytes += pieces.randomElement(using: &generator)!
                }
                let element = DataElement(tag: Tag(0x0009, 0x1000), vr: vr, bytes: bytes)
                var dataSet = DataSet()
                dataSet.set(element)
                #expect(dataSet.strings(element.tag) == Self.reference(bytes, vr: vr), "\(vr) \(bytes)")
                checked += 1
            }
        }
        #expect(checked == 4400)
        // And the character set is not consulted for these: an unknown one changes nothing.
        var dataSet = DataSet()
        dataSet.set(DataElement(tag: .specificCharacterSet, vr: .CS, bytes: Array("ISO_IR 999".utf8)))
        dataSet.set(DataElement(tag: .sopInstanceUID, vr: .UI, bytes: Array("1.2.3\0".utf8)))
        #expect(dataSet.string(.sopInstanceUID) == "1.2.3")
    }
}
