import DICOM

/// A DIMSE command as received or to be sent (PS3.7 section 9).
public enum DIMSEMessage: Equatable, Sendable {
    case echoRQ(CEchoRQ), echoRSP(CEchoRSP)
    case storeRQ(CStoreRQ), storeRSP(CStoreRSP)
    case findRQ(CFindRQ), findRSP(CFindRSP)
    case moveRQ(CMoveRQ), moveRSP(CMoveRSP)
    case getRQ(CGetRQ), getRSP(CGetRSP)
    case cancelRQ(CCancelRQ)

    /// The command set bytes (implicit VR little endian, with group length).
    public func commandSet() -> [UInt8] {
        switch self {
        case .echoRQ(let m): return m.commandSet()
        case .echoRSP(let m): return m.commandSet()
        case .storeRQ(let m): return m.commandSet()
        case .storeRSP(let m): return m.commandSet()
        case .findRQ(let m): return m.commandSet()
        case .findRSP(let m): return m.commandSet()
        case .moveRQ(let m): return m.commandSet()
        case .moveRSP(let m): return m.commandSet()
        case .getRQ(let m): return m.commandSet()
        case .getRSP(let m): return m.commandSet()
        case .cancelRQ(let m): return m.commandSet()
        }
    }

    /// Decodes a command set.
    public init(commandSet bytes: [UInt8]) throws {
        let dataSet = try CommandSetReader.quickRead(bytes) ?? DataSetReader.read(bytes, transferSyntax: .implicitVRLittleEndian)
        try self.init(commandSet: dataSet)
    }

    public init(commandSet dataSet: DataSet) throws {
        guard let raw = dataSet.integers(CommandTag.commandField)?.first else {
            throw DIMSEError.missing(message: "command set", element: "Command Field (0000,0100)")
        }
        guard let field = CommandField(rawValue: UInt16(truncatingIfNeeded: raw)) else {
            throw DIMSEError.unknownCommand(UInt16(truncatingIfNeeded: raw))
        }
        func reader(_ name: String) -> CommandSetReader { CommandSetReader(dataSet: dataSet, message: name) }
        switch field {
        case .cEchoRQ: self = .echoRQ(try CEchoRQ(reader("C-ECHO-RQ")))
        case .cEchoRSP: self = .echoRSP(try CEchoRSP(reader("C-ECHO-RSP")))
        case .cStoreRQ: self = .storeRQ(try CStoreRQ(reader("C-STORE-RQ")))
        case .cStoreRSP: self = .storeRSP(try CStoreRSP(reader("C-STORE-RSP")))
        case .cFindRQ: self = .findRQ(try CFindRQ(reader("C-FIND-RQ")))
        case .cFindRSP: self = .findRSP(try CFindRSP(reader("C-FIND-RSP")))
        case .cMoveRQ: self = .moveRQ(try CMoveRQ(reader("C-MOVE-RQ")))
        case .cMoveRSP: self = .moveRSP(try CMoveRSP(reader("C-MOVE-RSP")))
        case .cGetRQ: self = .getRQ(try CGetRQ(reader("C-GET-RQ")))
        case .cGetRSP: self = .getRSP(try CGetRSP(reader("C-GET-RSP")))
        case .cCancelRQ: self = .cancelRQ(try CCancelRQ(reader("C-CANCEL-RQ")))
        }
    }

    /// Whether a data set follows the command.
    public var hasDataSet: Bool {
        switch self {
        case .storeRQ(let m): return m.hasDataSet
        case .findRQ, .moveRQ, .getRQ: return true
        case .findRSP(let m): return m.hasDataSet
        case .moveRSP(let m): return m.hasDataSet
        case .getRSP(let m): return m.hasDataSet
        default: return false
        }
    }
}
