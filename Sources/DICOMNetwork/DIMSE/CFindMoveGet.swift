import DICOM

/// C-FIND-RQ (PS3.7 9.3.2); the identifier follows as the data set.
public struct CFindRQ: Equatable, Sendable {
    public var messageID: UInt16
    public var affectedSOPClassUID: String
    public var priority: Priority = .medium
    public init(messageID: UInt16, affectedSOPClassUID: String) {
        self.messageID = messageID
        self.affectedSOPClassUID = affectedSOPClassUID
    }
    public func commandSet() -> [UInt8] {
        queryRequestCommandSet(.cFindRQ, messageID: messageID, sopClass: affectedSOPClassUID, priority: priority)
    }
    init(_ r: CommandSetReader) throws {
        (messageID, affectedSOPClassUID, priority) = try readQueryRequest(r)
    }
}

/// C-FIND-RSP; pending responses carry a matching identifier.
public struct CFindRSP: Equatable, Sendable {
    public var messageIDBeingRespondedTo: UInt16
    public var affectedSOPClassUID: String
    public var status: DIMSEStatus
    public var hasDataSet: Bool
    /// Error Comment (0000,0902), which a failure response may carry.
    public var errorComment: String?
    public init(messageIDBeingRespondedTo: UInt16, affectedSOPClassUID: String, status: DIMSEStatus, hasDataSet: Bool) {
        self.messageIDBeingRespondedTo = messageIDBeingRespondedTo
        self.affectedSOPClassUID = affectedSOPClassUID
        self.status = status
        self.hasDataSet = hasDataSet
    }
    public func commandSet() -> [UInt8] {
        var b = CommandSetBuilder(.cFindRSP)
        b.ui(CommandTag.affectedSOPClassUID, affectedSOPClassUID)
        b.us(CommandTag.messageIDBeingRespondedTo, messageIDBeingRespondedTo)
        b.dataSetType(hasDataSet)
        b.us(CommandTag.status, status.code)
        if let errorComment { b.lo(CommandTag.errorComment, errorComment) }
        return b.encoded()
    }
    init(_ r: CommandSetReader) throws {
        messageIDBeingRespondedTo = try r.us(CommandTag.messageIDBeingRespondedTo, "Message ID Being Responded To")
        status = DIMSEStatus(try r.us(CommandTag.status, "Status"))
        affectedSOPClassUID = r.optionalString(CommandTag.affectedSOPClassUID) ?? ""
        hasDataSet = r.hasDataSet
        errorComment = r.optionalString(CommandTag.errorComment)
    }
}

/// C-MOVE-RQ (PS3.7 9.3.4); the identifier follows as the data set.
public struct CMoveRQ: Equatable, Sendable {
    public var messageID: UInt16
    public var affectedSOPClassUID: String
    public var moveDestination: String
    public var priority: Priority = .medium
    public init(messageID: UInt16, affectedSOPClassUID: String, moveDestination: String) {
        self.messageID = messageID
        self.affectedSOPClassUID = affectedSOPClassUID
        self.moveDestination = moveDestination
    }
    public func commandSet() -> [UInt8] {
        var b = CommandSetBuilder(.cMoveRQ)
        b.ui(CommandTag.affectedSOPClassUID, affectedSOPClassUID)
        b.us(CommandTag.messageID, messageID)
        b.ae(CommandTag.moveDestination, moveDestination)
        b.us(CommandTag.priority, priority.rawValue)
        b.dataSetType(true)
        return b.encoded()
    }
    init(_ r: CommandSetReader) throws {
        messageID = try r.us(CommandTag.messageID, "Message ID")
        affectedSOPClassUID = try r.string(CommandTag.affectedSOPClassUID, "Affected SOP Class UID")
        moveDestination = try r.string(CommandTag.moveDestination, "Move Destination")
        priority = r.optionalUS(CommandTag.priority).flatMap(Priority.init(rawValue:)) ?? .medium
    }
}

/// C-MOVE-RSP, with the sub-operation counters.
public struct CMoveRSP: Equatable, Sendable {
    public var messageIDBeingRespondedTo: UInt16
    public var affectedSOPClassUID: String
    public var status: DIMSEStatus
    public var counts: SubOperationCounts
    /// Some SCPs send a data set (e.g. Failed SOP Instance UID List) with the response.
    public var hasDataSet: Bool
    public var errorComment: String?
    public init(messageIDBeingRespondedTo: UInt16, affectedSOPClassUID: String, status: DIMSEStatus,
                counts: SubOperationCounts, hasDataSet: Bool = false) {
        self.messageIDBeingRespondedTo = messageIDBeingRespondedTo
        self.affectedSOPClassUID = affectedSOPClassUID
        self.status = status
        self.counts = counts
        self.hasDataSet = hasDataSet
    }
    public func commandSet() -> [UInt8] {
        retrieveResponseCommandSet(.cMoveRSP, messageIDBeingRespondedTo, affectedSOPClassUID, status, hasDataSet, errorComment, counts)
    }
    init(_ r: CommandSetReader) throws {
        (messageIDBeingRespondedTo, affectedSOPClassUID, status, counts, hasDataSet, errorComment) = try readRetrieveResponse(r)
    }
}

