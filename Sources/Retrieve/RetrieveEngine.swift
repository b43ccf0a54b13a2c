import DICOM
import DICOMNetwork
import Foundation
import Logging
import NIOCore
import NIOPosix

/// Runs a retrieve: our storage SCP (when a port is given), one association to the peer,
/// one C-MOVE per identifier (the set repeated), then release or abort. Everything it does
/// is reported as `RetrieveEvent`s; the summary says how it ended.
public enum RetrieveEngine {
    /// - Parameter control: lets a front end cancel the move in flight or abort, at any time.
    public static func run(_ configuration: RetrieveConfiguration, logger: Logger = Logger(label: "movescu"),
                           control: RetrieveControl? = nil,
                           emit: @escaping @Sendable (RetrieveEvent) -> Void) async -> RetrieveSummary {
        let started = ContinuousClock.now
        var summary = RetrieveSummary()
        let group = MultiThreadedEventLoopGroup.singleton
        let pool = NIOThreadPool.singleton
        let scp = StorageSCP(options: configuration.storage, pool: pool, emit: emit)

        // The storage SCP first: a move to ourselves needs it listening.
        var acceptor: AssociationAcceptor?
        if let port = configuration.listenPort {
            if !configuration.storage.ignore {
                // Part files of runs that were killed while writing (their PID is gone).
                let directory = configuration.storage.outputDirectory
                let removed = (try? await pool.runIfActive { PartFile.removeAbandoned(in: directory) }) ?? []
                if !removed.isEmpty {
                    emit(.warning("removed \(removed.count) unfinished file(s) from \(directory), left there by a run that was killed"))
                }
            }
            do {
                acceptor = try await startStorageSCP(scp, port: port, configuration: configuration, logger: logger, emit: emit)
            } catch {
                summary.outcome = .networkInitFailed("cannot listen on port \(port): \(error)")
                emit(.error("cannot listen on port \(port): \(error)"))
                emit(.finished(summary))
                return summary
            }
        }

        let contexts = [
            ProposedPresentationContext(id: 1, abstractSyntax: configuration.model.findSOPClass, transferSyntaxes: configuration.proposal.transferSyntaxes),
            ProposedPresentationContext(id: 3, abstractSyntax: configuration.model.moveSOPClass, transferSyntaxes: configuration.proposal.transferSyntaxes),
        ]
        emit(.requestingAssociation(host: configuration.peerHost, port: configuration.peerPort))
        do {
            try await AssociationRequestor.withAssociation(
                host: configuration.peerHost, port: configuration.peerPort, contexts: contexts,
                configuration: configuration.requestorConfiguration, group: group, logger: logger) { association in
                emit(.associationAccepted(maximumSendPDV: association.maximumPDVDataLength, contexts: association.agreed))
                emit(.associationNegotiated(AssociationDetails(association, proposed: contexts,
                                                               ourMaximumPDULength: configuration.maximumPDULength)))
                guard let moveContext = association.context(for: configuration.model.moveSOPClass),
                      let syntax = TransferSyntax(uid: moveContext.transferSyntax) else {
                    summary.outcome = .noPresentationContext
                    emit(.error("the peer accepted no presentation context for \(configuration.model.moveSOPClass)"))
                    association.abort()
                    return
                }
                var failed: DIMSEStatus?
                var warned = false
                moves: for round in 1...max(1, configuration.repeatCount) {
                    for (index, identifier) in configuration.identifiers.enumerated() {
                        summary.moves += 1
                        let objectsBefore = scp.stored.objects + scp.stored.failed
                        do {
                            if control?.abortRequested == true { throw AssociationFailure.aborted("aborted by the operator") }
                            let final = try await move(identifier, syntax: syntax, context: moveContext, query: index + 1, round: round,
                                                       association: association, configuration: configuration, control: control, emit: emit)
                            summary.counts = final.counts
                            switch final.status.category {
                            case .success, .cancel: break
                            case .warning: warned = true
                            default: failed = failed ?? final.status
                            }
                            // Objects still on their way are awaited when they come to us: the
                            // destination is our own AE title, or some arrived during this move.
                            let arrived = scp.stored.objects + scp.stored.failed - objectsBefore
                            if configuration.listenPort != nil,
                               configuration.moveDestination == configuration.callingAETitle || arrived > 0 {
                                // Failed sub-operations may never reach us; completed and warning ones do.
                                let expected = Int(final.counts.completed ?? 0) + Int(final.counts.warning ?? 0)
                                let received = await awaitLateObjects(expected: expected, since: objectsBefore, scp: scp, acceptor: acceptor,
                                                                     seconds: configuration.lateObjectWait)
                                if received < expected {
                                    // The archive says these were stored, but not here: the retrieve is incomplete.
                                    warned = true
                                    emit(.warning("the archive reports \(expected) object(s) sent, but only \(received) arrived here within \(Int(configuration.lateObjectWait)) s"))
                                }
                            }
                        } catch {
                            if control?.abortRequested == true {
                                summary.outcome = .noFinalResponse("aborted by the operator")
                                emit(.aborting)
                                emit(.moveFailed("aborted by the operator"))
                                break moves
                            }
                            summary.outcome = .noFinalResponse("\(error)")
                            emit(.moveFailed("\(error)"))
                            if case AssociationFailure.aborted = error { emit(.peerAborted) }
                            break moves
                        }
                    }
                }
                if case .noFinalResponse = summary.outcome {} else {
                    summary.outcome = failed.map { .failed($0) } ?? (warned ? .warning : .success)
                }
                if configuration.abortAtEnd {
                    emit(.aborting)
                    association.abort()
                } else if case .noFinalResponse = summary.outcome {
                    association.abort()
                } else {
                    emit(.releasing)
                    do {
                        try await association.release()
                    } catch {
                        // The retrieve itself is complete; a peer that misbehaves at the end
                        // does not make it a failure, but it is said.
                        emit(.warning("releasing the association failed: \(error)"))
                    }
                }
            }
        } catch let failure as AssociationFailure {
            switch failure {
            case .rejected(let rj):
                summary.outcome = .associationRejected
                emit(.associationRejected(rj))
            default:
                summary.outcome = .connectFailed
                emit(.associationFailed(failure.description))
            }
        } catch {
            summary.outcome = .connectFailed
            emit(.associationFailed("\(error)"))
        }
        if let acceptor { await acceptor.stop(abortOpen: true) }
        await scp.idle()
        let stored = scp.stored
        summary.objects = stored.objects
        summary.bytes = stored.bytes
        summary.failedObjects = stored.failed
        if let code = stored.fault {
            let cause = DICOMError.systemMessage(code)
            summary.outputFault = cause
            emit(.error("cannot write to output directory \(configuration.storage.outputDirectory): \(cause); \(stored.faulted) object(s) not stored"))
        }
        summary.seconds = (ContinuousClock.now - started).seconds
        emit(.finished(summary))
        return summary
    }

