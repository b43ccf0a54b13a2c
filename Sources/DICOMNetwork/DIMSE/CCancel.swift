/// C-CANCEL-RQ (PS3.7 9.3.2.3, 9.3.3.3, 9.3.4.3): stops the operation with that message ID.
public struct CCancelRQ: Equatable, Sendable {
    public var messageIDBeingRespondedTo: UInt16
    public init(messageIDBeingRespondedTo: UInt16) { self.messageIDBeingRespondedTo = messageIDBeingRespondedTo }

    public func commandSet() -> [UInt8] {
        var b = CommandSetBuilder(.cCancelRQ)
        b.us(CommandTag.messageIDBeingRespondedTo, messageIDBeingRespondedTo)
        b.dataSetType(false)
        return b.encoded()
    }

    init(_ r: CommandSetReader) throws {
        messageIDBeingRespondedTo = try r.us(CommandTag.messageIDBeingRespondedTo, "Message ID Being Responded To")
    }
}
