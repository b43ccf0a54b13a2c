/// The DICOM upper layer protocol machine (PS3.8 section 9.2, Table 9-10) as a pure value:
/// events go in, the action of the table's cell and its effects come out. No I/O here; a
/// channel handler runs the effects.

/// States of PS3.8 Table 9-10.
public enum ULState: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// Idle.
    case sta1 = 1
    /// Transport connection open, awaiting A-ASSOCIATE-RQ PDU.
    case sta2
    /// Awaiting the local A-ASSOCIATE response primitive.
    case sta3
    /// Awaiting the transport connection to complete.
    case sta4
    /// Awaiting A-ASSOCIATE-AC or -RJ PDU.
    case sta5
    /// Association established, ready for data transfer.
    case sta6
    /// Awaiting A-RELEASE-RP PDU.
    case sta7
    /// Awaiting the local A-RELEASE response primitive.
    case sta8
    /// Release collision, requestor side: awaiting the A-RELEASE response primitive.
    case sta9
    /// Release collision, acceptor side: awaiting A-RELEASE-RP PDU.
    case sta10
    /// Release collision, requestor side: awaiting A-RELEASE-RP PDU.
    case sta11
    /// Release collision, acceptor side: awaiting the A-RELEASE response primitive.
    case sta12
    /// Awaiting the transport connection to close.
    case sta13

    public var description: String { "Sta\(rawValue)" }
}

/// Events of PS3.8 Table 9-10.
public enum ULEvent: Int, CaseIterable, Sendable, CustomStringConvertible {
    case evt1 = 1  // A-ASSOCIATE request (local user)
    case evt2  // transport connect confirmation
    case evt3  // A-ASSOCIATE-AC PDU received
    case evt4  // A-ASSOCIATE-RJ PDU received
    case evt5  // transport connection indication
    case evt6  // A-ASSOCIATE-RQ PDU received
    case evt7  // A-ASSOCIATE response primitive (accept)
    case evt8  // A-ASSOCIATE response primitive (reject)
    case evt9  // P-DATA request primitive
    case evt10  // P-DATA-TF PDU received
    case evt11  // A-RELEASE request primitive
    case evt12  // A-RELEASE-RQ PDU received
    case evt13  // A-RELEASE-RP PDU received
    case evt14  // A-RELEASE response primitive
    case evt15  // A-ABORT request primitive
    case evt16  // A-ABORT PDU received
    case evt17  // transport connection closed
    case evt18  // ARTIM timer expired
    case evt19  // unrecognized or invalid PDU received

    public var description: String { "Evt\(rawValue)" }

    /// The event a received PDU raises.
    public init(received pdu: PDU) {
        switch pdu {
        case .associateAC: self = .evt3
        case .associateRJ: self = .evt4
        case .associateRQ: self = .evt6
        case .pData: self = .evt10
        case .releaseRQ: self = .evt12
        case .releaseRP: self = .evt13
        case .abort: self = .evt16
        case .unknown: self = .evt19
        }
    }
}

/// Actions of PS3.8 Table 9-10 (AE: establishment, DT: data transfer, AR: release, AA: abort).
public enum ULAction: String, CaseIterable, Sendable {
    case ae1 = "AE-1", ae2 = "AE-2", ae3 = "AE-3", ae4 = "AE-4", ae5 = "AE-5", ae6 = "AE-6", ae7 = "AE-7", ae8 = "AE-8"
    case dt1 = "DT-1", dt2 = "DT-2"
    case ar1 = "AR-1", ar2 = "AR-2", ar3 = "AR-3", ar4 = "AR-4", ar5 = "AR-5", ar6 = "AR-6", ar7 = "AR-7", ar8 = "AR-8"
    case ar9 = "AR-9", ar10 = "AR-10"
    case aa1 = "AA-1", aa2 = "AA-2", aa3 = "AA-3", aa4 = "AA-4", aa5 = "AA-5", aa6 = "AA-6", aa7 = "AA-7", aa8 = "AA-8"
}