    /// Starts the storage SCP's listener: every storage SOP class of the standard and
    /// Verification (C-ECHO on a sub-association, as DCMTK's movescu answers it), with the
    /// transfer syntaxes the +x options prefer.
    static func startStorageSCP(_ scp: StorageSCP, port: Int, configuration: RetrieveConfiguration, logger: Logger,
                                emit: @escaping @Sendable (RetrieveEvent) -> Void) async throws -> AssociationAcceptor {
        var acceptorConfiguration = AcceptorConfiguration()
        acceptorConfiguration.aeTitle = configuration.moveDestination
        acceptorConfiguration.maximumPDULength = configuration.maximumPDULength
        acceptorConfiguration.acseTimeout = configuration.acseTimeout
        acceptorConfiguration.dimseTimeout = configuration.dimseTimeout
        acceptorConfiguration.abstractSyntaxes = Set(UIDTable.storageSOPClasses.map(\.uid) + [WellKnownUID.verification])
        acceptorConfiguration.transferSyntaxPreference = configuration.preference.transferSyntaxes
        // Served on each association's event loop, called for each command and fragment; the
        // files are written there too until the output folder has been slow (see StorageSCP).
        let acceptor = try await AssociationAcceptor.start(
            host: configuration.listenHost, port: port, configuration: acceptorConfiguration, group: MultiThreadedEventLoopGroup.singleton,
            logger: logger, observer: { event in report(event, emit: emit) }, serviceOnEventLoop: { scp.service(for: $0) })
        emit(.listening(port: acceptor.port))
        return acceptor
    }

