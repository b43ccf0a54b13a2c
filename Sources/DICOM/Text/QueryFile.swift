import Foundation

/// Query files for C-FIND / C-MOVE identifiers: a DICOM file (with or without meta
/// information) as DCMTK reads them, or, beyond DCMTK, the dump text dcmdump prints.
public enum QueryFile {
    public enum Format: Sendable, Equatable { case dicom, dumpText }

    /// The identifier in the file (meta information dropped).
    public static func load(path: String, dictionary: DataDictionary = .active) throws -> DataSet {
        guard let data = FileManager.default.contents(atPath: path) else {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            throw DICOMError.io(path: path, reason: exists ? (isDirectory.boolValue ? "is a directory, not a query file" : "cannot be read") : "no such file")
        }
        return try parse(bytes: [UInt8](data), source: path, dictionary: dictionary)
    }

    public static func parse(bytes: [UInt8], source: String, dictionary: DataDictionary = .active) throws -> DataSet {
        if bytes.isEmpty {
            throw DICOMError.io(path: source, reason: "the file is empty: neither a DICOM data set nor dump text")
        }
        switch format(of: bytes) {
        case .dumpText:
            let text = String(decoding: bytes, as: UTF8.self)
            return try DumpParser.parse(text, source: source, dictionary: dictionary).dataSet
        case .dicom:
            var options = DataSetParser.Options()
            options.dictionary = dictionary
            do {
                var dataSet = try DICOMFile.read(bytes: bytes, options: options).dataSet
                dataSet.removeAll { $0.tag.group == 0x0002 }
                return dataSet
            } catch let error as DICOMError {
                throw DICOMError.io(path: source, reason: "not a DICOM query file: \(error.description)")
            }
        }
    }

    /// Dump text is UTF-8 without NUL bytes whose first meaningful line starts with '(' ,
    /// '#' or a keyword; anything else is read as DICOM.
    public static func format(of bytes: [UInt8]) -> Format {
        if bytes.count >= 132 && bytes[128...131].elementsEqual("DICM".utf8) { return .dicom }
        if bytes.contains(0) { return .dicom }
        guard String(validating: bytes, as: UTF8.self) != nil else { return .dicom }
        let text = String(decoding: bytes, as: UTF8.self)
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let t = line.drop { $0 == " " || $0 == "\t" }
            if t.isEmpty { continue }
            guard let first = t.first else { continue }
            return first == "(" || first == "#" || first.isLetter ? .dumpText : .dicom
        }
        return .dumpText
    }

    /// The identifier of a query: the file's data set (or an empty one), with the keys applied
    /// in order.
    public static func identifier(file: String?, keys: [KeyOverride], dictionary: DataDictionary = .active) throws -> DataSet {
        var dataSet = try file.map { try load(path: $0, dictionary: dictionary) } ?? DataSet()
        for key in keys { key.apply(to: &dataSet) }
        return dataSet
    }
}
