import DICOM
import Foundation
import NIOCore
import TestPeers
import Synchronization
import Testing
@testable import DICOMNetwork

/// What a test acceptor saw: its events and the objects it stored.
final class AcceptorRecord: Sendable {
    struct Stored: Sendable {
        var association: Int
        var callingAETitle: String
        var request: CStoreRQ
        var transferSyntax: String
        var dataSet: [UInt8]
    }
    private let state = Mutex<(events: [AcceptorEvent], stored: [Stored])>(([], []))

    func add(_ event: AcceptorEvent) { state.withLock { $0.events.append(event) } }
    func add(_ stored: Stored) { state.withLock { $0.stored.append(stored) } }
    var events: [AcceptorEvent] { state.withLock { $0.events } }
    var stored: [Stored] { state.withLock { $0.stored } }

    var abortReasons: [String] {
        events.compactMap { if case .aborted(_, let reason) = $0 { return reason } else { return nil } }
    }
    var closedCount: Int {
        events.filter { if case .closed = $0 { return true } else { return false } }.count
    }
    var acceptedCount: Int {
        events.filter { if case .accepted = $0 { return true } else { return false } }.count
    }
    var rejections: [(AssociateRJ, String)] {
        events.compactMap { if case .rejected(_, let rj, let why) = $0 { return (rj, why) } else { return nil } }
    }
}

/// A small storage SCP for the tests, kept in memory: answers C-ECHO, stores C-STORE data
/// sets, and refuses anything else by aborting.
func memoryStorageService(_ record: AcceptorRecord) -> AssociationAcceptor.Service {
    { association in
        var pending: (CStoreRQ, UInt8)?
        var data: [UInt8] = []
        while let event = try await association.nextEvent() {
            switch event {
            case .command(.echoRQ(let rq), let id):
                try await association.answerEcho(rq, contextID: id)
            case .command(.storeRQ(let rq), let id):
                pending = (rq, id)
                data = []
            case .dataFragment(let bytes, _, let isLast):
                data += bytes
                guard isLast, let (rq, id) = pending else { continue }
                record.add(AcceptorRecord.Stored(association: association.id, callingAETitle: association.callingAETitle,
                                                 request: rq, transferSyntax: association.context(id)?.transferSyntax ?? "?",
                                                 dataSet: data))
                let rsp = CStoreRSP(messageIDBeingRespondedTo: rq.messageID, affectedSOPClassUID: rq.affectedSOPClassUID,
                                    affectedSOPInstanceUID: rq.affectedSOPInstanceUID, status: .success)
                try await association.send(.storeRSP(rsp), contextID: id)
                pending = nil
            case .command(let other, _):
                throw AssociationFailure.protocolError("the test SCP does not serve \(other.name)")
            }
        }
    }
}

/// The same storage SCP as an event-loop service.
final class MemoryStorageOnEventLoop: EventLoopAssociationService {
    let record: AcceptorRecord
    var pending: (CStoreRQ, UInt8)?
    var data: [UInt8] = []

    init(record: AcceptorRecord) { self.record = record }

    func received(_ event: AssociationEvent, on association: EventLoopAssociation) throws {
        switch event {
        case .command(.echoRQ(let rq), let id):
            association.post(.echoRSP(CEchoRSP(messageIDBeingRespondedTo: rq.messageID, status: .success)), contextID: id)
        case .command(.storeRQ(let rq), let id):
            pending = (rq, id)
            data = []
        case .dataFragment(let bytes, _, let isLast):
            data += bytes
            guard isLast, let (rq, id) = pending else { return }
            record.add(AcceptorRecord.Stored(association: association.id, callingAETitle: association.callingAETitle,
                                             request: rq, transferSyntax: association.context(id)?.transferSyntax ?? "?",
                                             dataSet: data))
            let rsp = CStoreRSP(messageIDBeingRespondedTo: rq.messageID, affectedSOPClassUID: rq.affectedSOPClassUID,
                                affectedSOPInstanceUID: rq.affectedSOPInstanceUID, status: .success)
            association.post(.storeRSP(rsp), contextID: id)
            pending = nil
        case .command(let other, _):
            throw AssociationFailure.protocolError("the test SCP does not serve \(other.name)")
        }
    }

