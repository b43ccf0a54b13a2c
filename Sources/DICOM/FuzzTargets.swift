/// The bodies of the fuzz targets, here so that tests can replay every kept crasher
/// through the same code the fuzzer ran.
public enum FuzzTargets {
    /// Decodes the bytes as a file and as a bare data set in each uncompressed syntax;
    /// whatever decodes must encode, and decode again to the same data set.
    public static func dataSetReader(_ bytes: [UInt8]) {
        if let file = try? DICOMFile.read(bytes: bytes) {
            roundTrip(file.dataSet, syntax: file.transferSyntax.isEncapsulated ? file.transferSyntax : .explicitVRLittleEndian)
        }
        for syntax in TransferSyntax.uncompressed {
            if let dataSet = try? DataSetReader.read(bytes, transferSyntax: syntax) {
                roundTrip(dataSet, syntax: syntax)
            }
        }
    }

    private static func roundTrip(_ dataSet: DataSet, syntax: TransferSyntax) {
        guard let encoded = try? DataSetWriter(transferSyntax: syntax).encode(dataSet) else { return }
        guard let again = try? DataSetReader.read(encoded, transferSyntax: syntax) else {
            fatalError("a data set this package wrote does not read back")
        }
        _ = again
    }

    /// Parses the bytes as dump text and as a `-k` key.
    public static func textParsers(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        _ = try? DumpParser.parse(text)
        _ = try? KeyOverride(parsing: text)
        _ = QueryFile.format(of: bytes)
    }
}
