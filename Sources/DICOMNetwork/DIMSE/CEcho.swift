import DICOM

/// C-ECHO-RQ (PS3.7 9.3.5).
public struct CEchoRQ: Equatable, Sendable {
    public var messageID: UInt16
    public var affectedSOPClassUID: String = WellKnownUID.verification
    public init(messageID: UInt16) { self.messageID = messageID }

    public func commandSet() -> [UInt8] {
        var b = CommandSetBuilder(.cEchoRQ)
        b.ui(CommandTag.affectedSOPClassUID, affectedSOPClassUID)
        b.us(CommandTag.messageID, messageID)
        b.dataSetType(false)
        return b.encoded()
    }

    init(_ r: CommandSetReader) throws {
        messageID = try r.us(CommandTag.messageID, "Message ID")
        affectedSOPClassUID = r.optionalString(CommandTag.affectedSOPClassUID) ?? WellKnownUID.verification
    }
}

/// C-ECHO-RSP.
public struct CEchoRSP: Equatable, Sendable {
    public var messageIDBeingRespondedTo: UInt16
    public var status: DIMSEStatus
    public var affectedSOPClassUID: String = WellKnownUID.verification
    public init(messageIDBeingRespondedTo: UInt16, status: DIMSEStatus) {
        self.messageIDBeingRespondedTo = messageIDBeingRespondedTo
        self.status = status
    }

    public func commandSet() -> [UInt8] {
        var b = CommandSetBuilder(.cEchoRSP)
        b.ui(CommandTag.affectedSOPClassUID, affectedSOPClassUID)
        b.us(CommandTag.messageIDBeingRespondedTo, messageIDBeingRespondedTo)
        b.dataSetType(false)
        b.us(CommandTag.status, status.code)
        return b.encoded()
    }

    init(_ r: CommandSetReader) throws {
        messageIDBeingRespondedTo = try r.us(CommandTag.messageIDBeingRespondedTo, "Message ID Being Responded To")
        status = DIMSEStatus(try r.us(CommandTag.status, "Status"))
        affectedSOPClassUID = r.optionalString(CommandTag.affectedSOPClassUID) ?? WellKnownUID.verification
    }
}
