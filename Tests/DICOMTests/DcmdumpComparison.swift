import Foundation
import Testing
@testable import DICOM

/// One element line of dcmdump's output (or of ours, which has the same format).
struct DumpLine: Equatable, CustomStringConvertible {
    var depth: Int
    var tag: String
    var vr: String
    var value: String
    var length: String
    var vm: String
    var description: String { "\(String(repeating: "  ", count: depth))\(tag) \(vr) \(value.prefix(80)) # \(length), \(vm)" }

    /// Parses dcmdump lines, dropping comments, the meta header and delimiter lines.
    static func parse(_ text: String) -> [DumpLine] {
        var lines: [DumpLine] = []
        // dcmdump prints text values with their line breaks: join continuation lines, and show
        // control characters as dots, as our dump does.
        var joined: [String] = []
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = raw.drop { $0 == " " }
            let startsElement = trimmed.hasPrefix("(") && trimmed.count > 12 && trimmed.dropFirst(5).first == ","
                && trimmed.dropFirst(10).first == ")"
            if startsElement || trimmed.hasPrefix("#") || joined.isEmpty {
                joined.append(String(raw))
            } else {
                joined[joined.count - 1] += "." + raw
            }
        }
        for joinedLine in joined {
            let raw = String(String.UnicodeScalarView(joinedLine.unicodeScalars.map { $0.value < 0x20 ? "." : $0 }))
            let indent = raw.prefix { $0 == " " }.count
            let line = raw.dropFirst(indent)
            guard line.hasPrefix("("), line.count > 15 else { continue }
            let tag = String(line.prefix(11))
            let vr = String(line.dropFirst(12).prefix(2))
            let rest = line.dropFirst(15)
            guard let hash = rest.range(of: " # ", options: .backwards) else { continue }
            let value = rest[rest.startIndex..<hash.lowerBound].trimmingCharacters(in: .whitespaces)
            let trailer = rest[hash.upperBound...].trimmingCharacters(in: .whitespaces)
            let parts = trailer.split(separator: ",", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let vm = parts[1].trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init) ?? ""
            if tag == "(fffe,e00d)" || tag == "(fffe,e0dd)" { continue }
            if indent == 0 && tag.hasPrefix("(0002,") { continue }
            lines.append(DumpLine(depth: indent / 2, tag: tag, vr: vr, value: value,
                                  length: String(parts[0]).trimmingCharacters(in: .whitespaces), vm: vm))
        }
        return lines
    }
}

/// Differences between dcmdump's view of a file and ours, element by element.
func dumpDifferences(ours: [DumpLine], theirs: [DumpLine], stringLengthsMayDiffer: Bool = false) -> [String] {
    var differences: [String] = []
    func count(_ value: String) -> String? {
        value.range(of: "#=").map { String(value[$0.upperBound...].prefix { $0.isNumber }) }
    }
    for (i, (a, b)) in zip(ours, theirs).enumerated() {
        func differ(_ what: String) { differences.append("line \(i + 1) \(what):\n  ours:   \(a)\n  dcmdump: \(b)") }
        guard a.depth == b.depth, a.tag == b.tag else { differ("tag or depth"); break }
        // dcmdump prints ?? for tags it does not know in implicit VR streams, and xs, ox, lt
        // for ambiguous VRs it could not resolve.
        if a.vr == "??" || b.vr == "??" {
            // DCMTK's dictionary (2022) lacks the tag; ours is newer. Only the length can match.
            if a.length != b.length { differ("length") }
            continue
        }
        func resolves(_ x: String, _ y: String) -> Bool {
            (x == "xs" && (y == "US" || y == "SS")) || (x == "ox" && (y == "OB" || y == "OW"))
                || (x == "lt" && ["US", "SS", "OW"].contains(y))
        }
        let vrMatches = a.vr == b.vr || resolves(a.vr, b.vr) || resolves(b.vr, a.vr)
        guard vrMatches else { differ("VR"); continue }
        if a.vr == "SQ" || (a.tag == "(fffe,e000)" && a.vr == "na") || a.value.hasPrefix("(PixelSequence") {
            if count(a.value) != count(b.value) { differ("item count") }
            continue
        }
        let isString = VR(rawValue: a.vr)?.isString == true
        if a.length != b.length && !(stringLengthsMayDiffer && isString && a.value == b.value) { differ("length"); continue }
        if a.vm != b.vm { differ("VM"); continue }
        if ["FL", "FD", "OF", "OD"].contains(a.vr) {
            let x = a.value.split(separator: "\\").compactMap { Double($0) }
            let y = b.value.split(separator: "\\").compactMap { Double($0) }
            if x.count != y.count || zip(x, y).contains(where: { abs($0 - $1) > 1e-6 * max(1, abs($1)) && !($0.isNaN && $1.isNaN) }) {
                differ("value")
            }
            continue
        }
        let ascii = { (s: String) in s.unicodeScalars.allSatisfy { $0.value < 0x80 && $0.value >= 0x20 } }
        if ascii(a.value) && ascii(b.value) && a.value != b.value { differ("value") }
    }
    if ours.count != theirs.count {
        differences.append("ours has \(ours.count) lines, dcmdump \(theirs.count); first extra: \(ours.count > theirs.count ? ours[theirs.count].description : theirs[ours.count].description)")
    }
    return differences
}

