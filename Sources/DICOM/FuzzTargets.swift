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

    /// Parses the bytes as dump text and as `-k` keys, and goes on as movescu would with
    /// what parses: the keys are applied to the dump's data set, which is then encoded.
    /// The whole text is tried as one key, and so is each of its first lines, so that a
    /// dump with keys after it reaches both parsers past their first checks.
    public static func textParsers(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        var dataSet = (try? DumpParser.parse(text))?.dataSet ?? DataSet()
        var keys: [KeyOverride] = []
        if let key = try? KeyOverride(parsing: text) { keys.append(key) }
        for line in text.split(separator: "\n", maxSplits: 64, omittingEmptySubsequences: true).prefix(64) {
            if let key = try? KeyOverride(parsing: String(line)) { keys.append(key) }
        }
        for key in keys {
            key.apply(to: &dataSet)
            _ = key.description
        }
        _ = try? DataSetWriter(transferSyntax: .explicitVRLittleEndian).encode(dataSet)
        _ = QueryFile.format(of: bytes)
    }
}
