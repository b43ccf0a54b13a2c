import DICOM
import DICOMNetwork
import Logging
import NIOCore
import NIOPosix

/// Runs one C-FIND: an association to the configuration's peer proposing the FIND SOP class
/// of its model, one request, every response reported as it arrives, then release (or abort
/// when the find did not end properly). Used by the console for its query view.
public enum FindEngine {
    /// - Parameters:
    ///   - configuration: the peer, AE titles, model, proposed transfer syntaxes, PDU size and
    ///     timeouts are used; the storage, move and identifier settings are not. With
    ///     `abortAtEnd` the association is aborted instead of released.
    ///   - identifier: the query keys, sent as they are (Query/Retrieve Level included).
    ///   - control: `cancel()` sends C-CANCEL for the find (once; a cancel asked for before the
    ///     request is sent goes out right after it, as for moves) and the responses are read on until the
    ///     final one; `abort()` aborts the association at once.
    public static func run(_ configuration: RetrieveConfiguration, identifier: DataSet, control: RetrieveControl? = nil,
                           logger: Logger = Logger(label: "movescu.find"),
                           emit: @escaping @Sendable (FindEvent) -> Void) async -> FindSummary {
        let started = ContinuousClock.now
        var summary = FindSummary()
        let contexts = [
            ProposedPresentationContext(id: 1, abstractSyntax: configuration.model.findSOPClass,
                                        transferSyntaxes: configuration.proposal.transferSyntaxes),
        ]
        emit(.requestingAssociation(host: configuration.peerHost, port: configuration.peerPort))
        do {
            try await AssociationRequestor.withAssociation(
                host: configuration.peerHost, port: configuration.peerPort, contexts: contexts,
                configuration: configuration.requestorConfiguration, group: MultiThreadedEventLoopGroup.singleton,
                logger: logger) { association in
                emit(.associationAccepted(maximumSendPDV: association.maximumPDVDataLength, contexts: association.agreed))
                emit(.associationNegotiated(AssociationDetails(association, proposed: contexts,
                                                               ourMaximumPDULength: configuration.maximumPDULength)))
                guard let context = association.context(for: configuration.model.findSOPClass) else {
                    summary.outcome = .noPresentationContext
                    emit(.error("the peer accepted no presentation context for \(configuration.model.findSOPClass)"))
                    association.abort()
                    return
                }
                guard let syntax = TransferSyntax(uid: context.transferSyntax) else {
                    // The peer accepted a syntax we proposed, so this cannot happen with our proposals.
                    summary.outcome = .noPresentationContext
                    emit(.error("the transfer syntax \(context.transferSyntax) accepted for C-FIND is not one this tool can encode"))
                    association.abort()
                    return
                }
                do {
                    if control?.abortRequested == true { throw AssociationFailure.aborted("aborted by the operator") }
                    try await find(identifier, syntax: syntax, context: context, association: association,
                                   configuration: configuration, control: control, summary: &summary, emit: emit)
                } catch {
                    let reason = control?.abortRequested == true ? "aborted by the operator" : "\(error)"
                    summary.outcome = .noFinalResponse(reason)
                    if control?.abortRequested == true { emit(.aborting) }
                    emit(.findFailed(reason))
                    if control?.abortRequested != true, case AssociationFailure.aborted = error { emit(.peerAborted) }
                    association.abort()
                    return
                }
                if configuration.abortAtEnd {
                    emit(.aborting)
                    association.abort()
                } else {
                    emit(.releasing)
                    do {
                        try await association.release()
                    } catch {
                        // The find has its final response; a peer that misbehaves at the
                        // end does not undo it, but it is said.
                        emit(.warning("releasing the association failed: \(error)"))
                    }
                }
            }
        } catch let failure as AssociationFailure {
            switch failure {
            case .rejected(let rj):
                summary.outcome = .associationRejected(rj)
                emit(.associationRejected(rj))
            default:
                summary.outcome = .connectFailed(failure.description)
                emit(.associationFailed(failure.description))
            }
        } catch {
            summary.outcome = .connectFailed("\(error)")
            emit(.associationFailed("\(error)"))
        }
        summary.seconds = (ContinuousClock.now - started).seconds
        emit(.finished(summary))
        return summary
    }

    /// The request and its responses, up to and including the final one (which sets the
    /// summary's outcome). Throws when the find ends without a final response.
    private static func find(_ identifier: DataSet, syntax: TransferSyntax, context: PresentationNegotiation.Agreed,
                             association: AssociationRequestor, configuration: RetrieveConfiguration,
                             control: RetrieveControl?, summary: inout FindSummary,
                             emit: @escaping @Sendable (FindEvent) -> Void) async throws {
        let messageID = association.makeMessageID()
        let bytes = try DataSetWriter(transferSyntax: syntax).encode(identifier)
        emit(.requestSent(messageID: messageID, contextID: context.id, identifier: identifier))
        var request = CFindRQ(messageID: messageID, affectedSOPClassUID: configuration.model.findSOPClass)
        request.priority = .medium
        let (watch, _) = try await CancelWatch.send(
            .findRQ(request), dataSet: bytes, control: control, association: association, messageID: messageID, contextID: context.id,
            sent: { emit(.cancelSent(messageID: messageID, contextID: context.id)) },
            failed: { emit(.warning("sending C-CANCEL failed: \($0)")) })
        defer {
            watch?.stop()
            summary.cancelSent = watch?.sent ?? false
        }

        var responses = 0
        while true {
            let (message, _, dataSet) = try await association.receive()
            guard case .findRSP(let rsp) = message else {
                throw AssociationFailure.protocolError("expected a C-FIND-RSP, got \(message.name)")
            }
            guard rsp.messageIDBeingRespondedTo == messageID else {
                throw AssociationFailure.protocolError("a C-FIND-RSP to message \(rsp.messageIDBeingRespondedTo), not \(messageID)")
            }
            responses += 1
            if rsp.status.isFinal {
                // No cancel may follow the final response: the peer would take it for a new,
                // unexpected command.
                watch?.stop()
                summary.finalStatus = rsp.status
                summary.errorComment = rsp.errorComment
                switch rsp.status.category {
                case .success: summary.outcome = .success
                case .cancel: summary.outcome = .cancelled
                case .warning: summary.outcome = .warning(rsp.status)
                default: summary.outcome = .failed(rsp.status)
                }
                emit(.finalResponse(messageID: messageID, status: rsp.status, errorComment: rsp.errorComment))
                return
            }
            guard let dataSet else {
                summary.unreadableResults += 1
                emit(.unreadableResult(response: responses, reason: "the pending response carries no identifier"))
                continue
            }
            do {
                let result = try DataSetReader.read(dataSet, transferSyntax: syntax)
                summary.results += 1
                emit(.result(number: summary.results, identifier: result, status: rsp.status))
            } catch {
                summary.unreadableResults += 1
                emit(.unreadableResult(response: responses, reason: "the identifier (\(dataSet.count) bytes, \(syntax.uid)) cannot be decoded: \(error)"))
            }
        }
    }
}
