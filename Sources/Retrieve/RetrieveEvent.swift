import DICOM
import DICOMNetwork

/// What the engine reports, in order, as it happens. The batch front end prints these as
/// DCMTK's movescu prints its log; the console draws them; --json writes them as lines.
public enum RetrieveEvent: Sendable {
    case listening(port: Int)
    case requestingAssociation(host: String, port: Int)
    case associationAccepted(maximumSendPDV: Int, contexts: [PresentationNegotiation.Agreed])
    /// Right after `associationAccepted`: everything the negotiation settled, for a trace view.
    case associationNegotiated(AssociationDetails)
    case associationRejected(AssociateRJ)
    case associationFailed(String)
    case moveRequestSent(messageID: UInt16, contextID: UInt8, identifier: DataSet, query: Int, round: Int)
    /// One C-MOVE response; `number` counts the responses to this request from 1.
    case moveResponse(number: Int, messageID: UInt16, status: DIMSEStatus, counts: SubOperationCounts, isFinal: Bool, errorComment: String?)
    /// The SOP instances a move response lists as failed (Failed SOP Instance UID List,
    /// 0008,0058, in the data set some archives send with the final response).
    case failedInstances(messageID: UInt16, sopInstanceUIDs: [String])
    case cancelSent(messageID: UInt16, contextID: UInt8)
    case moveFailed(String)
    case subAssociationReceived(id: Int, callingAETitle: String)
    case subAssociationAccepted(id: Int, maximumSendPDV: Int)
    case subAssociationRejected(id: Int, reason: String)
    case subAssociationReleased(id: Int)
    case subAssociationAborted(id: Int, reason: String)
    case echoReceived(id: Int, messageID: UInt16)
    case storeRequestReceived(id: Int, messageID: UInt16, sopClassUID: String, sopInstanceUID: String)
    case storeBegan(id: Int)
    case storeProgress(id: Int, bytes: Int)
    case storeEnded(id: Int)
    case objectStored(ReceivedObject)
    case objectFailed(sopInstanceUID: String, status: DIMSEStatus, reason: String)
    case fileOverwritten(path: String)
    /// A write job (a quarter MiB to a MiB of an object: parsed, written, at its end
    /// renamed) took this long: from now on objects not complete at their first job are
    /// written on the thread pool, not on the event loop (see `StorageSCP`). Once a run.
    case writesMovedToThreadPool(milliseconds: Int)
    case warning(String)
    case error(String)
    case releasing
    case aborting
    case peerAborted
    case finished(RetrieveSummary)
}

public struct ReceivedObject: Sendable, Equatable {
    /// The file written, or nil with --ignore.
    public var path: String?
    public var sopClassUID: String
    public var sopInstanceUID: String
    public var transferSyntax: String
    public var bytes: Int
    public var seconds: Double
}

/// How a retrieve ended, for the summary line and the exit code.
public struct RetrieveSummary: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case success
        /// Final status 0xB000 (some sub-operations failed).
        case warning
        /// A non-success final status (A701, A801, Cxxx...), kept across moves.
        case failed(DIMSEStatus)
        /// The move ended without a final response (timeout, abort, lost connection).
        case noFinalResponse(String)
        case associationRejected
        case connectFailed
        case noPresentationContext
        case networkInitFailed(String)
    }
    public var outcome: Outcome = .success
    public var moves = 0
    public var objects = 0
    public var bytes = 0
    public var failedObjects = 0
    public var seconds: Double = 0
    /// The last final response's counters.
    public var counts = SubOperationCounts()
    /// Objects were refused because the output directory could not take them (no space
    /// left, a read-only file system...): the system's reason for the first; nil otherwise.
    public var outputFault: String? = nil
    public init() {}
}
