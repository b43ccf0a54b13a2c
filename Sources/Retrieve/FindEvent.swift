import DICOM
import DICOMNetwork

/// What `FindEngine` reports, in order, as it happens.
public enum FindEvent: Sendable {
    case requestingAssociation(host: String, port: Int)
    case associationAccepted(maximumSendPDV: Int, contexts: [PresentationNegotiation.Agreed])
    /// Right after `associationAccepted`: everything the negotiation settled.
    case associationNegotiated(AssociationDetails)
    case associationRejected(AssociateRJ)
    case associationFailed(String)
    case requestSent(messageID: UInt16, contextID: UInt8, identifier: DataSet)
    /// One match: the identifier of a pending response. `number` counts the matches from 1.
    case result(number: Int, identifier: DataSet, status: DIMSEStatus)
    /// A pending response whose identifier is missing or cannot be decoded; it is not counted
    /// as a match. `response` counts all responses to the request from 1.
    case unreadableResult(response: Int, reason: String)
    case cancelSent(messageID: UInt16, contextID: UInt8)
    /// The final (non-pending) response.
    case finalResponse(messageID: UInt16, status: DIMSEStatus, errorComment: String?)
    /// The find ended without a final response: aborted, timed out, connection lost, or a
    /// response that broke the protocol.
    case findFailed(String)
    case warning(String)
    case error(String)
    case releasing
    case aborting
    case peerAborted
    case finished(FindSummary)
}

/// How a find ended.
public struct FindSummary: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// The final response said Success.
        case success
        /// The final response said Cancel (FE00): matching stopped at our C-CANCEL.
        case cancelled
        /// A final response in the warning range.
        case warning(DIMSEStatus)
        /// A final response in the failure range (A700, A900, Cxxx...).
        case failed(DIMSEStatus)
        /// No final response came: aborted (by the operator or the peer), timed out, the
        /// connection was lost, or a response could not be understood.
        case noFinalResponse(String)
        case associationRejected(AssociateRJ)
        /// The association could not be set up (TCP connect, or no answer).
        case connectFailed(String)
        /// The peer accepted no presentation context for the model's FIND SOP class.
        case noPresentationContext
    }

    public var outcome: Outcome = .success
    /// Matches reported as `.result`.
    public var results = 0
    /// Pending responses whose identifier was missing or unreadable.
    public var unreadableResults = 0
    /// The status of the final response; nil when none came.
    public var finalStatus: DIMSEStatus?
    public var errorComment: String?
    /// Whether a C-CANCEL was sent.
    public var cancelSent = false
    public var seconds: Double = 0

    /// True when the find got its final response (whatever its status).
    public var gotFinalResponse: Bool { finalStatus != nil }

    public init() {}
}
