/// Ways the archive can misbehave on purpose, as real archives do, so that a retrieve tool can
/// be tested against each. The default misbehaves in no way. Sub-operations are numbered from
/// 0 in the order of the move.
public struct ArchiveFaults: Sendable {
    /// Waits before every C-FIND and C-MOVE response (a slow archive).
    public var responseDelay: Duration = .zero
    /// Waits before every C-STORE sub-operation.
    public var storeDelay: Duration = .zero
    /// These sub-operations are counted as failed and never sent (the archive could not
    /// read them, say).
    public var failedSubOperations: Set<Int> = []
    /// These are sent, and counted as warnings whatever the destination answers.
    public var warningSubOperations: Set<Int> = []
    /// Pending C-MOVE responses carry a data set (an identifier), which they should not.
    public var pendingResponsesWithDataSet = false
    /// The final C-MOVE response is sent first, success with every object counted as
    /// completed, and the objects are stored afterwards.
    public var finalResponseBeforeStores = false
    /// The store sub-association is aborted halfway through sending this object's data set.
    public var abortDuringStore: Int? = nil
    /// Instead of this pending C-MOVE response, bytes that are not a valid PDU (a P-DATA-TF
    /// whose item runs past its end).
    public var malformedPDUInsteadOfResponse: Int? = nil
    /// Before this object, the store sub-association announces a PDU of 4 GB (0xFFFFFFFF).
    public var hugePDULengthBeforeStore: Int? = nil
    /// These objects are sent with a SOP Instance UID in the data set that differs from the
    /// C-STORE request's.
    public var mismatchedInstanceUIDs: Set<Int> = []
    /// These objects are sent with this SOP Instance UID (in the request and the data set),
    /// such as `../../x` or one with a `/`.
    public var hostileInstanceUIDs: [Int: String] = [:]
    /// Each object is stored on its own association, up to this many at once.
    public var parallelSubAssociations = 1
    /// C-MOVE requests are never answered and nothing is stored.
    public var neverAnswerMoves = false

    public init() {}
}
