import CMalloc

/// Process-wide malloc settings for receiving: call once, first thing, from an executable.
///
/// PDV data and socket reads come in blocks of up to a MiB. glibc serves a block that size with
/// mmap until the first one is freed, and it gives the top of a heap back to the system whenever
/// more than twice that is free there. A receive that keeps a few such blocks in flight then
/// maps, faults in and returns the same memory over and over: a 1 GB object cost 0.71 s of CPU
/// that way against 0.58 s with the thresholds below (five runs each, page faults the
/// difference). What malloc may keep unreturned is bounded by the trim threshold, per arena.
public enum AllocatorTuning {
    /// Blocks under 4 MiB come from the heap; up to 32 MiB free at a heap's top stays there.
    /// Returns false where the settings do not apply (not glibc).
    @discardableResult
    public static func forLargeBlocks() -> Bool {
        cmalloc_set_thresholds(4 << 20, 32 << 20) == 1
    }
}
