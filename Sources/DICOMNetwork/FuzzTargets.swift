import DICOM

/// What the PDU fuzz target runs (Scripts/fuzz.sh pdu), kept here so that the tests replay
/// its crashers through the same code. Bytes from the wire go through the decoder, the state
/// machine, the acceptor's policy and DIMSE reassembly, as they would on a live association.
public enum NetworkFuzzTargets {
    public static func pduStream(_ bytes: [UInt8]) {
        var machine = ULStateMachine()
        _ = machine.handle(.evt5)
        var assembler = MessageAssembler()
        var offset = 0
        while offset < bytes.count {
            let decoded: (pdu: PDU, consumed: Int)?
            do {
                decoded = try PDU.decode(bytes[offset...], maximumLength: 16384)
            } catch {
                return
            }
            guard let (pdu, consumed) = decoded else { return }
            offset += consumed
            _ = pdu.encoded()
            _ = machine.handle(ULEvent(received: pdu))
            switch pdu {
            case .associateRQ(let rq):
                var configuration = AcceptorConfiguration()
                configuration.abstractSyntaxes = ["1.2.840.10008.5.1.4.1.1.2"]
                if case .accept(let ac) = AcceptorPolicy.answer(rq, configuration: configuration, activeAssociations: 0) {
                    _ = AcceptorPolicy.agreed(rq, ac)
                    _ = machine.handle(.evt7)
                }
            case .pData(let p):
                for pdv in p.values {
                    guard let events = try? assembler.receive(pdv) else { return }
                    for case .command(_, let message) in events { _ = message.commandSet() }
                }
            default:
                break
            }
        }
    }
}