    /// One C-MOVE: the request, the responses, a C-CANCEL when asked; the final response.
    private static func move(_ identifier: DataSet, syntax: TransferSyntax, context: PresentationNegotiation.Agreed,
                             query: Int, round: Int, association: AssociationRequestor,
                             configuration: RetrieveConfiguration, control: RetrieveControl?,
                             emit: @escaping @Sendable (RetrieveEvent) -> Void) async throws -> CMoveRSP {
        let messageID = association.makeMessageID()
        let request = CMoveRQ(messageID: messageID, affectedSOPClassUID: configuration.model.moveSOPClass,
                              moveDestination: configuration.moveDestination)
        let bytes = try DataSetWriter(transferSyntax: syntax).encode(identifier)
        emit(.moveRequestSent(messageID: messageID, contextID: context.id, identifier: identifier, query: query, round: round))
        let (watch, early) = try await CancelWatch.send(
            .moveRQ(request), dataSet: bytes, control: control, association: association, messageID: messageID, contextID: context.id,
            sent: { emit(.cancelSent(messageID: messageID, contextID: context.id)) },
            failed: { emit(.warning("sending C-CANCEL failed: \($0)")) })
        defer { watch?.stop() }
        var responses = 0
        var cancelled = early
        while true {
            let (message, _, dataSet) = try await association.receive()
            guard case .moveRSP(let rsp) = message else {
                throw AssociationFailure.protocolError("expected a C-MOVE-RSP, got \(message.name)")
            }
            guard rsp.messageIDBeingRespondedTo == messageID else {
                throw AssociationFailure.protocolError("a C-MOVE-RSP to message \(rsp.messageIDBeingRespondedTo), not \(messageID)")
            }
            responses += 1
            emit(.moveResponse(number: responses, messageID: messageID, status: rsp.status, counts: rsp.counts,
                               isFinal: rsp.status.isFinal, errorComment: rsp.errorComment))
            // A data set with a response is read for the failed instances it may name; one
            // that cannot be read is said, not fatal: the counters are in the command.
            if let dataSet {
                do {
                    let identifier = try DataSetReader.read(dataSet, transferSyntax: syntax)
                    if let failed = identifier.strings(Tag(0x0008, 0x0058))?.filter({ !$0.isEmpty }), !failed.isEmpty {
                        emit(.failedInstances(messageID: messageID, sopInstanceUIDs: failed))
                    }
                } catch {
                    emit(.warning("the data set of C-MOVE response \(responses) cannot be read: \(error)"))
                }
            }
            if rsp.status.isFinal {
                // No cancel may follow the final response.
                watch?.stop()
                return rsp
            }
            if let limit = configuration.cancelAfter, responses >= limit, !cancelled {
                cancelled = true
                emit(.cancelSent(messageID: messageID, contextID: context.id))
                try await association.send(.cancelRQ(CCancelRQ(messageIDBeingRespondedTo: messageID)), contextID: context.id)
            }
        }
    }

    /// Some archives send the final response before all their objects have arrived: wait,
    /// within a bound, until as many objects as the counters announce have come in and no
    /// sub-association is open.
    private static func awaitLateObjects(expected: Int, since: Int, scp: StorageSCP, acceptor: AssociationAcceptor?, seconds: Double) async -> Int {
        func arrived() -> Int { scp.stored.objects + scp.stored.failed - since }
        guard let acceptor else { return arrived() }
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if arrived() >= expected && acceptor.activeConnections == 0 { return arrived() }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return arrived()
    }

    private static func report(_ event: AcceptorEvent, emit: @Sendable (RetrieveEvent) -> Void) {
        switch event {
        case .requested(let id, let rq):
            emit(.subAssociationReceived(id: id, callingAETitle: rq.header.callingAETitle))
        case .accepted(let id, _, _, let maximumSendPDV):
            emit(.subAssociationAccepted(id: id, maximumSendPDV: maximumSendPDV))
        case .rejected(let id, _, let reason):
            emit(.subAssociationRejected(id: id, reason: reason))
        case .released(let id):
            emit(.subAssociationReleased(id: id))
        case .aborted(let id, let reason):
            emit(.subAssociationAborted(id: id, reason: reason))
        case .connected, .closed:
            break
        }
    }
}

extension RetrieveConfiguration {
    /// The settings of the association to the peer: AE titles, PDU limit, timeouts.
    var requestorConfiguration: RequestorConfiguration {
        var requestor = RequestorConfiguration()
        requestor.callingAETitle = callingAETitle
        requestor.calledAETitle = calledAETitle
        requestor.maximumPDULength = maximumPDULength
        requestor.connectTimeout = connectTimeout.map { .nanoseconds(Int64($0 * 1e9)) }
        requestor.acseTimeout = .nanoseconds(Int64(acseTimeout * 1e9))
        requestor.dimseTimeout = dimseTimeout.map { .nanoseconds(Int64($0 * 1e9)) }
        return requestor
    }
}
