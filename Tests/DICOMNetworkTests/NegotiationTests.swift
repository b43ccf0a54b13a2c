import DICOM
import Testing
@testable import DICOMNetwork

@Suite(.timeLimit(.minutes(10))) struct NegotiationTests {
    let le = "1.2.840.10008.1.2.1", be = "1.2.840.10008.1.2.2", il = "1.2.840.10008.1.2"

    @Test func proposals() {
        #expect(PresentationNegotiation.Proposal.uncompressed.transferSyntaxes == [le, be, il])
        #expect(PresentationNegotiation.Proposal.bigEndianFirst.transferSyntaxes == [be, le, il])
        #expect(PresentationNegotiation.Proposal.deflated.transferSyntaxes == ["1.2.840.10008.1.2.1.99", le, be, il])
        #expect(PresentationNegotiation.Proposal.implicitOnly.transferSyntaxes == [il])
        let contexts = PresentationNegotiation.propose(["a", "b", "c"], transferSyntaxes: [il])
        #expect(contexts.map(\.id) == [1, 3, 5])
    }

    @Test func acceptorTakesItsFirstPreferenceThePeerOffers() {
        let proposed = [
            ProposedPresentationContext(id: 1, abstractSyntax: "1.2.840.10008.5.1.4.1.1.2", transferSyntaxes: [il, be, le]),
            ProposedPresentationContext(id: 3, abstractSyntax: "1.2.840.10008.5.1.4.1.1.4", transferSyntaxes: [il]),
            ProposedPresentationContext(id: 5, abstractSyntax: "1.2.3.4", transferSyntaxes: [le]),
            ProposedPresentationContext(id: 7, abstractSyntax: "1.2.840.10008.5.1.4.1.1.7", transferSyntaxes: ["1.2.840.10008.1.2.4.50"]),
        ]
        let storage = Set(UIDTable.storageSOPClasses.map(\.uid))
        let answer = PresentationNegotiation.accept(proposed, abstractSyntaxes: storage,
                                                    preference: PresentationNegotiation.Preference.bigEndian.transferSyntaxes)
        #expect(answer.map(\.result) == [.acceptance, .acceptance, .abstractSyntaxNotSupported, .transferSyntaxesNotSupported])
        #expect(answer[0].transferSyntax == be && answer[1].transferSyntax == il)
        // +xy takes the JPEG context; +xa takes it too.
        let jpeg = PresentationNegotiation.accept([proposed[3]], abstractSyntaxes: storage,
                                                  preference: PresentationNegotiation.Preference.jpeg8.transferSyntaxes)
        #expect(jpeg[0].result == .acceptance)
        #expect(PresentationNegotiation.accept([proposed[3]], abstractSyntaxes: storage,
                                               preference: PresentationNegotiation.Preference.acceptAll.transferSyntaxes)[0].result == .acceptance)
        // +xi takes implicit only.
        #expect(PresentationNegotiation.accept([proposed[0]], abstractSyntaxes: storage,
                                               preference: PresentationNegotiation.Preference.implicitOnly.transferSyntaxes)[0].transferSyntax == il)
        // Video preferences accept only their own syntax.
        #expect(PresentationNegotiation.Preference.mpeg2.transferSyntaxes == ["1.2.840.10008.1.2.4.100"])
    }

    @Test func requestorMatchesAnswersToProposals() {
        let proposed = PresentationNegotiation.propose(["x", "y"], transferSyntaxes: [le, il])
        let accepted = [
            AcceptedPresentationContext(id: 1, result: .acceptance, transferSyntax: il),
            AcceptedPresentationContext(id: 3, result: .abstractSyntaxNotSupported, transferSyntax: il),
            AcceptedPresentationContext(id: 9, result: .acceptance, transferSyntax: il),  // never proposed
        ]
        #expect(PresentationNegotiation.agreed(proposed: proposed, accepted: accepted)
            == [.init(id: 1, abstractSyntax: "x", transferSyntax: il)])
        // Accepted with a syntax we never offered: not usable.
        let odd = [AcceptedPresentationContext(id: 1, result: .acceptance, transferSyntax: be)]
        #expect(PresentationNegotiation.agreed(proposed: proposed, accepted: odd).isEmpty)
    }
}
