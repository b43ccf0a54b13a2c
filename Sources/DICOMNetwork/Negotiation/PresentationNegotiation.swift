import DICOM

/// Presentation-context negotiation (PS3.8 section 7.1.1.13, PS3.7 Annex D) as pure functions.
public enum PresentationNegotiation {
    static let implicitLE = TransferSyntax.implicitVRLittleEndian.uid
    static let explicitLE = TransferSyntax.explicitVRLittleEndian.uid
    static let explicitBE = TransferSyntax.explicitVRBigEndian.uid
    static let deflatedLE = TransferSyntax.deflatedExplicitVRLittleEndian.uid

    /// What a requestor proposes for each presentation context: movescu's `-x` options.
    public enum Proposal: String, CaseIterable, Sendable {
        /// `-x=` (default): all uncompressed, explicit VR in the local byte order first.
        case uncompressed = "-x="
        /// `-xe`
        case littleEndianFirst = "-xe"
        /// `-xb`
        case bigEndianFirst = "-xb"
        /// `-xd`: deflated first, then all uncompressed.
        case deflated = "-xd"
        /// `-xi`: implicit VR little endian only.
        case implicitOnly = "-xi"

        public var transferSyntaxes: [String] {
            switch self {
            // This tool only runs on little endian hosts, where "local" is little endian.
            case .uncompressed, .littleEndianFirst: return [explicitLE, explicitBE, implicitLE]
            case .bigEndianFirst: return [explicitBE, explicitLE, implicitLE]
            case .deflated: return [PresentationNegotiation.deflatedLE, explicitLE, explicitBE, implicitLE]
            case .implicitOnly: return [implicitLE]
            }
        }
    }

    /// What an acceptor prefers, in order: movescu's `+x` options for its storage SCP.
    public enum Preference: String, CaseIterable, Sendable {
        case uncompressed = "+x=", littleEndian = "+xe", bigEndian = "+xb"
        case jpegLossless = "+xs", jpeg8 = "+xy", jpeg12 = "+xx"
        case j2kLossless = "+xv", j2kLossy = "+xw", jlsLossless = "+xt", jlsLossy = "+xu"
        case mpeg2 = "+xm", mpeg2High = "+xh", mpeg4 = "+xn", mpeg4BD = "+xl"
        case mpeg4_2_2D = "+x2", mpeg4_2_3D = "+x3", mpeg4Stereo = "+xo", hevc = "+x4", hevc10 = "+x5"
        case rle = "+xr", deflated = "+xd", implicitOnly = "+xi", acceptAll = "+xa"

        public var transferSyntaxes: [String] {
            let uncompressed = [explicitLE, explicitBE, implicitLE]
            switch self {
            case .uncompressed, .littleEndian: return uncompressed
            case .bigEndian: return [explicitBE, explicitLE, implicitLE]
            case .jpegLossless: return ["1.2.840.10008.1.2.4.70"] + uncompressed
            case .jpeg8: return ["1.2.840.10008.1.2.4.50"] + uncompressed
            case .jpeg12: return ["1.2.840.10008.1.2.4.51"] + uncompressed
            case .j2kLossless: return ["1.2.840.10008.1.2.4.90"] + uncompressed
            case .j2kLossy: return ["1.2.840.10008.1.2.4.91"] + uncompressed
            case .jlsLossless: return ["1.2.840.10008.1.2.4.80"] + uncompressed
            case .jlsLossy: return ["1.2.840.10008.1.2.4.81"] + uncompressed
            case .rle: return ["1.2.840.10008.1.2.5"] + uncompressed
            case .deflated: return [PresentationNegotiation.deflatedLE] + uncompressed
            // Video cannot be decoded into anything else: only that syntax is accepted.
            case .mpeg2: return ["1.2.840.10008.1.2.4.100"]
            case .mpeg2High: return ["1.2.840.10008.1.2.4.101"]
            case .mpeg4: return ["1.2.840.10008.1.2.4.102"]
            case .mpeg4BD: return ["1.2.840.10008.1.2.4.103"]
            case .mpeg4_2_2D: return ["1.2.840.10008.1.2.4.104"]
            case .mpeg4_2_3D: return ["1.2.840.10008.1.2.4.105"]
            case .mpeg4Stereo: return ["1.2.840.10008.1.2.4.106"]
            case .hevc: return ["1.2.840.10008.1.2.4.107"]
            case .hevc10: return ["1.2.840.10008.1.2.4.108"]
            case .implicitOnly: return [implicitLE]
            case .acceptAll: return TransferSyntax.dcmtkAcceptAll
            }
        }
    }

    /// The acceptor's answer to each proposed context: the first syntax of `preference` that
    /// the requestor proposed; abstract-syntax-not-supported for SOP classes not in
    /// `abstractSyntaxes`; transfer-syntaxes-not-supported when nothing matches.
    public static func accept(_ proposed: [ProposedPresentationContext], abstractSyntaxes: Set<String>,
                              preference: [String]) -> [AcceptedPresentationContext] {
        proposed.map { context in
            guard abstractSyntaxes.contains(context.abstractSyntax) else {
                return AcceptedPresentationContext(id: context.id, result: .abstractSyntaxNotSupported, transferSyntax: implicitLE)
            }
            guard let chosen = preference.first(where: { context.transferSyntaxes.contains($0) }) else {
                return AcceptedPresentationContext(id: context.id, result: .transferSyntaxesNotSupported, transferSyntax: implicitLE)
            }
            return AcceptedPresentationContext(id: context.id, result: .acceptance, transferSyntax: chosen)
        }
    }

    /// Proposed contexts for abstract syntaxes, with odd IDs 1, 3, 5 ... (PS3.8 9.3.2.2).
    public static func propose(_ abstractSyntaxes: [String], transferSyntaxes: [String]) -> [ProposedPresentationContext] {
        abstractSyntaxes.enumerated().map { index, uid in
            ProposedPresentationContext(id: UInt8(truncatingIfNeeded: index * 2 + 1), abstractSyntax: uid, transferSyntaxes: transferSyntaxes)
        }
    }

    /// A context the acceptor accepted for an abstract syntax, as the requestor finds it.
    public struct Agreed: Equatable, Sendable {
        public var id: UInt8
        public var abstractSyntax: String
        public var transferSyntax: String
    }

    /// The accepted contexts matched to what was proposed; contexts answered with an ID we
    /// did not propose, or accepted with a syntax we did not offer, are left out.
    public static func agreed(proposed: [ProposedPresentationContext], accepted: [AcceptedPresentationContext]) -> [Agreed] {
        accepted.compactMap { answer in
            guard answer.result == .acceptance, let syntax = answer.transferSyntax,
                  let mine = proposed.first(where: { $0.id == answer.id }), mine.transferSyntaxes.contains(syntax) else {
                return nil
            }
            return Agreed(id: answer.id, abstractSyntax: mine.abstractSyntax, transferSyntax: syntax)
        }
    }
}
