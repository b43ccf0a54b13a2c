import DICOM
import Testing
@testable import DICOMNetwork

@Suite(.timeLimit(.minutes(10))) struct AcceptorPolicyTests {
    var configuration: AcceptorConfiguration {
        var c = AcceptorConfiguration()
        c.aeTitle = "MOVESCU"
        c.abstractSyntaxes = ["1.2.840.10008.5.1.4.1.1.2"]
        c.transferSyntaxPreference = PresentationNegotiation.Preference.uncompressed.transferSyntaxes
        return c
    }

    func request(calling: String = "ARCHIVE", called: String = "MOVESCU",
                 contexts: [ProposedPresentationContext]? = nil) -> AssociateRQ {
        var header = AssociateHeader(calledAETitle: called, callingAETitle: calling)
        header.userInformation.maximumLength = 32768
        return AssociateRQ(header: header, presentationContexts: contexts ?? [
            ProposedPresentationContext(id: 1, abstractSyntax: WellKnownUID.verification, transferSyntaxes: ["1.2.840.10008.1.2"]),
            ProposedPresentationContext(id: 3, abstractSyntax: "1.2.840.10008.5.1.4.1.1.2",
                                        transferSyntaxes: ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"]),
            ProposedPresentationContext(id: 5, abstractSyntax: "1.2.840.10008.5.1.4.1.1.4", transferSyntaxes: ["1.2.840.10008.1.2"]),
            ProposedPresentationContext(id: 7, abstractSyntax: "1.2.840.10008.5.1.4.1.1.2", transferSyntaxes: ["1.2.840.10008.1.2.4.50"]),
        ])
    }

    func rejection(_ decision: AcceptorPolicy.Decision) -> (AssociateRJ, String)? {
        if case .reject(let rj, let why) = decision { return (rj, why) }
        return nil
    }

    @Test func acceptsWithOurPreferenceAndAnswersEveryContext() throws {
        let decision = AcceptorPolicy.answer(request(), configuration: configuration, activeAssociations: 0)
        guard case .accept(let ac) = decision else { Issue.record("\(decision)"); return }
        #expect(ac.header.calledAETitle == "MOVESCU" && ac.header.callingAETitle == "ARCHIVE")
        #expect(ac.header.userInformation.maximumLength == 16384)
        #expect(ac.header.userInformation.implementationClassUID == Implementation.classUID)
        #expect(ac.presentationContexts == [
            AcceptedPresentationContext(id: 1, result: .acceptance, transferSyntax: "1.2.840.10008.1.2"),
            // Explicit little endian is preferred over implicit when both are proposed.
            AcceptedPresentationContext(id: 3, result: .acceptance, transferSyntax: "1.2.840.10008.1.2.1"),
            AcceptedPresentationContext(id: 5, result: .abstractSyntaxNotSupported, transferSyntax: "1.2.840.10008.1.2"),
            AcceptedPresentationContext(id: 7, result: .transferSyntaxesNotSupported, transferSyntax: "1.2.840.10008.1.2"),
        ])
        #expect(AcceptorPolicy.agreed(request(), ac).map(\.id) == [1, 3])
    }

    @Test func rejectsWithResultSourceAndReason() {
        var rq = request()
        rq.header.protocolVersion = 2
        let version = rejection(AcceptorPolicy.answer(rq, configuration: configuration, activeAssociations: 0))
        #expect(version?.0 == AssociateRJ(result: 1, source: 2, reason: 2))
        #expect(version?.0.reasonText == "Protocol Version Not Supported")

        rq = request()
        rq.header.applicationContext = "1.2.3"
        #expect(rejection(AcceptorPolicy.answer(rq, configuration: configuration, activeAssociations: 0))?.0 == AssociateRJ(result: 1, source: 1, reason: 2))

        let badCalling = rejection(AcceptorPolicy.answer(request(calling: "BAD\\AE"), configuration: configuration, activeAssociations: 0))
        #expect(badCalling?.0 == AssociateRJ(result: 1, source: 1, reason: 3))
        #expect(badCalling?.1.contains("backslash") == true)

        let control = rejection(AcceptorPolicy.answer(request(calling: "A\u{1b}[2J"), configuration: configuration, activeAssociations: 0))
        #expect(control?.1.contains("\u{1b}") == false, "a title from the wire never reaches a log line raw")

        // The called AE title is only checked when asked to.
        #expect(rejection(AcceptorPolicy.answer(request(called: "OTHER"), configuration: configuration, activeAssociations: 0)) == nil)
        var strict = configuration
        strict.requireCalledAETitle = true
        let called = rejection(AcceptorPolicy.answer(request(called: "OTHER"), configuration: strict, activeAssociations: 0))
        #expect(called?.0 == AssociateRJ(result: 1, source: 1, reason: 7))
        #expect(called?.0.reasonText == "Called AE Title Not Recognized")

        var limited = configuration
        limited.acceptedCallingAETitles = ["PACS"]
        let calling = rejection(AcceptorPolicy.answer(request(calling: "ARCHIVE"), configuration: limited, activeAssociations: 0))
        #expect(calling?.0.reasonText == "Calling AE Title Not Recognized")
        #expect(rejection(AcceptorPolicy.answer(request(calling: "PACS"), configuration: limited, activeAssociations: 0)) == nil)

        let busy = rejection(AcceptorPolicy.answer(request(), configuration: configuration, activeAssociations: 64))
        #expect(busy?.0 == AssociateRJ(result: 2, source: 3, reason: 2))
        #expect(busy?.0.resultText == "Rejected Transient")

        let nothing = rejection(AcceptorPolicy.answer(request(contexts: [
            ProposedPresentationContext(id: 1, abstractSyntax: "1.2.840.10008.5.1.4.1.1.4", transferSyntaxes: ["1.2.840.10008.1.2"]),
        ]), configuration: configuration, activeAssociations: 0))
        #expect(nothing?.0 == AssociateRJ(result: 1, source: 1, reason: 1))
        #expect(nothing?.1.contains("presentation context") == true)
    }

    @Test func aeTitleRules() {
        #expect(AETitle.problem(with: "MOVESCU") == nil)
        #expect(AETitle.problem(with: "  PADDED  ") == nil)
        #expect(AETitle.problem(with: "SIXTEEN_CHARS_AE") == nil)
        #expect(AETitle.problem(with: "SEVENTEEN_CHARS_A")?.contains("17 characters") == true)
        #expect(AETitle.problem(with: "") != nil)
        #expect(AETitle.problem(with: "    ") != nil)
        #expect(AETitle.problem(with: "A\\B")?.contains("backslash") == true)
        #expect(AETitle.problem(with: "TAB\tAE")?.contains("U+9") == true)
        #expect(AETitle.problem(with: "ÄRZTE")?.contains("U+C4") == true)
        #expect(AETitle.printable("A\u{7}B\u{1b}") == "A?B?")
    }
}
