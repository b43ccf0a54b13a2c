import Foundation
import Testing
import TestPeers

/// The test harness's own guard against hangs: a program that runs past its limit is killed
/// and the wait for it fails, naming it.
@Suite(.timeLimit(.minutes(10))) struct WatchdogTests {
    @Test func aProgramPastItsLimitIsKilledAndNamed() async throws {
        let started = ContinuousClock.now
        do {
            _ = try await runProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", "echo waiting; exec sleep 60"], limit: .seconds(2))
            Issue.record("sleep 60 was not stopped")
        } catch let hung as ProgramHung {
            #expect(hung.command == "/bin/sh -c echo waiting; exec sleep 60")
            #expect(hung.output.contains("waiting"))
            #expect(hung.description.contains("ran longer than 2"))
        }
        #expect(ContinuousClock.now - started < .seconds(30))
        // A program whose own child holds on: the whole process group goes.
        do {
            _ = try await runProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", "sleep 60; true"], limit: .seconds(2))
            Issue.record("sh and its sleep 60 were not stopped")
        } catch is ProgramHung {}
        #expect(ContinuousClock.now - started < .seconds(40))
        // One that ends in time is not touched.
        let quick = try await runProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", "exit 3"], limit: .seconds(2))
        #expect(quick.status == 3)
    }
}
