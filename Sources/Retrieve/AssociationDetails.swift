import DICOM
import DICOMNetwork

/// What was negotiated when an association we requested was accepted, for a front end's
/// trace view: what we proposed, what the peer answered to each context, the PDU sizes both
/// ways, and who the peer says it is (the user information of its A-ASSOCIATE-AC).
public struct AssociationDetails: Sendable, Equatable {
    /// The peer's answer to one of our presentation contexts.
    public struct ContextAnswer: Sendable, Equatable {
        public var id: UInt8
        /// The abstract syntax we proposed under this ID; nil when the peer answered an ID
        /// we never proposed.
        public var abstractSyntax: String?
        public var result: AcceptedPresentationContext.Result
        /// The transfer syntax the peer named (meaningful only on acceptance).
        public var transferSyntax: String?
        /// Accepted with a transfer syntax we offered: the context can be used.
        public var isUsable: Bool

        public init(id: UInt8, abstractSyntax: String?, result: AcceptedPresentationContext.Result,
                    transferSyntax: String?, isUsable: Bool) {
            self.id = id
            self.abstractSyntax = abstractSyntax
            self.result = result
            self.transferSyntax = transferSyntax
            self.isUsable = isUsable
        }
    }

    public var callingAETitle: String
    public var calledAETitle: String
    /// The application context name in the peer's answer.
    public var applicationContext: String
    public var proposed: [ProposedPresentationContext]
    /// The peer's answers, in the order it sent them.
    public var answers: [ContextAnswer]
    /// The largest P-DATA-TF PDU we said we accept.
    public var ourMaximumPDULength: UInt32
    /// The largest P-DATA-TF PDU the peer said it accepts: 0 means no limit, nil that the
    /// peer did not say.
    public var peerMaximumPDULength: UInt32?
    /// Data bytes per PDV we send, derived from the peer's limit.
    public var maximumSendPDV: Int
    public var ourImplementationClassUID: String
    public var ourImplementationVersionName: String
    public var peerImplementationClassUID: String?
    public var peerImplementationVersionName: String?
    /// The asynchronous operations window the peer answered with, if any.
    public var peerAsynchronousOperationsWindow: UserInformation.OperationsWindow?
    /// SCP/SCU role selections the peer answered with.
    public var peerRoleSelections: [UserInformation.RoleSelection]

    public init(callingAETitle: String, calledAETitle: String, applicationContext: String,
                proposed: [ProposedPresentationContext], answers: [ContextAnswer],
                ourMaximumPDULength: UInt32, peerMaximumPDULength: UInt32?, maximumSendPDV: Int,
                ourImplementationClassUID: String = Implementation.classUID,
                ourImplementationVersionName: String = Implementation.versionName,
                peerImplementationClassUID: String?, peerImplementationVersionName: String?,
                peerAsynchronousOperationsWindow: UserInformation.OperationsWindow? = nil,
                peerRoleSelections: [UserInformation.RoleSelection] = []) {
        self.callingAETitle = callingAETitle
        self.calledAETitle = calledAETitle
        self.applicationContext = applicationContext
        self.proposed = proposed
        self.answers = answers
        self.ourMaximumPDULength = ourMaximumPDULength
        self.peerMaximumPDULength = peerMaximumPDULength
        self.maximumSendPDV = maximumSendPDV
        self.ourImplementationClassUID = ourImplementationClassUID
        self.ourImplementationVersionName = ourImplementationVersionName
        self.peerImplementationClassUID = peerImplementationClassUID
        self.peerImplementationVersionName = peerImplementationVersionName
        self.peerAsynchronousOperationsWindow = peerAsynchronousOperationsWindow
        self.peerRoleSelections = peerRoleSelections
    }

    /// The details of an association the requestor holds, given what we proposed on it and
    /// the PDU limit we announced (the requestor keeps neither).
    public init(_ association: AssociationRequestor, proposed: [ProposedPresentationContext], ourMaximumPDULength: UInt32) {
        let ac = association.accepted
        let user = ac.header.userInformation
        let answers = ac.presentationContexts.map { answer in
            let mine = proposed.first { $0.id == answer.id }
            let usable = answer.result == .acceptance && answer.transferSyntax.map { mine?.transferSyntaxes.contains($0) ?? false } ?? false
            return ContextAnswer(id: answer.id, abstractSyntax: mine?.abstractSyntax, result: answer.result,
                                 transferSyntax: answer.transferSyntax, isUsable: usable)
        }
        self.init(callingAETitle: ac.header.callingAETitle, calledAETitle: ac.header.calledAETitle,
                  applicationContext: ac.header.applicationContext, proposed: proposed, answers: answers,
                  ourMaximumPDULength: ourMaximumPDULength, peerMaximumPDULength: user.maximumLength,
                  maximumSendPDV: association.maximumPDVDataLength,
                  peerImplementationClassUID: user.implementationClassUID,
                  peerImplementationVersionName: user.implementationVersionName,
                  peerAsynchronousOperationsWindow: user.asynchronousOperationsWindow,
                  peerRoleSelections: user.roleSelections)
    }

    /// The details as text lines, one fact a line, for logs and trace views.
    public var lines: [String] {
        func name(_ uid: String) -> String {
            UIDTable.entry(for: uid).map { "\($0.keyword) (\(uid))" } ?? uid
        }
        var lines = [
            "calling AE \(callingAETitle), called AE \(calledAETitle), application context \(applicationContext)",
            "max PDU: we accept \(ourMaximumPDULength), peer accepts \(peerMaximumPDULength.map { $0 == 0 ? "unlimited" : String($0) } ?? "(not stated)"); max send PDV \(maximumSendPDV)",
            "peer implementation: \(peerImplementationClassUID ?? "(no class UID)") \(peerImplementationVersionName ?? "(no version name)")",
        ]
        if let window = peerAsynchronousOperationsWindow {
            lines.append("peer operations window: invoked \(window.invoked), performed \(window.performed)")
        }
        for role in peerRoleSelections {
            lines.append("peer role selection: \(name(role.sopClassUID)) SCU \(role.scuRole ? 1 : 0) SCP \(role.scpRole ? 1 : 0)")
        }
        for context in proposed {
            lines.append("proposed context \(context.id): \(name(context.abstractSyntax)); \(context.transferSyntaxes.map(name).joined(separator: ", "))")
        }
        for answer in answers {
            var text = "context \(answer.id) \(answer.abstractSyntax.map(name) ?? "(not proposed)"): \(answer.result)"
            if answer.result == .acceptance { text += ", \(answer.transferSyntax.map(name) ?? "(no transfer syntax)")" }
            if answer.result == .acceptance && !answer.isUsable { text += " (not usable: not a syntax we proposed)" }
            lines.append(text)
        }
        return lines
    }
}
