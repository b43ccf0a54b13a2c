/// A presentation context as the requestor proposes it (item 0x20).
public struct ProposedPresentationContext: Equatable, Sendable {
    /// Odd, 1 to 255.
    public var id: UInt8
    public var abstractSyntax: String
    public var transferSyntaxes: [String]
    public init(id: UInt8, abstractSyntax: String, transferSyntaxes: [String]) {
        self.id = id
        self.abstractSyntax = abstractSyntax
        self.transferSyntaxes = transferSyntaxes
    }
}

/// A presentation context as the acceptor answers it (item 0x21).
public struct AcceptedPresentationContext: Equatable, Sendable {
    /// PS3.8 Table 9-18.
    public enum Result: UInt8, Sendable, CustomStringConvertible {
        case acceptance = 0, userRejection = 1, noReason = 2
        case abstractSyntaxNotSupported = 3, transferSyntaxesNotSupported = 4
        public var description: String {
            switch self {
            case .acceptance: return "acceptance"
            case .userRejection: return "user-rejection"
            case .noReason: return "no-reason (provider rejection)"
            case .abstractSyntaxNotSupported: return "abstract-syntax-not-supported (provider rejection)"
            case .transferSyntaxesNotSupported: return "transfer-syntaxes-not-supported (provider rejection)"
            }
        }
    }
    public var id: UInt8
    public var result: Result
    /// Significant only on acceptance; nil when the item carries no transfer syntax sub-item.
    public var transferSyntax: String?
    public init(id: UInt8, result: Result, transferSyntax: String?) {
        self.id = id
        self.result = result
        self.transferSyntax = transferSyntax
    }
}

/// The fields A-ASSOCIATE-RQ and -AC share (PS3.8 Tables 9-11 and 9-17).
public struct AssociateHeader: Equatable, Sendable {
    public var protocolVersion: UInt16 = 1
    public var calledAETitle: String
    public var callingAETitle: String
    public var applicationContext: String = "1.2.840.10008.3.1.1.1"
    public var userInformation: UserInformation = UserInformation()

    public init(calledAETitle: String, callingAETitle: String) {
        self.calledAETitle = calledAETitle
        self.callingAETitle = callingAETitle
    }
}

/// A-ASSOCIATE-RQ (type 0x01).
public struct AssociateRQ: Equatable, Sendable {
    public var header: AssociateHeader
    public var presentationContexts: [ProposedPresentationContext]

    public init(header: AssociateHeader, presentationContexts: [ProposedPresentationContext]) {
        self.header = header
        self.presentationContexts = presentationContexts
    }

    func encodedBody() -> [UInt8] {
        encodeAssociateBody(header) { w in
            for context in presentationContexts {
                w.item(0x20) { w in
                    w.u8(context.id); w.zeros(3)
                    w.item(0x30) { $0.append(Array(context.abstractSyntax.utf8)) }
                    for ts in context.transferSyntaxes { w.item(0x40) { $0.append(Array(ts.utf8)) } }
                }
            }
        }
    }

    init(body: ArraySlice<UInt8>) throws {
        var contexts: [ProposedPresentationContext] = []
        header = try decodeAssociateBody(body, what: "A-ASSOCIATE-RQ", contextType: 0x20) { item in
            var c = PDUReader(item, what: "presentation context")
            let id = try c.u8("presentation context ID")
            try c.skip(3, "reserved bytes")
            var abstract: String?
            var syntaxes: [String] = []
            for (subType, sub) in try c.items("presentation context") {
                switch subType {
                case 0x30: abstract = try textItem(sub)
                case 0x40: syntaxes.append(try textItem(sub))
                default: break  // unknown sub-items are skipped
                }
            }
            guard let abstract else {
                throw PDUError.malformed("A-ASSOCIATE-RQ: presentation context \(id) has no abstract syntax")
            }
            contexts.append(ProposedPresentationContext(id: id, abstractSyntax: abstract, transferSyntaxes: syntaxes))
        }
        presentationContexts = contexts
    }
}