/// What the executor does for an action.
public enum ULEffect: Equatable, Sendable {
    case openTransport
    case closeTransport
    case sendAssociateRQ
    case sendAssociateAC
    case sendAssociateRJ
    case sendPData
    case sendReleaseRQ
    case sendReleaseRP
    /// A-ABORT with source 0 (service user) or 2 (service provider).
    case sendAbort(source: UInt8)
    case startARTIM
    case stopARTIM
    /// Pass something up to the local user.
    case indicate(ULIndication)
}

/// Primitives issued to the local user.
public enum ULIndication: Equatable, Sendable {
    case transportConnected
    case associateRequest
    case associateAccepted
    case associateRejected
    case pData
    case releaseRequest
    case releaseConfirmed
    /// A-ABORT from the peer's service user.
    case abort
    /// A-P-ABORT: the provider aborted (protocol error, connection lost, peer provider abort).
    case providerAbort
}

public struct ULTransition: Equatable, Sendable {
    public var from: ULState
    public var event: ULEvent
    /// nil when the table has no cell for this state and event.
    public var action: ULAction?
    public var to: ULState
    public var effects: [ULEffect]
}

public struct ULStateMachine: Sendable {
    public private(set) var state: ULState = .sta1
    /// Set by Evt1 (we request) or Evt5 (the peer connects to us).
    public private(set) var isRequestor = false

    public init() {}

    /// The action of a cell of Table 9-10; nil for empty cells.
    public static func action(state: ULState, event: ULEvent) -> ULAction? {
        let s = state.rawValue
        let established = 6...12  // Sta6-Sta12, where most protocol errors abort
        switch event {
        case .evt1: return s == 1 ? .ae1 : nil
        case .evt2: return s == 4 ? .ae2 : nil
        case .evt3: return receivedPDU(s, sta5: .ae3)
        case .evt4: return receivedPDU(s, sta5: .ae4)
        case .evt5: return s == 1 ? .ae5 : nil
        case .evt6:
            switch s {
            case 2: return .ae6
            case 3, 5, established: return .aa8
            case 13: return .aa7
            default: return nil
            }
        case .evt7: return s == 3 ? .ae7 : nil
        case .evt8: return s == 3 ? .ae8 : nil
        case .evt9:
            switch s {
            case 6: return .dt1
            case 8: return .ar7
            default: return nil
            }
        case .evt10: return receivedPDU(s, sta6: .dt2, sta7: .ar6)
        case .evt11: return s == 6 ? .ar1 : nil
        case .evt12: return receivedPDU(s, sta6: .ar2, sta7: .ar8)
        case .evt13: return receivedPDU(s, sta7: .ar3, sta10: .ar10, sta11: .ar3)
        case .evt14:
            switch s {
            case 8, 12: return .ar4
            case 9: return .ar9
            default: return nil
            }
        case .evt15:
            switch s {
            case 3, 5, established: return .aa1
            case 4: return .aa2
            default: return nil
            }
        case .evt16:
            switch s {
            case 2, 13: return .aa2
            case 3, 5, established: return .aa3
            default: return nil
            }
        case .evt17:
            switch s {
            case 2: return .aa5
            case 3, 4, 5, established: return .aa4
            case 13: return .ar5
            default: return nil
            }
        case .evt18:
            return s == 2 || s == 13 ? .aa2 : nil
        case .evt19:
            switch s {
            case 2: return .aa1
            case 3, 5, established: return .aa8
            case 13: return .aa7
            default: return nil
            }
        }
    }

    /// The common pattern of a PDU arriving: AA-1 in Sta2, AA-6 in Sta13, AA-8 in the
    /// states where the PDU is unexpected, the given action where it is expected.
    private static func receivedPDU(_ s: Int, sta5: ULAction? = nil, sta6: ULAction? = nil, sta7: ULAction? = nil,
                                    sta10: ULAction? = nil, sta11: ULAction? = nil) -> ULAction? {
        switch s {
        case 2: return .aa1
        case 13: return .aa6
        case 5: return sta5 ?? .aa8
        case 6: return sta6 ?? .aa8
        case 7: return sta7 ?? .aa8
        case 10: return sta10 ?? .aa8
        case 11: return sta11 ?? .aa8
        case 3, 8, 9, 12: return .aa8
        default: return nil
        }
    }