    func ended(_ association: EventLoopAssociation, error: (any Error)?) {}
}

/// An acceptor on a free loopback port that accepts every storage class with DCMTK's +xa order;
/// its service async code on a task, or (`onEventLoop`) an event-loop service.
func startTestAcceptor(_ configure: (inout AcceptorConfiguration) -> Void = { _ in },
                       record: AcceptorRecord, onEventLoop: Bool = false) async throws -> AssociationAcceptor {
    var configuration = AcceptorConfiguration()
    configuration.aeTitle = "SWIFTSCP"
    configuration.abstractSyntaxes = Set(UIDTable.storageSOPClasses.map(\.uid))
    configuration.transferSyntaxPreference = TransferSyntax.dcmtkAcceptAll
    configure(&configuration)
    if onEventLoop {
        return try await AssociationAcceptor.start(host: "127.0.0.1", port: 0, configuration: configuration, group: testGroup,
                                                   observer: { record.add($0) },
                                                   serviceOnEventLoop: { _ in MemoryStorageOnEventLoop(record: record) })
    }
    return try await AssociationAcceptor.start(host: "127.0.0.1", port: 0, configuration: configuration, group: testGroup,
                                               observer: { record.add($0) }, service: memoryStorageService(record))
}

/// Waits up to `seconds` for `condition`.
func eventually(_ seconds: Double = 10, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

/// A raw TCP client on loopback, for peers that misbehave on purpose.
final class RawClient: @unchecked Sendable {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            Glibc.close(fd)
            throw TestPeerMissing(what: "a connection to port \(port)")
        }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// Up to `count` bytes: what one read returns, waiting up to 10 s (on a thread of its own).
    func read(count: Int) async -> [UInt8] {
        await offPool { self.readNow(count: count) }
    }

    /// Everything until the peer closes (or 10 s pass), on a thread of its own.
    func readToEnd() async -> [UInt8] {
        await offPool { self.readToEndNow() }
    }

    private func readNow(count: Int) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? Array(buffer[0..<n]) : []
    }

    private func readToEndNow() -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return result }
            result += buffer[0..<n]
        }
    }

    /// Closes with a reset (SO_LINGER 0), as a crashed peer would.
    func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        Glibc.close(fd)
    }

    func close() { Glibc.close(fd) }
}

/// Sockets this process holds on a local port (the acceptor's children and listener).
func socketsHeld(onLocalPort port: Int) -> Int {
    let hex = String(format: "%04X", port)
    var inodes = Set<String>()
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 9, fields[1].hasSuffix(":" + hex) else { continue }
            inodes.insert(String(fields[9]))
        }
    }
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return fds.filter { fd in
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)"),
              target.hasPrefix("socket:[") else { return false }
        return inodes.contains(String(target.dropFirst(8).dropLast()))
    }.count
}

/// Resident memory of this process in bytes.
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return (fields.count > 1 ? Int(fields[1]) ?? 0 : 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// An A-ASSOCIATE-RQ proposing Verification and CT Image Storage, as a raw peer sends it.
func rawAssociateRQ(calling: String = "RAWPEER", called: String = "SWIFTSCP") -> [UInt8] {
    var header = AssociateHeader(calledAETitle: called, callingAETitle: calling)
    header.userInformation.maximumLength = 16384
    header.userInformation.implementationClassUID = "1.2.3.4"
    return PDU.associateRQ(AssociateRQ(header: header, presentationContexts: [
        ProposedPresentationContext(id: 1, abstractSyntax: WellKnownUID.verification, transferSyntaxes: ["1.2.840.10008.1.2"]),
        ProposedPresentationContext(id: 3, abstractSyntax: "1.2.840.10008.5.1.4.1.1.2", transferSyntaxes: ["1.2.840.10008.1.2"]),
    ])).encoded()
}
