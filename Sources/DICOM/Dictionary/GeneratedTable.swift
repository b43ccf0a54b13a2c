/// The generated tables (the data dictionary, the UIDs) are text: one entry a line, fields
/// split by tabs. They are read at every start of the program, so as UTF-8 bytes: splitting
/// the same text as Strings and Characters cost tens of millions of instructions each time.
enum GeneratedTable {
    typealias Field = Slice<UnsafeBufferPointer<UInt8>>

    /// Calls `body` with the fields of each non-empty line of `table`.
    static func forEachRow(of table: String, _ body: ([Field]) -> Void) {
        var table = table
        table.withUTF8 { bytes in
            var fields: [Field] = []
            var lineStart = 0
            while lineStart < bytes.count {
                var lineEnd = lineStart
                while lineEnd < bytes.count && bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
                if lineEnd > lineStart {
                    fields.removeAll(keepingCapacity: true)
                    var fieldStart = lineStart
                    for index in lineStart..<lineEnd where bytes[index] == UInt8(ascii: "\t") {
                        fields.append(bytes[fieldStart..<index])
                        fieldStart = index + 1
                    }
                    fields.append(bytes[fieldStart..<lineEnd])
                    body(fields)
                }
                lineStart = lineEnd + 1
            }
        }
    }

    static func text(_ field: Field) -> String { String(decoding: field, as: UTF8.self) }
}
