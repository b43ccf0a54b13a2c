/// A DIMSE status (0000,0900) with its category (PS3.7 Annex C) and the text DCMTK prints
/// for it in the context of a service.
public struct DIMSEStatus: Hashable, Sendable, CustomStringConvertible {
    public var code: UInt16
    public init(_ code: UInt16) { self.code = code }

    public static let success = DIMSEStatus(0x0000)
    public static let pending = DIMSEStatus(0xFF00)
    public static let pendingWarning = DIMSEStatus(0xFF01)
    public static let cancel = DIMSEStatus(0xFE00)
    public static let subOperationsCompleteWithFailures = DIMSEStatus(0xB000)
    public static let outOfResourcesMatches = DIMSEStatus(0xA701)
    public static let outOfResourcesSubOperations = DIMSEStatus(0xA702)
    public static let moveDestinationUnknown = DIMSEStatus(0xA801)
    public static let storeOutOfResources = DIMSEStatus(0xA700)
    public static let dataSetDoesNotMatchSOPClass = DIMSEStatus(0xA900)
    public static let cannotUnderstand = DIMSEStatus(0xC000)
    public static let sopClassNotSupported = DIMSEStatus(0x0122)

    public enum Category: String, Sendable {
        case success = "Success", pending = "Pending", cancel = "Cancel", warning = "Warning", failure = "Failure"
    }

    public var category: Category {
        switch code {
        case 0x0000: return .success
        case 0xFF00, 0xFF01: return .pending
        case 0xFE00: return .cancel
        case 0x0001, 0x0107, 0x0116, 0xB000...0xBFFF: return .warning
        default: return .failure
        }
    }

    public var isPending: Bool { category == .pending }
    public var isFinal: Bool { !isPending }

    /// The service a status is read in: the same code means different things in each.
    public enum Service: Sendable { case echo, store, find, move, get }

    /// DCMTK's text, e.g. "Refused: MoveDestinationUnknown".
    public func text(for service: Service) -> String {
        switch (service, code) {
        case (_, 0x0000): return "Success"
        case (.find, 0xFF00): return "Pending: Matches"
        case (.find, 0xFF01): return "Pending: MatchesAreContinuing (WarningOptionalKeysNotSupported)"
        case (_, 0xFF00), (_, 0xFF01): return "Pending"
        case (.find, 0xFE00): return "Cancel: MatchingTerminatedDueToCancelRequest"
        case (_, 0xFE00): return "Cancel: SubOperationsTerminatedDueToCancelIndication"
        case (.move, 0xA701), (.get, 0xA701): return "Refused: OutOfResourcesNumberOfMatches"
        case (.move, 0xA702), (.get, 0xA702): return "Refused: OutOfResourcesSubOperations"
        case (.move, 0xA801): return "Refused: MoveDestinationUnknown"
        case (.move, 0xA900), (.get, 0xA900): return "Error: DataSetDoesNotMatchSOPClass"
        case (.find, 0xA900): return "Error: IdentifierDoesNotMatchSOPClass"
        case (.store, 0xA900...0xA9FF): return "Error: DataSetDoesNotMatchSOPClass"
        case (.move, 0xB000), (.get, 0xB000): return "Warning: SubOperationsCompleteOneOrMoreFailures"
        case (.store, 0xB000): return "Warning: CoercionOfDataElements"
        case (.store, 0xB006): return "Warning: ElementsDiscarded"
        case (.store, 0xB007): return "Warning: DataSetDoesNotMatchSOPClass"
        case (.store, 0xA700...0xA7FF), (.find, 0xA700...0xA7FF): return "Refused: OutOfResources"
        case (.store, 0xC000...0xCFFF): return "Error: CannotUnderstand"
        case (_, 0xC000...0xCFFF): return "Failed: UnableToProcess"
        case (_, 0x0122): return "Refused: SOPClassNotSupported"
        case (_, 0x0211): return "Failed: UnrecognizedOperation"
        case (_, 0x0110): return "Failed: ProcessingFailure"
        default:
            return "\(category.rawValue): 0x\(String(code, radix: 16, uppercase: true))"
        }
    }

    public var description: String { "0x" + String(code, radix: 16, uppercase: true).leftPadded(4) }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