    /// Runs one event.
    /// - Parameters:
    ///   - associateRQAcceptable: for Evt6 (AE-6): whether the upper layer accepts the
    ///     A-ASSOCIATE-RQ at all (protocol version); if not, it is rejected at once.
    ///   - abortSource: for Evt16 (AA-3): the source field of the received A-ABORT.
    public mutating func handle(_ event: ULEvent, associateRQAcceptable: Bool = true, abortSource: UInt8 = 0) -> ULTransition {
        let from = state
        guard let action = ULStateMachine.action(state: state, event: event) else {
            return ULTransition(from: from, event: event, action: nil, to: from, effects: [])
        }
        let effects: [ULEffect]
        switch action {
        case .ae1:
            isRequestor = true
            state = .sta4; effects = [.openTransport]
        case .ae2: state = .sta5; effects = [.sendAssociateRQ]
        case .ae3: state = .sta6; effects = [.indicate(.associateAccepted)]
        case .ae4: state = .sta1; effects = [.indicate(.associateRejected), .closeTransport]
        case .ae5:
            isRequestor = false
            state = .sta2; effects = [.indicate(.transportConnected), .startARTIM]
        case .ae6:
            if associateRQAcceptable {
                state = .sta3; effects = [.stopARTIM, .indicate(.associateRequest)]
            } else {
                state = .sta13; effects = [.stopARTIM, .sendAssociateRJ, .startARTIM]
            }
        case .ae7: state = .sta6; effects = [.sendAssociateAC]
        case .ae8: state = .sta13; effects = [.sendAssociateRJ, .startARTIM]
        case .dt1: state = .sta6; effects = [.sendPData]
        case .dt2: state = .sta6; effects = [.indicate(.pData)]
        case .ar1: state = .sta7; effects = [.sendReleaseRQ]
        case .ar2: state = .sta8; effects = [.indicate(.releaseRequest)]
        case .ar3: state = .sta1; effects = [.indicate(.releaseConfirmed), .closeTransport]
        case .ar4: state = .sta13; effects = [.sendReleaseRP, .startARTIM]
        case .ar5: state = .sta1; effects = [.stopARTIM]
        case .ar6: state = .sta7; effects = [.indicate(.pData)]
        case .ar7: state = .sta8; effects = [.sendPData]
        case .ar8: state = isRequestor ? .sta9 : .sta10; effects = [.indicate(.releaseRequest)]
        case .ar9: state = .sta11; effects = [.sendReleaseRP]
        case .ar10: state = .sta12; effects = [.indicate(.releaseConfirmed)]
        case .aa1: state = .sta13; effects = [.sendAbort(source: 0), .startARTIM]
        case .aa2: state = .sta1; effects = [.stopARTIM, .closeTransport]
        case .aa3:
            state = .sta1
            effects = [.indicate(abortSource == 0 ? .abort : .providerAbort), .closeTransport]
        case .aa4: state = .sta1; effects = [.indicate(.providerAbort)]
        case .aa5: state = .sta1; effects = [.stopARTIM]
        case .aa6: state = .sta13; effects = []
        case .aa7: state = .sta13; effects = [.sendAbort(source: 2)]
        case .aa8: state = .sta13; effects = [.sendAbort(source: 2), .indicate(.providerAbort), .startARTIM]
        }
        return ULTransition(from: from, event: event, action: action, to: state, effects: effects)
    }

    /// A machine in a given state, for tests and for resuming.
    public init(state: ULState, isRequestor: Bool) {
        self.state = state
        self.isRequestor = isRequestor
    }
}
