import CMalloc
import Testing
@testable import Retrieve

/// The malloc settings movescu makes at start-up take effect: a block of a few MiB, as large
/// as a socket read or merged PDV data, comes from the heap instead of a fresh mapping.
@Suite struct AllocatorTuningTests {
    @Test func aFewMiBComeFromTheHeapOnceTuned() throws {
        #if os(Linux)
        try #require(cmalloc_mapped_blocks() >= 0, "not glibc's malloc")
        // First glibc's default threshold (128 KiB), which the test process may have raised
        // by itself (glibc does after freeing mapped blocks): such a block is mapped.
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
