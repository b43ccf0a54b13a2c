import DICOM
import DICOMNetwork
import Synchronization

/// Everything a retrieve needs: the peer, the queries, how our storage SCP accepts and
/// where and how it writes. The command line and the console both fill one of these.
public struct RetrieveConfiguration: Sendable {
    public var peerHost = "localhost"
    public var peerPort = 104
    public var callingAETitle = "MOVESCU"
    public var calledAETitle = "ANY-SCP"
    /// The move destination (-aem); ourselves unless a third party is named.
    public var moveDestination = "MOVESCU"
    public var model: QueryRetrieveModel = .patientRoot
    /// One C-MOVE per identifier, in order.
    public var identifiers: [DataSet] = []
    /// The whole set of identifiers is run this many times (--repeat).
    public var repeatCount = 1
    /// Send C-CANCEL after this many responses to a move (--cancel).
    public var cancelAfter: Int? = nil
    /// Abort instead of releasing at the end (--abort).
    public var abortAtEnd = false
    public var proposal: PresentationNegotiation.Proposal = .uncompressed
    public var maximumPDULength: UInt32 = 16384
    public var connectTimeout: Double? = nil
    public var acseTimeout: Double = 30
    public var dimseTimeout: Double? = nil

    /// Our storage SCP: nil means no port (a third-party move, or none at all).
    public var listenPort: Int? = nil
    public var listenHost = "0.0.0.0"
    public var preference: PresentationNegotiation.Preference = .uncompressed
    public var storage = StorageOptions()
    /// After the final response, how long to wait for objects still on their way.
    public var lateObjectWait: Double = 10

    public init() {}
}

/// Where and how received objects are written.
public struct StorageOptions: Sendable {
    public var outputDirectory = "."
    /// --ignore: receive, answer success, store nothing.
    public var ignore = false
    /// +B: the data set as received, behind new meta information.
    public var bitPreserving = false
    /// -up: silently correct space-padded UIDs in the command.
    public var correctUIDPadding = false
    public var write = DICOMFile.WriteOptions()
    /// A write job taking longer than this moves the storage SCP's file work from the event
    /// loop to the thread pool for the rest of the run (see `StorageSCP`). Tests set zero to
    /// use the thread pool from the first job on (for objects not complete at their first).
    var slowWrite: Duration = .milliseconds(50)
    public init() {}
}

/// A front end's hold on a running retrieve: cancel the move in flight (C-CANCEL), or abort
/// the association. Safe from any thread.
public final class RetrieveControl: Sendable {
    private let state = Mutex((cancel: false, abort: false))
    /// Told at once of a cancel or abort, so that an engine need not poll for them.
    private let observer = Mutex<(@Sendable () -> Void)?>(nil)
    public init() {}

    /// Sends C-CANCEL for the C-MOVE or C-FIND in flight, once. A cancel asked for before a
    /// request is out (a move's or a find's) is sent right after it.
    public func cancel() {
        state.withLock { $0.cancel = true }
        notify()
    }
    /// Aborts the association; the retrieve or find ends without a final response.
    public func abort() {
        state.withLock { $0.abort = true }
        notify()
    }

    /// Sets (or with nil clears) the one closure told of each cancel or abort request.
    func observe(_ body: (@Sendable () -> Void)?) { observer.withLock { $0 = body } }

    private func notify() {
        // Called outside the lock: the closure may well ask for the state.
        let body = observer.withLock { $0 }
        body?()
    }

    public var abortRequested: Bool { state.withLock { $0.abort } }
    func takeCancel() -> Bool { state.withLock { let was = $0.cancel; $0.cancel = false; return was } }
}
