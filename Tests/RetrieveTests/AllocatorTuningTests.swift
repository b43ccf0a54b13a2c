import CMalloc
import Testing
@testable import Retrieve

/// The malloc settings movescu makes at start-up take effect: a block of a few MiB, as large
/// as a socket read or merged PDV data, comes from the heap instead of a fresh mapping.
@Suite struct AllocatorTuningTests {
    @Test func aFewMiBComeFromTheHeapOnceTuned() throws {
        #if os(Linux)
        try #require(cmalloc_mapped_blocks() >= 0, "mallinfo2 is not available")
        // First glibc's default threshold (128 KiB), which the test process may have raised
        // by itself (glibc does after freeing mapped blocks): such a block is mapped.
        #expect(cmalloc_set_thresholds(128 << 10, 256 << 10) == 1)
        #expect(mappedBlocksWhileHolding(3 << 20, becomes: 1))
        #expect(AllocatorTuning.forLargeBlocks())
        #expect(mappedBlocksWhileHolding(3 << 20, becomes: 0))
        #endif
    }

    /// Whether malloc maps `expected` more blocks while a block of `bytes` is held. Tried a few
    /// times: tests running beside this one allocate too, and may map or unmap meanwhile.
    private func mappedBlocksWhileHolding(_ bytes: Int, becomes expected: Int) -> Bool {
        for _ in 0..<5 {
            let before = cmalloc_mapped_blocks()
            let block = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 16)
            let added = cmalloc_mapped_blocks() - before
            block.deallocate()
            if added == expected { return true }
        }
        return false
    }
}