/// A-ASSOCIATE-AC (type 0x02).
public struct AssociateAC: Equatable, Sendable {
    public var header: AssociateHeader
    public var presentationContexts: [AcceptedPresentationContext]

    public init(header: AssociateHeader, presentationContexts: [AcceptedPresentationContext]) {
        self.header = header
        self.presentationContexts = presentationContexts
    }

    func encodedBody() -> [UInt8] {
        encodeAssociateBody(header) { w in
            for context in presentationContexts {
                w.item(0x21) { w in
                    w.u8(context.id); w.u8(0); w.u8(context.result.rawValue); w.u8(0)
                    if let syntax = context.transferSyntax { w.item(0x40) { $0.append(Array(syntax.utf8)) } }
                }
            }
        }
    }

    init(body: ArraySlice<UInt8>) throws {
        var contexts: [AcceptedPresentationContext] = []
        header = try decodeAssociateBody(body, what: "A-ASSOCIATE-AC", contextType: 0x21) { item in
            var c = PDUReader(item, what: "presentation context")
            let id = try c.u8("presentation context ID")
            try c.skip(1, "reserved byte")
            let resultCode = try c.u8("result/reason")
            try c.skip(1, "reserved byte")
            guard let result = AcceptedPresentationContext.Result(rawValue: resultCode) else {
                throw PDUError.malformed("A-ASSOCIATE-AC: presentation context \(id) has result \(resultCode), which PS3.8 Table 9-18 does not define")
            }
            var syntax: String? = nil
            for (subType, sub) in try c.items("presentation context") where subType == 0x40 {
                syntax = try textItem(sub)
            }
            contexts.append(AcceptedPresentationContext(id: id, result: result, transferSyntax: syntax))
        }
        presentationContexts = contexts
    }
}

/// The body both A-ASSOCIATE-RQ and -AC have: the fixed part, the application context,
/// the presentation context items `contexts` writes, the user information.
private func encodeAssociateBody(_ header: AssociateHeader, contexts: (inout PDUWriter) -> Void) -> [UInt8] {
    var w = PDUWriter()
    encodeFixedPart(header, into: &w)
    contexts(&w)
    header.userInformation.encode(into: &w)
    return w.bytes
}

/// Reads that body: the header, with each presentation context item (`contextType`) handed
/// to `context`; unknown items are skipped (PS3.8 9.3.1).
private func decodeAssociateBody(_ body: ArraySlice<UInt8>, what: String, contextType: UInt8,
                                 context: (ArraySlice<UInt8>) throws -> Void) throws -> AssociateHeader {
    var r = PDUReader(body, what: what)
    var header = try decodeFixedPart(&r)
    for (type, item) in try r.items(what) {
        switch type {
        case 0x10: header.applicationContext = try textItem(item)
        case contextType: try context(item)
        case 0x50: header.userInformation = try UserInformation(body: item)
        default: break
        }
    }
    return header
}

private func encodeFixedPart(_ header: AssociateHeader, into w: inout PDUWriter) {
    w.u16(header.protocolVersion)
    w.zeros(2)
    w.aeTitle(header.calledAETitle)
    w.aeTitle(header.callingAETitle)
    w.zeros(32)
    w.item(0x10) { $0.append(Array(header.applicationContext.utf8)) }
}

private func decodeFixedPart(_ r: inout PDUReader) throws -> AssociateHeader {
    let version = try r.u16("protocol version")
    try r.skip(2, "reserved bytes")
    let called = try r.text(16, "called AE title")
    let calling = try r.text(16, "calling AE title")
    try r.skip(32, "reserved bytes")
    var header = AssociateHeader(calledAETitle: called, callingAETitle: calling)
    header.protocolVersion = version
    return header
}

private func textItem(_ bytes: ArraySlice<UInt8>) throws -> String {
    var r = PDUReader(bytes, what: "UID item")
    return try r.text(bytes.count, "UID")
}
