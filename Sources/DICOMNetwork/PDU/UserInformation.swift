/// The User Information item (0x50) and its sub-items (PS3.7 Annex D, PS3.8 Annex D).
public struct UserInformation: Equatable, Sendable {
    /// 0x51: the largest P-DATA-TF PDU the sender accepts (0 = unlimited).
    public var maximumLength: UInt32?
    /// 0x52
    public var implementationClassUID: String?
    /// 0x55
    public var implementationVersionName: String?
    /// 0x53: operations invoked / performed.
    public var asynchronousOperationsWindow: OperationsWindow?
    /// 0x54
    public var roleSelections: [RoleSelection] = []
    /// 0x56
    public var extendedNegotiations: [ExtendedNegotiation] = []
    /// 0x58 (requestor)
    public var userIdentityRequest: UserIdentityRequest?
    /// 0x59 (acceptor)
    public var userIdentityResponse: [UInt8]?
    /// Sub-items of other types, kept as they came (0x57 among them).
    public var otherItems: [UnknownItem] = []
    /// The order the sub-item types came in, so that a decoded item encodes to the same
    /// bytes; new ones go in numeric order (the standard leaves the order open).
    var order: [UInt8] = []

    public init() {}

    public static func == (a: UserInformation, b: UserInformation) -> Bool {
        a.maximumLength == b.maximumLength && a.implementationClassUID == b.implementationClassUID
            && a.implementationVersionName == b.implementationVersionName
            && a.asynchronousOperationsWindow == b.asynchronousOperationsWindow
            && a.roleSelections == b.roleSelections && a.extendedNegotiations == b.extendedNegotiations
            && a.userIdentityRequest == b.userIdentityRequest && a.userIdentityResponse == b.userIdentityResponse
            && a.otherItems == b.otherItems
    }

    public struct RoleSelection: Equatable, Sendable {
        public var sopClassUID: String
        public var scuRole: Bool
        public var scpRole: Bool
        public init(sopClassUID: String, scuRole: Bool, scpRole: Bool) {
            self.sopClassUID = sopClassUID
            self.scuRole = scuRole
            self.scpRole = scpRole
        }
    }

    public struct ExtendedNegotiation: Equatable, Sendable {
        public var sopClassUID: String
        public var applicationInformation: [UInt8]
        public init(sopClassUID: String, applicationInformation: [UInt8]) {
            self.sopClassUID = sopClassUID
            self.applicationInformation = applicationInformation
        }
    }

    public struct UserIdentityRequest: Equatable, Sendable {
        /// 1 username, 2 username and passcode, 3 Kerberos, 4 SAML, 5 JWT.
        public var type: UInt8
        public var positiveResponseRequested: Bool
        public var primaryField: [UInt8]
        public var secondaryField: [UInt8]
        public init(type: UInt8, positiveResponseRequested: Bool, primaryField: [UInt8], secondaryField: [UInt8] = []) {
            self.type = type
            self.positiveResponseRequested = positiveResponseRequested
            self.primaryField = primaryField
            self.secondaryField = secondaryField
        }
    }

    public struct OperationsWindow: Equatable, Sendable {
        public var invoked: UInt16
        public var performed: UInt16
        public init(invoked: UInt16, performed: UInt16) {
            self.invoked = invoked
            self.performed = performed
        }
    }

    public struct UnknownItem: Equatable, Sendable {
        public var type: UInt8
        public var body: [UInt8]
    }

    func encode(into w: inout PDUWriter) {
        var types = order.reduce(into: [UInt8]()) { if !$0.contains($1) { $0.append($1) } }
        for t: UInt8 in [0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x58, 0x59] where !types.contains(t) { types.append(t) }
        for item in otherItems where !types.contains(item.type) { types.append(item.type) }
        w.item(0x50) { w in
            for type in types {
                switch type {
                case 0x51: if let maximumLength { w.item(0x51) { $0.u32(maximumLength) } }
                case 0x52: if let implementationClassUID { w.item(0x52) { $0.append(Array(implementationClassUID.utf8)) } }
                case 0x53:
                    if let window = asynchronousOperationsWindow { w.item(0x53) { $0.u16(window.invoked); $0.u16(window.performed) } }
                case 0x54:
                    for role in roleSelections {
                        w.item(0x54) { w in
                            let uid = Array(role.sopClassUID.utf8)
                            w.u16(UInt16(uid.count)); w.append(uid)
                            w.u8(role.scuRole ? 1 : 0); w.u8(role.scpRole ? 1 : 0)
                        }
                    }
                case 0x55: if let implementationVersionName { w.item(0x55) { $0.append(Array(implementationVersionName.utf8)) } }
                case 0x56:
                    for negotiation in extendedNegotiations {
                        w.item(0x56) { w in
                            let uid = Array(negotiation.sopClassUID.utf8)
                            w.u16(UInt16(uid.count)); w.append(uid); w.append(negotiation.applicationInformation)
                        }
                    }
                case 0x58:
                    if let identity = userIdentityRequest {
                        w.item(0x58) { w in
                            w.u8(identity.type); w.u8(identity.positiveResponseRequested ? 1 : 0)
                            w.u16(UInt16(identity.primaryField.count)); w.append(identity.primaryField)
                            w.u16(UInt16(identity.secondaryField.count)); w.append(identity.secondaryField)
                        }
                    }
                case 0x59:
                    if let response = userIdentityResponse { w.item(0x59) { w in w.u16(UInt16(response.count)); w.append(response) } }
                default:
                    for item in otherItems where item.type == type { w.item(item.type) { $0.append(item.body) } }
                }
            }
        }
    }

    init(body: ArraySlice<UInt8>) throws {
        var reader = PDUReader(body, what: "user information")
        for (type, item) in try reader.items("user information") {
            order.append(type)
            var r = PDUReader(item, what: "user information sub-item 0x\(String(type, radix: 16))")
            switch type {
            case 0x51: maximumLength = try r.u32("maximum length")
            case 0x52: implementationClassUID = try r.text(item.count, "implementation class UID")
            case 0x53: asynchronousOperationsWindow = OperationsWindow(invoked: try r.u16("operations invoked"), performed: try r.u16("operations performed"))
            case 0x54:
                let n = Int(try r.u16("UID length"))
                let uid = try r.text(n, "SOP class UID")
                roleSelections.append(RoleSelection(sopClassUID: uid, scuRole: try r.u8("SCU role") == 1, scpRole: try r.u8("SCP role") == 1))
            case 0x55: implementationVersionName = try r.text(item.count, "implementation version name")
            case 0x56:
                let n = Int(try r.u16("UID length"))
                let uid = try r.text(n, "SOP class UID")
                extendedNegotiations.append(ExtendedNegotiation(sopClassUID: uid, applicationInformation: Array(try r.take(r.remaining, "application information"))))
            case 0x58:
                let identityType = try r.u8("identity type")
                let positive = try r.u8("positive response requested") == 1
                let primary = Array(try r.take(Int(try r.u16("primary field length")), "primary field"))
                let secondary = Array(try r.take(Int(try r.u16("secondary field length")), "secondary field"))
                userIdentityRequest = UserIdentityRequest(type: identityType, positiveResponseRequested: positive, primaryField: primary, secondaryField: secondary)
            case 0x59:
                userIdentityResponse = Array(try r.take(Int(try r.u16("server response length")), "server response"))
            default:
                otherItems.append(UnknownItem(type: type, body: Array(item)))
            }
        }
    }
}
