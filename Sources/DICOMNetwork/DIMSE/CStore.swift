import DICOM

/// C-STORE-RQ (PS3.7 9.3.1); the data set follows separately.
public struct CStoreRQ: Equatable, Sendable {
    public var messageID: UInt16
    public var affectedSOPClassUID: String
    public var affectedSOPInstanceUID: String
    public var priority: Priority = .medium
    public var moveOriginatorApplicationEntityTitle: String?
    public var moveOriginatorMessageID: UInt16?
    /// What the command's Command Data Set Type says. A C-STORE request always has a data
    /// set (PS3.7 9.3.1.1); one that says otherwise is answered with a failure at once, not
    /// waited for.
    public var hasDataSet = true

    public init(messageID: UInt16, affectedSOPClassUID: String, affectedSOPInstanceUID: String) {
        self.messageID = messageID
        self.affectedSOPClassUID = affectedSOPClassUID
        self.affectedSOPInstanceUID = affectedSOPInstanceUID
    }

    public func commandSet() -> [UInt8] {
        var b = CommandSetBuilder(.cStoreRQ)
        b.ui(CommandTag.affectedSOPClassUID, affectedSOPClassUID)
        b.us(CommandTag.messageID, messageID)
        b.us(CommandTag.priority, priority.rawValue)
        b.dataSetType(hasDataSet)
        b.ui(CommandTag.affectedSOPInstanceUID, affectedSOPInstanceUID)
        if let ae = moveOriginatorApplicationEntityTitle { b.ae(CommandTag.moveOriginatorApplicationEntityTitle, ae) }
        if let id = moveOriginatorMessageID { b.us(CommandTag.moveOriginatorMessageID, id) }
        return b.encoded()
    }

    init(_ r: CommandSetReader) throws {
        messageID = try r.us(CommandTag.messageID, "Message ID")
        affectedSOPClassUID = try r.string(CommandTag.affectedSOPClassUID, "Affected SOP Class UID")
        affectedSOPInstanceUID = try r.string(CommandTag.affectedSOPInstanceUID, "Affected SOP Instance UID")
        priority = r.optionalUS(CommandTag.priority).flatMap(Priority.init(rawValue:)) ?? .medium
        // Absent: a data set is assumed, as the service requires one.
        hasDataSet = r.optionalUS(CommandTag.commandDataSetType).map { $0 != noDataSet } ?? true
        moveOriginatorApplicationEntityTitle = r.optionalString(CommandTag.moveOriginatorApplicationEntityTitle)
        moveOriginatorMessageID = r.optionalUS(CommandTag.moveOriginatorMessageID)
    }
}

/// C-STORE-RSP.
public struct CStoreRSP: Equatable, Sendable {
    public var messageIDBeingRespondedTo: UInt16
    public var affectedSOPClassUID: String
    public var affectedSOPInstanceUID: String
    public var status: DIMSEStatus
    public var errorComment: String?

    public init(messageIDBeingRespondedTo: UInt16, affectedSOPClassUID: String, affectedSOPInstanceUID: String, status: DIMSEStatus) {
        self.messageIDBeingRespondedTo = messageIDBeingRespondedTo
        self.affectedSOPClassUID = affectedSOPClassUID
        self.affectedSOPInstanceUID = affectedSOPInstanceUID
        self.status = status
    }

    public func commandSet() -> [UInt8] {
        var b = CommandSetBuilder(.cStoreRSP)
        b.ui(CommandTag.affectedSOPClassUID, affectedSOPClassUID)
        b.us(CommandTag.messageIDBeingRespondedTo, messageIDBeingRespondedTo)
        b.dataSetType(false)
        b.us(CommandTag.status, status.code)
        if let errorComment { b.lo(CommandTag.errorComment, errorComment) }
        b.ui(CommandTag.affectedSOPInstanceUID, affectedSOPInstanceUID)
        return b.encoded()
    }

    init(_ r: CommandSetReader) throws {
        messageIDBeingRespondedTo = try r.us(CommandTag.messageIDBeingRespondedTo, "Message ID Being Responded To")
        status = DIMSEStatus(try r.us(CommandTag.status, "Status"))
        affectedSOPClassUID = r.optionalString(CommandTag.affectedSOPClassUID) ?? ""
        affectedSOPInstanceUID = r.optionalString(CommandTag.affectedSOPInstanceUID) ?? ""
        errorComment = r.optionalString(CommandTag.errorComment)
    }
}
