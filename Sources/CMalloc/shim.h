#ifndef CMALLOC_SHIM_H
#define CMALLOC_SHIM_H
/* glibc's mallopt, which Swift's Glibc module leaves out (malloc.h). Returns 1 when both
   settings were taken; 0 elsewhere or on failure. */
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#endif

static inline int cmalloc_set_thresholds(int mmap_threshold, int trim_threshold) {
#if defined(__GLIBC__) && defined(M_MMAP_THRESHOLD) && defined(M_TRIM_THRESHOLD)
    return mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1 && mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1;
#else
    (void)mmap_threshold; (void)trim_threshold;
    return 0;
#endif
}
/* Blocks malloc is serving with mmap right now (mallinfo2's hblks); -1 where unknown. */
static inline long cmalloc_mapped_blocks(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    return (long)mallinfo2().hblks;
#else
    return -1;
#endif
}
/* Whether the block at `p` (from malloc) has a mapping of its own: glibc marks such a chunk
   with bit 1 (IS_MMAPPED) of the size word right before the block. 1 or 0; -1 where unknown.
   For tests: unlike hblks, other threads' allocations cannot change it. */
static inline int cmalloc_is_mapped(const void *p) {
#if defined(__GLIBC__)
    return (int)((((const size_t *)p)[-1] & 2) != 0);
#else
    (void)p;
    return -1;
#endif
}
#endif
