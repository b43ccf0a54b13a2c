import Foundation
import Testing
@testable import DICOMNetwork

/// pynetdicom's transition table and next states (pynetdicom.fsm), read as the foreign
/// reference for every state × event cell of PS3.8 Table 9-10.
let pynetdicomTable: (cells: [String: String], next: [String: [String]]) = {
    let script = """
    from pynetdicom import fsm
    for (event, state), action in fsm.TRANSITION_TABLE.items():
        print("cell", event, state, action)
    for action, entry in fsm.ACTIONS.items():
        nxt = entry[2]
        print("next", action, *(nxt if isinstance(nxt, tuple) else (nxt,)))
    """
    guard let output = try? python(script) else { return ([:], [:]) }
    var cells: [String: String] = [:], next: [String: [String]] = [:]
    for line in output.split(separator: "\n") {
        let f = line.split(separator: " ").map(String.init)
        if f[0] == "cell" { cells["\(f[1]) \(f[2])"] = f[3] }
        if f[0] == "next" { next[f[1]] = Array(f.dropFirst(2)) }
    }
    return (cells, next)
}()

struct Cell: Sendable, CustomTestStringConvertible {
    var state: ULState
    var event: ULEvent
    var testDescription: String { "\(event) in \(state)" }
}

let everyCell: [Cell] = ULState.allCases.flatMap { s in ULEvent.allCases.map { Cell(state: s, event: $0) } }

@Suite(.timeLimit(.minutes(10))) struct StateMachineTests {
    @Test func theReferenceTableIsThere() {
        #expect(pynetdicomTable.cells.count == 123, "pynetdicom's fsm table (pip install pynetdicom)")
        #expect(everyCell.count == 13 * 19)
    }

    @Test(arguments: everyCell)
    func cellMatchesTable910(_ cell: Cell) {
        let reference = pynetdicomTable.cells["\(cell.event) \(cell.state)"]
        let ours = ULStateMachine.action(state: cell.state, event: cell.event)
        #expect(ours?.rawValue == reference)
        for isRequestor in [true, false] {
            for abortSource: UInt8 in [0, 2] {
                var machine = ULStateMachine(state: cell.state, isRequestor: isRequestor)
                let transition = machine.handle(cell.event, abortSource: abortSource)
                #expect(transition.from == cell.state && transition.action == ours)
                if let action = ours {
                    let next = pynetdicomTable.next[action.rawValue] ?? []
                    #expect(next.contains(transition.to.description), "\(action.rawValue) went to \(transition.to)")
                    #expect(machine.state == transition.to)
                } else {
                    #expect(transition.to == cell.state && transition.effects.isEmpty, "an empty cell changes nothing")
                }
            }
        }
    }

    @Test func branchingActions() {
        // AE-6: an unacceptable A-ASSOCIATE-RQ is rejected at once.
        var acceptor = ULStateMachine(state: .sta2, isRequestor: false)
        #expect(acceptor.handle(.evt6, associateRQAcceptable: false).effects == [.stopARTIM, .sendAssociateRJ, .startARTIM])
        #expect(acceptor.state == .sta13)
        // AR-8: a release collision goes to Sta9 for the requestor, Sta10 for the acceptor.
        var requestor = ULStateMachine(state: .sta7, isRequestor: true)
        #expect(requestor.handle(.evt12).to == .sta9)
        var accepting = ULStateMachine(state: .sta7, isRequestor: false)
        #expect(accepting.handle(.evt12).to == .sta10)
        // AA-3: the abort's source decides between A-ABORT and A-P-ABORT.
        var a = ULStateMachine(state: .sta6, isRequestor: true)
        #expect(a.handle(.evt16, abortSource: 0).effects.contains(.indicate(.abort)))
        var b = ULStateMachine(state: .sta6, isRequestor: true)
        #expect(b.handle(.evt16, abortSource: 2).effects.contains(.indicate(.providerAbort)))
    }

    @Test func aWholeAssociationAsRequestorAndAsAcceptor() {
        var r = ULStateMachine()
        let requestorPath: [(ULEvent, ULState)] = [(.evt1, .sta4), (.evt2, .sta5), (.evt3, .sta6), (.evt9, .sta6), (.evt10, .sta6),
                                                   (.evt11, .sta7), (.evt10, .sta7), (.evt13, .sta1)]
        for (event, expected) in requestorPath { #expect(r.handle(event).to == expected, "\(event)") }
        var a = ULStateMachine()
        let acceptorPath: [(ULEvent, ULState)] = [(.evt5, .sta2), (.evt6, .sta3), (.evt7, .sta6), (.evt10, .sta6), (.evt12, .sta8),
                                                  (.evt9, .sta8), (.evt14, .sta13), (.evt17, .sta1)]
        for (event, expected) in acceptorPath { #expect(a.handle(event).to == expected, "\(event)") }
        // Release collision on the requestor side: Sta7 -> Sta9 -> Sta11 -> Sta1.
        var c = ULStateMachine(state: .sta7, isRequestor: true)
        #expect([ULEvent.evt12, .evt14, .evt13].map { c.handle($0).to } == [.sta9, .sta11, .sta1])
        // And on the acceptor side: Sta7 -> Sta10 -> Sta12 -> Sta13.
        var d = ULStateMachine(state: .sta7, isRequestor: false)
        #expect([ULEvent.evt12, .evt13, .evt14].map { d.handle($0).to } == [.sta10, .sta12, .sta13])
    }

    @Test func pdusRaiseTheirEvents() {
        #expect(ULEvent(received: .releaseRQ) == .evt12)
        #expect(ULEvent(received: .abort(Abort(source: 0, reason: 0))) == .evt16)
        #expect(ULEvent(received: .unknown(type: 9, body: [])) == .evt19)
    }
}
