import DICOM

/// The settings of the associations we accept.
public struct AcceptorConfiguration: Sendable {
    /// Our AE title, answered in the A-ASSOCIATE-AC.
    public var aeTitle = "MOVESCU"
    /// Refuse a request whose called AE title is not `aeTitle` (DCMTK's movescu and storescp
    /// take any; dcmqrscp does not).
    public var requireCalledAETitle = false
    /// When set, only these calling AE titles are accepted.
    public var acceptedCallingAETitles: Set<String>? = nil
    /// The largest P-DATA-TF PDU we accept (-pdu).
    public var maximumPDULength: UInt32 = 16384
    /// ARTIM: how long a connection may wait for its A-ASSOCIATE-RQ, or for the peer to
    /// close after our rejection or release response (-ta).
    public var acseTimeout: TimeAmountSeconds = 30
    /// How long an established association may be silent within or between messages (-td);
    /// nil waits for ever.
    public var dimseTimeout: TimeAmountSeconds? = nil
    /// More simultaneous associations than this are refused as transient congestion.
    public var maximumAssociations = 64
    /// Abstract syntaxes offered besides Verification, which is always accepted.
    public var abstractSyntaxes: Set<String> = []
    /// Transfer syntaxes in our order of preference (+x options).
    public var transferSyntaxPreference: [String] = PresentationNegotiation.Preference.uncompressed.transferSyntaxes

    public init() {}
}

/// Seconds, as the command line gives them (kept free of NIO so that the policy is pure).
public typealias TimeAmountSeconds = Double

/// What the acceptor answers to an A-ASSOCIATE-RQ: pure, so that every rule is testable
/// without a socket.
public enum AcceptorPolicy {
    public enum Decision: Equatable, Sendable {
        case accept(AssociateAC)
        /// The rejection and the reason in words, for the log.
        case reject(AssociateRJ, String)
    }

    public static let applicationContext = "1.2.840.10008.3.1.1.1"

    public static func answer(_ rq: AssociateRQ, configuration: AcceptorConfiguration, activeAssociations: Int) -> Decision {
        let calling = rq.header.callingAETitle
        let called = rq.header.calledAETitle
        if rq.header.protocolVersion & 1 == 0 {
            return .reject(AssociateRJ(result: 1, source: 2, reason: 2),
                           "protocol version 0x\(String(rq.header.protocolVersion, radix: 16)) is not supported")
        }
        if rq.header.applicationContext != applicationContext {
            return .reject(AssociateRJ(result: 1, source: 1, reason: 2),
                           "application context \"\(AETitle.printable(rq.header.applicationContext))\" is not the DICOM one")
        }
        if let problem = AETitle.problem(with: calling) {
            return .reject(AssociateRJ(result: 1, source: 1, reason: 3), "bad calling AE title: \(problem)")
        }
        if let problem = AETitle.problem(with: called) {
            return .reject(AssociateRJ(result: 1, source: 1, reason: 7), "bad called AE title: \(problem)")
        }
        if configuration.requireCalledAETitle, called.trimmingSpaces != configuration.aeTitle.trimmingSpaces {
            return .reject(AssociateRJ(result: 1, source: 1, reason: 7),
                           "called AE title \"\(called)\" is not ours (\"\(configuration.aeTitle)\")")
        }
        if let accepted = configuration.acceptedCallingAETitles, !accepted.contains(calling.trimmingSpaces) {
            return .reject(AssociateRJ(result: 1, source: 1, reason: 3),
                           "calling AE title \"\(calling)\" is not among the accepted ones")
        }
        if activeAssociations >= configuration.maximumAssociations {
            return .reject(AssociateRJ(result: 2, source: 3, reason: 2),
                           "\(activeAssociations) associations are open, the limit is \(configuration.maximumAssociations)")
        }
        var abstractSyntaxes = configuration.abstractSyntaxes
        abstractSyntaxes.insert(WellKnownUID.verification)
        let answers = PresentationNegotiation.accept(rq.presentationContexts, abstractSyntaxes: abstractSyntaxes,
                                                     preference: configuration.transferSyntaxPreference)
        if !answers.contains(where: { $0.result == .acceptance }) {
            return .reject(AssociateRJ(result: 1, source: 1, reason: 1),
                           "none of the \(rq.presentationContexts.count) proposed presentation contexts is acceptable")
        }
        var header = AssociateHeader(calledAETitle: called, callingAETitle: calling)
        header.applicationContext = applicationContext
        header.userInformation.maximumLength = configuration.maximumPDULength
        header.userInformation.implementationClassUID = Implementation.classUID
        header.userInformation.implementationVersionName = Implementation.versionName
        return .accept(AssociateAC(header: header, presentationContexts: answers))
    }

    /// The accepted contexts with the abstract syntax each was proposed for.
    public static func agreed(_ rq: AssociateRQ, _ ac: AssociateAC) -> [PresentationNegotiation.Agreed] {
        PresentationNegotiation.agreed(proposed: rq.presentationContexts, accepted: ac.presentationContexts)
    }
}