/// DCMTK's dictionaries (public and private) loaded over ours, so that implicit VR private
/// tags get the same VRs on both sides.
let dcmtkDictionary: DataDictionary = {
    let folder = ["/usr/share/libdcmtk17", "/usr/share/libdcmtk16"].first { FileManager.default.fileExists(atPath: $0 + "/private.dic") }
    guard let folder else { return DataDictionary.standard }
    return (try? DataDictionary.loadingEnvironment(["DCMDICTPATH": "\(folder)/private.dic"])) ?? DataDictionary.standard
}()

/// Compares our reading of a file with dcmdump's. Returns nil when dcmdump itself cannot
/// read the file (then ours only has to fail cleanly or succeed).
func compareWithDcmdump(_ path: String) async throws -> [String]? {
    let dcmdump = try await run("dcmdump", ["-q", "-Un", "+L", path], allowFailure: true)
    var options = DataSetParser.Options()
    options.dictionary = dcmtkDictionary
    if dcmdump.status != 0 || dcmdump.stderr.contains("E: ") {
        _ = try? DICOMFile.read(path: path, options: options)
        return nil
    }
    let file: DICOMFile
    do {
        file = try DICOMFile.read(path: path, options: options)
    } catch {
        return ["dcmdump reads it, we do not: \(error)"]
    }
    let ours = DumpLine.parse(DumpFormatter(maximumValueLength: nil, dictionary: dcmtkDictionary).format(file.dataSet))
    return dumpDifferences(ours: ours, theirs: DumpLine.parse(dcmdump.stdout))
}

@Suite(.timeLimit(.minutes(10))) struct ReaderAgainstDcmdump {
    @Test func pydicomsTestFilesReadAsDcmdumpReadsThem() async throws {
        let files = try PydicomData.files("test_files") + PydicomData.files("charset_files")
        #expect(files.count > 90)
        var compared = 0
        for path in files {
            guard let differences = try await compareWithDcmdump(path) else { continue }
            compared += 1
            let same = differences.isEmpty
            #expect(same, "\((path as NSString).lastPathComponent):\n\(differences.prefix(5).joined(separator: "\n"))")
        }
        #expect(compared > 80, "only \(compared) files compared")
    }

    @Test(arguments: ["+te", "+ti", "+tb", "+td", "+te -e", "+tb -e", "+ti +g", "+te -u"])
    func dcmtkWrittenFilesInEverySyntax(_ options: String) async throws {
        let directory = try temporaryDirectory()
        let source = directory + "/source.dcm", converted = directory + "/converted.dcm"
        try await run("dump2dcm", ["+te", fixture("sample.dump"), source])
        try await run("dcmconv", options.split(separator: " ").map(String.init) + [source, converted])
        let differences = try #require(try await compareWithDcmdump(converted), "dcmdump cannot read what dcmconv wrote")
        let same = differences.isEmpty
        #expect(same, "\(differences.prefix(5).joined(separator: "\n"))")
        // And without meta information: the syntax is recognised from the data set.
        if !options.contains("+td") {
            let bare = directory + "/bare.dcm"
            try await run("dcmconv", ["-F"] + options.split(separator: " ").map(String.init) + [source, bare])
            let file = try DICOMFile.read(path: bare)
            #expect(file.meta.isEmpty)
            #expect(file.dataSet.string(.patientID) == "PAT-001")
        }
    }
}
