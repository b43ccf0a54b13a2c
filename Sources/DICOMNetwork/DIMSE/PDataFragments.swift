import DICOM

/// Splitting messages into P-DATA-TF PDUs and putting them together again
/// (PS3.8 section 9.3.5 and Annex E, PS3.7 section 6.3.1).
public enum PDataFragmenter {
    /// The data bytes one PDV may carry when the peer accepts P-DATA-TF PDUs of
    /// `peerMaximumLength`: DCMTK's rule, which leaves room for both headers (16384 gives
    /// 16372, the "Max Send PDV" DCMTK logs). 0 means no limit; we then use 64 KiB PDVs.
    public static func maximumPDVDataLength(peerMaximumLength: UInt32) -> Int {
        peerMaximumLength == 0 ? 65536 : max(Int(peerMaximumLength) - 12, 1)
    }

    /// The PDUs for one message: the command set, then the data set if any, each cut into
    /// PDVs of at most `maximumPDVDataLength` bytes, one PDV a PDU.
    public static func pdus(contextID: UInt8, command: [UInt8], dataSet: [UInt8]?, maximumPDVDataLength: Int) -> [PDataTF] {
        var result: [PDataTF] = []
        func cut(_ bytes: [UInt8], isCommand: Bool) {
            var start = 0
            repeat {
                let end = min(start + maximumPDVDataLength, bytes.count)
                result.append(PDataTF(values: [PresentationDataValue(
                    contextID: contextID, isCommand: isCommand, isLast: end == bytes.count, data: Array(bytes[start..<end]))]))
                start = end
            } while start < bytes.count
        }
        cut(command, isCommand: true)
        if var dataSet {
            // Fragments are even (DCMTK refuses odd ones); only a deflated data set can be odd,
            // and PS3.5 A.5 pads its bit stream with one null byte.
            if dataSet.count % 2 == 1 { dataSet.append(0) }
            cut(dataSet, isCommand: false)
        }
        return result
    }
}

/// Reassembles messages from received PDVs: the command set whole, the data set as it
/// arrives (so that a large one can go straight to disk). A pure value.
public struct MessageAssembler: Sendable {
    public enum Event: Equatable, Sendable {
        /// A complete command; when it says a data set follows, data fragments come next.
        case command(contextID: UInt8, message: DIMSEMessage)
        case dataFragment(contextID: UInt8, bytes: ByteChunk, isLast: Bool)
    }

    private enum State: Sendable {
        case idle
        case command(contextID: UInt8, bytes: [UInt8])
        case data(contextID: UInt8)
    }

    private var state: State = .idle
    /// The largest command set accepted; real ones are a few hundred bytes.
    public var maximumCommandLength = 1 << 20

    public init() {}

    /// True between messages.
    public var isIdle: Bool {
        if case .idle = state { return true }
        return false
    }

    /// What the PDV completes: a command, a fragment of a data set, or nothing yet (a
    /// command continues in the next PDV).
    public mutating func receive(_ pdv: PresentationDataValue) throws -> Event? {
        switch (state, pdv.isCommand) {
        case (.idle, true):
            state = .command(contextID: pdv.contextID, bytes: [])
            return try receive(pdv)
        case (.command(let id, var bytes), true):
            guard id == pdv.contextID else {
                throw DIMSEError.fragments("a command fragment on presentation context \(pdv.contextID) while the command on context \(id) is incomplete")
            }
            bytes += pdv.payload
            guard bytes.count <= maximumCommandLength else {
                throw DIMSEError.fragments("a command set of more than \(maximumCommandLength) bytes")
            }
            guard pdv.isLast else {
                state = .command(contextID: id, bytes: bytes)
                return nil
            }
            let message = try DIMSEMessage(commandSet: bytes)
            state = message.hasDataSet ? .data(contextID: id) : .idle
            return .command(contextID: id, message: message)
        case (.data(let id), false):
            guard id == pdv.contextID else {
                throw DIMSEError.fragments("a data fragment on presentation context \(pdv.contextID) for a command on context \(id)")
            }
            if pdv.isLast { state = .idle }
            return .dataFragment(contextID: id, bytes: pdv.payload, isLast: pdv.isLast)
        case (.idle, false):
            throw DIMSEError.fragments("a data fragment on presentation context \(pdv.contextID) without a command before it")
        case (.command(let id, _), false):
            throw DIMSEError.fragments("a data fragment on presentation context \(pdv.contextID) before the command on context \(id) was complete")
        case (.data(let id), true):
            throw DIMSEError.fragments("a command fragment on presentation context \(pdv.contextID) before the data set on context \(id) was complete")
        }
    }
}