/// C-GET-RQ (PS3.7 9.3.3).
public struct CGetRQ: Equatable, Sendable {
    public var messageID: UInt16
    public var affectedSOPClassUID: String
    public var priority: Priority = .medium
    public init(messageID: UInt16, affectedSOPClassUID: String) {
        self.messageID = messageID
        self.affectedSOPClassUID = affectedSOPClassUID
    }
    public func commandSet() -> [UInt8] {
        queryRequestCommandSet(.cGetRQ, messageID: messageID, sopClass: affectedSOPClassUID, priority: priority)
    }
    init(_ r: CommandSetReader) throws {
        (messageID, affectedSOPClassUID, priority) = try readQueryRequest(r)
    }
}

/// C-GET-RSP.
public struct CGetRSP: Equatable, Sendable {
    public var messageIDBeingRespondedTo: UInt16
    public var affectedSOPClassUID: String
    public var status: DIMSEStatus
    public var counts: SubOperationCounts
    public var hasDataSet: Bool
    public var errorComment: String?
    public init(messageIDBeingRespondedTo: UInt16, affectedSOPClassUID: String, status: DIMSEStatus,
                counts: SubOperationCounts, hasDataSet: Bool = false) {
        self.messageIDBeingRespondedTo = messageIDBeingRespondedTo
        self.affectedSOPClassUID = affectedSOPClassUID
        self.status = status
        self.counts = counts
        self.hasDataSet = hasDataSet
    }
    public func commandSet() -> [UInt8] {
        retrieveResponseCommandSet(.cGetRSP, messageIDBeingRespondedTo, affectedSOPClassUID, status, hasDataSet, errorComment, counts)
    }
    init(_ r: CommandSetReader) throws {
        (messageIDBeingRespondedTo, affectedSOPClassUID, status, counts, hasDataSet, errorComment) = try readRetrieveResponse(r)
    }
}

/// C-FIND-RQ and C-GET-RQ carry the same fields.
private func queryRequestCommandSet(_ field: CommandField, messageID: UInt16, sopClass: String, priority: Priority) -> [UInt8] {
    var b = CommandSetBuilder(field)
    b.ui(CommandTag.affectedSOPClassUID, sopClass)
    b.us(CommandTag.messageID, messageID)
    b.us(CommandTag.priority, priority.rawValue)
    b.dataSetType(true)
    return b.encoded()
}

private func readQueryRequest(_ r: CommandSetReader) throws -> (UInt16, String, Priority) {
    (try r.us(CommandTag.messageID, "Message ID"),
     try r.string(CommandTag.affectedSOPClassUID, "Affected SOP Class UID"),
     r.optionalUS(CommandTag.priority).flatMap(Priority.init(rawValue:)) ?? .medium)
}

/// C-MOVE-RSP and C-GET-RSP carry the same fields.
private func retrieveResponseCommandSet(_ field: CommandField, _ messageIDBeingRespondedTo: UInt16, _ sopClass: String,
                                        _ status: DIMSEStatus, _ hasDataSet: Bool, _ errorComment: String?,
                                        _ counts: SubOperationCounts) -> [UInt8] {
    var b = CommandSetBuilder(field)
    b.ui(CommandTag.affectedSOPClassUID, sopClass)
    b.us(CommandTag.messageIDBeingRespondedTo, messageIDBeingRespondedTo)
    b.dataSetType(hasDataSet)
    b.us(CommandTag.status, status.code)
    if let errorComment { b.lo(CommandTag.errorComment, errorComment) }
    counts.encode(into: &b)
    return b.encoded()
}

private func readRetrieveResponse(_ r: CommandSetReader) throws
    -> (UInt16, String, DIMSEStatus, SubOperationCounts, Bool, String?) {
    (try r.us(CommandTag.messageIDBeingRespondedTo, "Message ID Being Responded To"),
     r.optionalString(CommandTag.affectedSOPClassUID) ?? "",
     DIMSEStatus(try r.us(CommandTag.status, "Status")),
     SubOperationCounts(r),
     r.hasDataSet,
     r.optionalString(CommandTag.errorComment))
}
