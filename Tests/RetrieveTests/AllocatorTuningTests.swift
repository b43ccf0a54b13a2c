import CMalloc
import Foundation
import Testing
import TestPeers
@testable import Retrieve

/// The malloc settings movescu makes at start-up take effect: a block of a few MiB, as large
/// as a socket read or merged PDV data, comes from the heap instead of a fresh mapping.
///
/// Checked in a process of its own (this test binary again, running only this test): in the
/// full run other tests' threads free large blocks, from which malloc then serves a 3 MiB
/// request without a mapping whatever the threshold, so the first check failed now and then.
@Suite(.timeLimit(.minutes(10))) struct AllocatorTuningTests {
    static let childVariable = "MOVESCU_ALLOCATOR_TEST_CHILD"

    @Test func aFewMiBComeFromTheHeapOnceTuned() async throws {
        #if os(Linux)
        try #require(cmalloc_mapped_blocks() >= 0, "not glibc's malloc")
        guard ProcessInfo.processInfo.environment[Self.childVariable] != nil else {
            var environment = peerEnvironment
            environment[Self.childVariable] = "1"
            let child = try await runProcess(URL(fileURLWithPath: CommandLine.arguments[0]),
                                             ["--testing-library", "swift-testing", "--filter", "aFewMiBComeFromTheHeapOnceTuned"],
                                             mergingOutput: true, environment: environment)
            #expect(child.status == 0 && child.stdout.contains("1 test"), "\(child.stdout)")
            return
        }
        // First glibc's default threshold (128 KiB), which the process may have raised by
        // itself (glibc does after freeing mapped blocks): such a block is mapped.
        #expect(cmalloc_set_thresholds(128 << 10, 256 << 10) == 1)
        #expect(isMapped(3 << 20) == true)
        #expect(AllocatorTuning.forLargeBlocks())
        #expect(isMapped(3 << 20) == false)
        #expect(isMapped(5 << 20) == true, "above the new threshold a block is still mapped")
        #endif
    }

    /// Whether malloc gives a block of `bytes` a mapping of its own; nil where unknown. Asked
    /// of the block itself, so tests allocating beside this one cannot change the answer.
    private func isMapped(_ bytes: Int) -> Bool? {
        let block = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 16)
        defer { block.deallocate() }
        switch cmalloc_is_mapped(block) {
        case 1: return true
        case 0: return false
        default: return nil
        }
    }
}
