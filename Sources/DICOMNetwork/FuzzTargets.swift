import DICOM
#if !FUZZ_NETWORK
import NIOCore
#endif

/// What the PDU fuzz target runs (Scripts/fuzz.sh pdu), kept here so that the tests replay
/// its crashers through the same code. Bytes from the wire go through the decoder, the state
/// machine, the acceptor's policy and DIMSE reassembly, as they would on a live association.
public enum NetworkFuzzTargets {
    public static func pduStream(_ bytes: [UInt8]) {
        #if !FUZZ_NETWORK
        // The streaming decoder, fed in pieces, must agree with the whole-PDU one. (Not in
        // Scripts/fuzz.sh's build, which compiles the network layer's pure parts without
        // NIO; the tests replay the seeds and kept crashers through this.)
        if let mismatch = compareDecoders(bytes, pieces: 1 + Int(bytes.last ?? 0) % 61) {
            preconditionFailure(mismatch)
        }
        #endif
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
                    let event: MessageAssembler.Event?
                    do { event = try assembler.receive(pdv) } catch { return }
                    if case .command(_, let message)? = event { _ = message.commandSet() }
                }
            default:
                break
            }
        }
    }

    #if !FUZZ_NETWORK
    /// What the whole-PDU decoder and the streaming `PDUDecoder` (fed `pieces` bytes at a
    /// time) make of a stream, nil when they agree: the same PDVs and other PDUs in the same
    /// order, then the same error or none (for a stream that ends inside a P-DATA-TF, an error
    /// or none).
    public static func compareDecoders(_ bytes: [UInt8], pieces: Int, maximumLength: UInt32 = 16384) -> String? {
        var whole: [PDU] = []
        var wholeError: PDUError?
        var offset = 0
        do {
            while let (pdu, consumed) = try PDU.decode(bytes[offset...], maximumLength: maximumLength) {
                whole.append(pdu)
                offset += consumed
            }
        } catch {
            wholeError = error as? PDUError
        }
        var streamed: [PDU] = []
        var streamedError: PDUError?
        var decoder = PDUDecoder(maximumLength: maximumLength)
        var buffer = ByteBuffer()
        var at = 0
        do {
            while at < bytes.count {
                let end = min(at + max(pieces, 1), bytes.count)
                buffer.writeBytes(bytes[at..<end])
                at = end
                // As ByteToMessageHandler does: no call on an empty buffer until the end.
                while buffer.readableBytes > 0, let pdu = try decoder.decode(buffer: &buffer) { streamed.append(pdu) }
                buffer.discardReadBytes()
            }
            while let pdu = try decoder.decodeLast(buffer: &buffer, seenEOF: true) { streamed.append(pdu) }
        } catch {
            streamedError = error as? PDUError
        }
        // A stream ending inside a P-DATA-TF: the streaming decoder may already have found
        // what is wrong with the PDVs it has seen, where the whole one still waits.
        let endsInsidePData = wholeError == nil && offset < bytes.count && bytes[offset] == PDU.TypeCode.pData.rawValue
        // The streaming decoder hands on P-DATA-TFs that follow each other as one.
        guard flattened(whole) == flattened(streamed), wholeError == streamedError || (endsInsidePData && wholeError == nil) else {
            return "whole: \(whole.map(\.name)) then \(wholeError.map { "\($0)" } ?? "no error"); "
                + "streamed in pieces of \(pieces): \(streamed.map(\.name)) then \(streamedError.map { "\($0)" } ?? "no error")"
        }
        return nil
    }

    /// PDUs with each P-DATA-TF's PDVs as one-PDV P-DATA-TFs.
    static func flattened(_ pdus: [PDU]) -> [PDU] {
        pdus.flatMap { pdu -> [PDU] in
            guard case .pData(let p) = pdu else { return [pdu] }
            return p.values.map { .pData(PDataTF(values: [$0])) }
        }
    }
    #endif
}
