import DICOM
import DICOMNetwork
import Logging
import NIOCore
import NIOPosix

/// The answer to a C-ECHO: the peer's status with the times it took, or why there was none.
public enum EchoResult: Sendable, Equatable {
    case success(EchoReply)
    case failure(EchoFailure)

    public var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}

/// A C-ECHO that got its response.
public struct EchoReply: Sendable, Equatable {
    /// The C-ECHO-RSP status (0000 is success; anything else the peer chose to answer).
    public var status: DIMSEStatus
    /// From handing the C-ECHO-RQ to the connection to having the C-ECHO-RSP decoded.
    public var roundTrip: Duration
    /// From starting the TCP connection to having the A-ASSOCIATE-AC.
    public var associationTime: Duration
    /// What the association negotiated (the peer's implementation among it).
    public var details: AssociationDetails

    public init(status: DIMSEStatus, roundTrip: Duration, associationTime: Duration, details: AssociationDetails) {
        self.status = status
        self.roundTrip = roundTrip
        self.associationTime = associationTime
        self.details = details
    }
}

/// Why a C-ECHO got no response, in words a front end can show as they are.
public enum EchoFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// Nothing listens on the port (connection refused).
    case refused(host: String, port: Int)
    /// Another TCP failure: unknown host, unreachable network.
    case connectFailed(String)
    case rejected(AssociateRJ)
    /// No answer in time; the text says to what.
    case timedOut(String)
    /// The peer accepted the association but not the Verification SOP class.
    case noVerificationContext
    case aborted(String)
    case protocolError(String)

    public var description: String {
        switch self {
        case .refused(let host, let port): return "connection refused: nothing listens on \(host) port \(port)"
        case .connectFailed(let why): return "cannot connect: \(why)"
        case .rejected(let rj): return "association rejected: \(rj.reasonText) (\(rj.resultText), \(rj.sourceText))"
        case .timedOut(let what): return "timed out waiting for \(what)"
        case .noVerificationContext: return "the peer does not accept the Verification SOP class"
        case .aborted(let why): return "association aborted: \(why)"
        case .protocolError(let why): return "protocol error: \(why)"
        }
    }
}

extension RetrieveEngine {
    /// One C-ECHO on an association of its own (Verification, implicit VR little endian
    /// and explicit VR little endian proposed), released afterwards.
    /// - Parameter timeout: seconds allowed for the TCP connection, the association answer
    ///   and the C-ECHO response each. A peer that stays silent is aborted after it, and the
    ///   abort waits up to the same time again for the peer to close the connection (ARTIM),
    ///   so a silent peer costs up to twice the timeout.
    public static func echo(host: String, port: Int, callingAETitle: String = "MOVESCU", calledAETitle: String = "ANY-SCP",
                            timeout: Double = 10, maximumPDULength: UInt32 = 16384,
                            logger: Logger = Logger(label: "movescu.echo")) async -> EchoResult {
        let contexts = [
            ProposedPresentationContext(id: 1, abstractSyntax: WellKnownUID.verification,
                                        transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid]),
        ]
        var configuration = RequestorConfiguration()
        configuration.callingAETitle = callingAETitle
        configuration.calledAETitle = calledAETitle
        configuration.maximumPDULength = maximumPDULength
        let limit = TimeAmount.nanoseconds(Int64(max(0.001, timeout) * 1e9))
        configuration.connectTimeout = limit
        configuration.acseTimeout = limit
        configuration.dimseTimeout = limit
        let clock = ContinuousClock()
        let started = clock.now
        do {
            return try await AssociationRequestor.withAssociation(
                host: host, port: port, contexts: contexts, configuration: configuration,
                group: MultiThreadedEventLoopGroup.singleton, logger: logger) { association -> EchoResult in
                let associated = clock.now
                let details = AssociationDetails(association, proposed: contexts, ourMaximumPDULength: maximumPDULength)
                guard association.context(for: WellKnownUID.verification) != nil else {
                    association.abort()
                    return .failure(.noVerificationContext)
                }
                let sent = clock.now
                let status = try await association.echo()
                let answered = clock.now
                // The echo is answered; how the release goes does not change that.
                try? await association.release()
                return .success(EchoReply(status: status, roundTrip: answered - sent, associationTime: associated - started, details: details))
            }
        } catch let failure as AssociationFailure {
            return .failure(echoFailure(failure, host: host, port: port))
        } catch {
            return .failure(.protocolError("\(error)"))
        }
    }

    private static func echoFailure(_ failure: AssociationFailure, host: String, port: Int) -> EchoFailure {
        switch failure {
        case .connectFailed(let why):
            // The requestor keeps only NIO's text: its connect errors name errno's text.
            if why.contains("Connection refused") || why.contains("ECONNREFUSED") { return .refused(host: host, port: port) }
            if why.contains("connectTimeout") { return .timedOut("the TCP connection to \(host) port \(port)") }
            return .connectFailed(why)
        case .rejected(let rj): return .rejected(rj)
        case .timedOut(let what): return .timedOut(what)
        case .aborted(let why): return .aborted(why)
        case .protocolError(let why): return .protocolError(why)
        }
    }
}
