import DICOM
import NIOCore

/// Decodes PDUs from a TCP byte stream; nil while a PDU is incomplete. A PDU longer than
/// the maximum this side announced is an error raised from its header alone, before any of
/// its body is buffered.
///
/// P-DATA-TF PDUs are taken apart as their bytes arrive, and every byte of a read is
/// consumed (a header cut by the end of a read is kept here), so NIO never has to join one
/// read's rest to the next. A data PDV that lies whole in one read is a view of the read
/// buffer (no copy; see `worthKeeping`); any other PDV's data is copied once, from the read
/// buffer into the PDV.
/// Other PDUs are decoded whole by `PDU.decode`; both ways give the same PDVs and PDUs and
/// the same errors.
///
/// P-DATA-TF PDUs that follow each other in what has arrived come out as one P-DATA-TF with
/// all their PDVs (up to a MiB of data): for the upper layer state machine any number of
/// P-DATA-TF PDUs in a row is the same as one, and the DIMSE layer takes each PDV on its own,
/// so the wait for the next indication is paid once per read instead of once per PDU. A bad
/// PDU after merged ones is thrown on the next call, which NIO makes because its bytes are
/// left in the buffer.
public struct PDUDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = PDU

    /// The maximum P-DATA-TF length we announced (A-ASSOCIATE PDUs are allowed up to 1 MiB).
    public var maximumLength: UInt32

    private enum State {
        /// Between PDUs.
        case pduHeader
        /// A PDU other than P-DATA-TF whose header is read; its body is taken whole.
        case body(header: [UInt8], length: Int)
        /// In a P-DATA-TF, between PDVs, `left` bytes of the PDU to come.
        case pdvHeader(left: Int)
        /// In a PDV's data, `missing` bytes of it to come.
        case pdvData(left: Int, contextID: UInt8, control: UInt8, missing: Int)
    }

    private var state = State.pduHeader
    /// A PDU or PDV header cut by the end of a read.
    private var partialHeader: [UInt8] = []
    /// The P-DATA-TF's PDVs so far, and the data of the one arriving.
    private var values: [PresentationDataValue] = []
    private var data: [UInt8] = []
    /// PDVs of P-DATA-TFs complete but not handed on yet, and their bytes.
    private var completed: [PresentationDataValue] = []
    private var completedBytes = 0
    /// Where the P-DATA-TF after merged ones started in the buffer: when it turns out bad,
    /// the buffer is wound back there, the merged PDVs are handed on, and NIO, seeing bytes
    /// left, calls again to meet the error from the start.
    private var mergedPDUStart: Int?
    /// How much data merged P-DATA-TFs carry at most.
    static let mergeLimit = 1 << 20
    /// Data PDVs smaller than this are copied out of the read buffer (it is not worth
    /// keeping a buffer alive for them).
    static let smallestView = 4096

    /// Whether data PDVs may be views of this read buffer. A view keeps all of the buffer
    /// alive, so only a buffer that the read filled to a quarter or more is viewed: what such
    /// buffers take is at most four times what was read into them (a small view can still
    /// keep a whole buffer alive; the storage SCP copies views that have to queue while a
    /// write job is out, so that they do not add up). Reads on loopback often fill a third of
    /// NIO's buffer: with half as the bar, a receive copied twice as much.
    static func worthKeeping(_ buffer: ByteBuffer) -> Bool {
        buffer.writerIndex * 4 >= buffer.storageCapacity
    }

    public init(maximumLength: UInt32) {
        self.maximumLength = maximumLength
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> PDU? {
        mergedPDUStart = nil
        do {
            if let pdu = try decodeNext(buffer: &buffer) { return pdu }
        } catch {
            guard !completed.isEmpty, let start = mergedPDUStart else { throw error }
            // That PDU began in this buffer (merging goes on only within one call).
            buffer.moveReaderIndex(to: start)
            state = .pduHeader
            values = []
            data = []
            partialHeader = []
        }
        guard !completed.isEmpty else { return nil }
        defer {
            completed = []
            completedBytes = 0
        }
        return .pData(PDataTF(values: completed))
    }

    /// The next PDU other than a P-DATA-TF, or nil once more bytes are needed or complete
    /// P-DATA-TF PDVs are to be handed on.
    private mutating func decodeNext(buffer: inout ByteBuffer) throws -> PDU? {
        while true {
            switch state {
            case .pduHeader:
                let at = buffer.readerIndex
                if partialHeader.isEmpty, buffer.readableBytes >= 6,
                   buffer.getInteger(at: at, as: UInt8.self) == PDU.TypeCode.pData.rawValue,
                   let length = buffer.getInteger(at: at + 2, as: UInt32.self), length > 0 {
                    // A P-DATA-TF header whole in this read, read in place (no array); what
                    // `PDU.decode` would say of it: only a length over the maximum is wrong.
                    guard length <= maximumLength else { throw PDUError.tooLong(length: length, maximum: maximumLength) }
                    buffer.moveReaderIndex(forwardBy: 6)
                    values = []
                    state = .pdvHeader(left: Int(length))
                    continue
                }
                guard let header = take(6, from: &buffer) else { return nil }
                let length = Int(header[2]) << 24 | Int(header[3]) << 16 | Int(header[4]) << 8 | Int(header[5])
                // Throws when too long; decodes a PDU without a body.
                if let (pdu, _) = try PDU.decode(header[...], maximumLength: maximumLength) { return pdu }
                if header[0] == PDU.TypeCode.pData.rawValue {
                    values = []
                    state = .pdvHeader(left: length)
                } else {
                    state = .body(header: header, length: length)
                }
            case .body(let header, let length):
                guard let body = buffer.readBytes(length: length) else { return nil }
                state = .pduHeader
                guard let (pdu, _) = try PDU.decode((header + body)[...], maximumLength: maximumLength) else {
                    throw PDUError.malformed("\(length) byte(s) of body did not complete the PDU")
                }
                return pdu
            case .pdvHeader(let left):
                if left == 0 {
                    state = .pduHeader
                    completed.append(contentsOf: values)
                    values = []
                    // Go on while a P-DATA-TF follows in what has arrived.
                    guard completedBytes < PDUDecoder.mergeLimit, partialHeader.isEmpty,
                          buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == PDU.TypeCode.pData.rawValue else {
                        return nil
                    }
                    mergedPDUStart = buffer.readerIndex
                    continue
                }
                if left < 6 {
                    // Too short for a PDV: the whole-PDU decoder's error for these bytes.
                    guard let rest = take(left, from: &buffer) else { return nil }
                    _ = try PDataTF(body: rest[...])
                    throw PDataTF.noValues
                }
                let at = buffer.readerIndex
                let length: Int, contextID: UInt8, control: UInt8
                if partialHeader.isEmpty, buffer.readableBytes >= 6 {
                    // Whole in this read: read in place, no array.
                    length = Int(buffer.getInteger(at: at, as: UInt32.self)!)
                    contextID = buffer.getInteger(at: at + 4, as: UInt8.self)!
                    control = buffer.getInteger(at: at + 5, as: UInt8.self)!
                    buffer.moveReaderIndex(forwardBy: 6)
                } else {
                    guard let header = take(6, from: &buffer) else { return nil }
                    length = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
                    contextID = header[4]
                    control = header[5]
                }
                try PDataTF.checkItem(length: length, left: left - 4)
                try PDataTF.checkControlHeader(control)
                data = []
                state = .pdvData(left: left - 6, contextID: contextID, control: control, missing: length - 2)
            case .pdvData(let left, let contextID, let control, let missing):
                let n = min(missing, buffer.readableBytes)
                if data.isEmpty, n == missing, n >= PDUDecoder.smallestView, control & 1 == 0, PDUDecoder.worthKeeping(buffer) {
                    // A data PDV whole in this read: a view of the read buffer, not a copy.
                    let payload = buffer.readSlice(length: n)!.withUnsafeReadableBytesWithStorageManagement { bytes, storage in
                        ByteChunk(owner: storage.takeUnretainedValue(), bytes: bytes)
                    }
                    values.append(PresentationDataValue(contextID: contextID, isCommand: false, isLast: control & 2 != 0, payload: payload))
                    completedBytes += n
                    state = .pdvHeader(left: left - n)
                    continue
                }
                if data.isEmpty && n > 0 {
                    // Not more than has come and a little: the length is the peer's word.
                    data.reserveCapacity(min(missing, buffer.readableBytes + 65536))
                }
                if n > 0 {
                    buffer.readWithUnsafeReadableBytes { raw in
                        data.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[..<n]))
                        return n
                    }
                }
                guard n == missing else {
                    state = .pdvData(left: left - n, contextID: contextID, control: control, missing: missing - n)
                    return nil
                }
                values.append(PresentationDataValue(contextID: contextID, isCommand: control & 1 != 0,
                                                    isLast: control & 2 != 0, data: data))
                completedBytes += data.count
                data = []
                state = .pdvHeader(left: left - n)
            }
        }
    }

    /// `n` header bytes, from the buffer or from what an earlier read left; nil (keeping what
    /// there is) while they are not all there.
    private mutating func take(_ n: Int, from buffer: inout ByteBuffer) -> [UInt8]? {
        if partialHeader.isEmpty, let bytes = buffer.readBytes(length: n) { return bytes }
        let got = min(n - partialHeader.count, buffer.readableBytes)
        partialHeader += buffer.readBytes(length: got) ?? []
        guard partialHeader.count == n else { return nil }
        defer { partialHeader = [] }
        return partialHeader
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> PDU? {
        try decode(buffer: &buffer)
    }
}
