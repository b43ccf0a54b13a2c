import Foundation
import Testing
@testable import DICOM

/// The writer's output options, each checked byte for byte against what DCMTK's dcmconv
/// writes from the same input with the same option (golden bytes from a foreign
/// implementation), and read back by dcmdump.
@Suite(.timeLimit(.minutes(10))) struct WriterAgainstDcmconv {
    /// Our options for the dcmconv flags of one case.
    static func options(_ flags: [String]) -> (TransferSyntax, EncodingOptions) {
        var syntax = TransferSyntax.explicitVRLittleEndian
        var encoding = EncodingOptions()
        var i = 0
        while i < flags.count {
            switch flags[i] {
            case "+te": syntax = .explicitVRLittleEndian
            case "+tb": syntax = .explicitVRBigEndian
            case "+ti": syntax = .implicitVRLittleEndian
            case "+td": syntax = .deflatedExplicitVRLittleEndian
            case "-e": encoding.sequenceLength = .undefined
            case "+e": encoding.sequenceLength = .explicit
            case "+g": encoding.groupLength = .create
            case "-g": encoding.groupLength = .remove
            case "+g=": encoding.groupLength = .recalculate
            case "-u": encoding.enableNewVRs = false
            case "+cl":
                i += 1
                encoding.compressionLevel = Int(flags[i])!
            default: Issue.record("unknown flag \(flags[i])")
            }
            i += 1
        }
        return (syntax, encoding)
    }

    static let cases: [String] = [
        "+te", "+ti", "+tb", "+td", "+td +cl 1", "+td +cl 9",
        "+te -e", "+ti -e", "+tb -e",
        "+te +g", "+ti +g", "+tb +g -e", "+te -g", "+ti +g=",
        "+te -u", "+tb -u", "+ti -u",
    ]

    /// Inputs: the sample data set (every VR, nested sequences, private tags, UTF-8) and a few
    /// of pydicom's uncompressed files from other writers.
    static func inputs(_ directory: String) async throws -> [String] {
        let sample = directory + "/sample.dcm"
        try await run("dump2dcm", ["+te", fixture("sample.dump"), sample])
        let pydicom = try PydicomData.files("test_files").filter {
            ["CT_small.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "rtplan.dcm", "test-SR.dcm",
             "nested_priv_SQ.dcm", "image_dfl.dcm", "rtdose.dcm", "waveform_ecg.dcm", "priv_SQ.dcm",
             "SC_rgb_small_odd.dcm", "examples_overlay.dcm"].contains(($0 as NSString).lastPathComponent)
        }
        #expect(pydicom.count == 12)
        return [sample] + pydicom
    }

    @Test(arguments: cases)
    func dataSetBytesMatchDcmconv(_ flagText: String) async throws {
        let flags = flagText.split(separator: " ").map(String.init)
        let directory = try temporaryDirectory()
        let (syntax, encoding) = Self.options(flags)
        for input in try await Self.inputs(directory) {
            let name = (input as NSString).lastPathComponent
            let golden = directory + "/golden-" + name
            // -p: no padding, movescu's default (dcmconv keeps existing padding otherwise).
            try await run("dcmconv", ["-F", "-p"] + flags + [input, golden])
            var options = DICOMFile.WriteOptions()
            options.fileFormat = false
            options.transferSyntax = syntax
            options.encoding = encoding
            let ours = try DICOMFile.read(path: input).encoded(options)
            let theirs = try readBytes(golden)
            if ours != theirs {
                let at = zip(ours, theirs).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(ours.count, theirs.count)
                try writeBytes(ours, directory + "/ours-" + name)
                Issue.record("\(name) \(flagText): ours \(ours.count) bytes, dcmconv \(theirs.count); first difference at byte \(at) (files in \(directory))")
            }
        }
    }

    @Test(arguments: ["+te", "+ti", "+tb", "+td", "+te -e +g", "+tb -u"])
    func filesWeWriteReadBackInDcmdumpWithTheSameContent(_ flagText: String) async throws {
        let flags = flagText.split(separator: " ").map(String.init)
        let directory = try temporaryDirectory()
        let (syntax, encoding) = Self.options(flags)
        for input in try await Self.inputs(directory) {
            let name = (input as NSString).lastPathComponent
            // In implicit VR a private sequence becomes unknown bytes to any reader: dcmconv's
            // +ti output of this file reads back the same way (the golden-bytes test covers it).
            if syntax == .implicitVRLittleEndian && name == "nested_priv_SQ.dcm" { continue }
            let output = directory + "/ours-" + name
            var options = DICOMFile.WriteOptions()
            options.transferSyntax = syntax
            options.encoding = encoding
            let original = try DICOMFile.read(path: input, options: readOptions)
            try original.write(to: output, options: options)
            // dcmdump reads our file; its view equals its view of the input.
            let theirs = DumpLine.parse(try await run("dcmdump", ["-q", "-Un", "+L", output]).stdout)
            let reference = DumpLine.parse(try await run("dcmdump", ["-q", "-Un", "+L", input]).stdout)
            let differences = dumpDifferences(ours: comparable(theirs, flags), theirs: comparable(reference, flags))
            let same = differences.isEmpty
            #expect(same, "\(name) \(flagText):\n\(differences.prefix(3).joined(separator: "\n"))")
            // Our meta information names the syntax we wrote.
            let back = try DICOMFile.read(path: output)
            #expect(back.meta.string(.transferSyntaxUID) == syntax.uid)
            #expect(back.meta.string(.implementationClassUID) == Implementation.classUID)
            #expect(back.meta.string(.mediaStorageSOPInstanceUID) == original.dataSet.string(.sopInstanceUID) ?? original.meta.string(.mediaStorageSOPInstanceUID) ?? "")
        }
    }

    var readOptions: DataSetParser.Options {
        var options = DataSetParser.Options()
        options.dictionary = dcmtkDictionary
        return options
    }

    /// Lines as they should compare across encodings: without group lengths (their values
    /// depend on the syntax) and, for -u, with the VRs -u rewrites made equal.
    func comparable(_ lines: [DumpLine], _ flags: [String]) -> [DumpLine] {
        lines.filter { !$0.tag.hasSuffix(",0000)") && $0.tag != "(fffc,fffc)" }.map { line in
            var line = line
            // Group length elements (+g) add to the count of elements in an item.
            if line.tag == "(fffe,e000)" && flags.contains("+g") { line.value = "" }
            // Implicit VR cannot tell OB from OW.
            if flags.contains("+ti") && (line.vr == "OB" || line.vr == "OW") {
                line.vr = "OB"
                line.value = ""
            }
            if flags.contains("-u") && ["UN", "UT", "UC", "UR", "OF", "OD", "OL", "OV", "SV", "UV", "OB"].contains(line.vr) {
                line.vr = "OB"
                line.value = ""
                line.vm = "1"
            }
            return line
        }
    }

    @Test func paddingAlignsFileAndItems() async throws {
        let directory = try temporaryDirectory()
        for (file, item) in [(1024, 16), (512, 0), (0, 8), (300, 30)] {
            let input = try await Self.inputs(directory)[0]
            var options = DICOMFile.WriteOptions()
            options.encoding.padding = .init(file: file, item: item)
            let output = directory + "/padded-\(file)-\(item).dcm"
            try DICOMFile.read(path: input).write(to: output, options: options)
            let bytes = try readBytes(output)
            if file > 0 { #expect(bytes.count % file == 0, "file of \(bytes.count) bytes is not a multiple of \(file)") }
            let dump = try await run("dcmdump", ["-q", "+L", output]).stdout
            #expect(dump.contains("\n(fffc,fffc) OB") == (file > 0), "top-level padding only with a file alignment")
            // Every item of explicit length is a multiple of the item padding.
            if item > 0 {
                for line in DumpLine.parse(dump) where line.tag == "(fffe,e000)" {
                    #expect(Int(line.length).map { $0 % item == 0 } == true, "item of length \(line.length)")
                }
            }
            // Padding from an earlier write is dropped by default (-p).
            let again = try DICOMFile.read(path: output).encoded()
            #expect(!DumpFormatter().format(try DICOMFile.read(bytes: again).dataSet).contains("(fffc,fffc)"))
        }
    }
}

@Suite(.timeLimit(.minutes(10))) struct BitPreservingTests {
    /// +B keeps every byte of the data set, whatever its oddities (undefined lengths, odd
    /// lengths, deflate, big endian), and dcmdump reads the result as it reads the original.
    @Test func dataSetBytesAreKeptExactly() async throws {
        let names = ["MR_small_bigendian.dcm", "image_dfl.dcm", "UN_sequence.dcm", "SC_rgb_small_odd.dcm", "JPEG2000.dcm", "rtplan.dcm"]
        let files = try PydicomData.files("test_files").filter { names.contains(($0 as NSString).lastPathComponent) }
        #expect(files.count == names.count)
        let directory = try temporaryDirectory()
        for path in files {
            let (bytes, syntax) = try IncrementalParserTests.dataSetBytes(path)
            let original = try DICOMFile.read(path: path)
            let sopClass = original.dataSet.string(.sopClassUID) ?? "1.2.3"
            let sopInstance = original.dataSet.string(.sopInstanceUID) ?? "1.2.3.4"
            let file = try DICOMFile.encodeBitPreserving(dataSetBytes: bytes, transferSyntax: syntax,
                                                         sopClassUID: sopClass, sopInstanceUID: sopInstance)
            #expect(Array(file.suffix(bytes.count)) == bytes)
            let output = directory + "/" + (path as NSString).lastPathComponent
            try writeBytes(file, output)
            let theirs = DumpLine.parse(try await run("dcmdump", ["-q", "-Un", "+L", output]).stdout)
            let reference = DumpLine.parse(try await run("dcmdump", ["-q", "-Un", "+L", path]).stdout)
            #expect(theirs == reference, "\((path as NSString).lastPathComponent)")
            #expect(try DICOMFile.read(bytes: file).dataSet == original.dataSet)
            // -F: the bytes alone.
            #expect(try DICOMFile.encodeBitPreserving(dataSetBytes: bytes, transferSyntax: syntax, sopClassUID: sopClass,
                                                      sopInstanceUID: sopInstance, fileFormat: false) == bytes)
        }
    }
}
