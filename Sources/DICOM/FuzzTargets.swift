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
        for syntax in [TransferSyntax.explicitVRLittleEndian, .implicitVRLittleEndian] {
            piecesAgree(bytes, syntax: syntax)
        }
    }

    /// The incremental parser fed the bytes in pieces as arrays and as views (the way the
    /// network hands them over), with small values already chunked: the same events, value
    /// bytes and error either way. Chunk boundaries may differ (a view's bytes are handed on
    /// as they come, the buffer's in worthwhile amounts), so consecutive chunks are joined.
    static func piecesAgree(_ bytes: [UInt8], syntax: TransferSyntax) {
        guard let first = bytes.first else { return }
        let size = Int(first) * 16 + 2
        func run(views: Bool) -> ([DataSetEvent], String?) {
            var options = DataSetParser.Options()
            options.maximumBufferedValue = 64
            var parser = DataSetParser(transferSyntax: syntax, options: options)
            var events: [DataSetEvent] = []
            func add(_ event: DataSetEvent) {
                if case .valueChunk(let chunk) = event, case .valueChunk(let last)? = events.last {
                    events[events.count - 1] = .valueChunk(ByteChunk(last.array + chunk.array))
                } else if case .valueChunk(let chunk) = event {
                    events.append(.valueChunk(ByteChunk(chunk.array)))
                } else {
                    events.append(event)
                }
            }
            do {
                var at = 0
                while at < bytes.count {
                    let piece = Array(bytes[at..<min(bytes.count, at + size)])
                    if views { try parser.append(ByteChunk.view(copying: piece)) } else { try parser.append(piece) }
                    at += piece.count
                    while let event = try parser.next() { add(event) }
                }
                parser.finish()
                while let event = try parser.next() { add(event) }
                return (events, parser.isComplete ? nil : "incomplete")
            } catch {
                return (events, "\(error)")
            }
        }
        let (arrays, arrayError) = run(views: false)
        let (views, viewError) = run(views: true)
        guard arrays == views, arrayError == viewError else {
            fatalError("arrays and views differ (\(syntax.uid), pieces of \(size)): \(arrayError ?? "no error") against \(viewError ?? "no error"), \(arrays.count) and \(views.count) events")
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
