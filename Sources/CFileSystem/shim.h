#ifndef CFILESYSTEM_SHIM_H
#define CFILESYSTEM_SHIM_H
/* fallocate(2), which Swift's Glibc module leaves out (it is declared only under _GNU_SOURCE).
   Called through syscall(2), so that no feature macro has to reach a system header that the
   Glibc module has already compiled without it. */
#include <errno.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <linux/falloc.h>
#endif

/* What the file system holding fd offers a large value: the bytes this process may still
   write to it (root also has the blocks kept back for it), -1 when fstatfs fails; and in
   *pays whether allocating blocks ahead of the writes pays there: 1 on ext4 (unwritten
   extents, nothing cleared: measured about a sixth less CPU for a gigabyte written after
   it), 0 elsewhere, tmpfs among them, which clears every page it allocates ahead (measured
   a tenth more). */
static inline long long cfilesystem_room(int fd, int *pays) {
    *pays = 0;
#if defined(__linux__)
    struct statfs s;
    if (fstatfs(fd, &s) != 0) return -1;
    *pays = s.f_type == 0xEF53; /* EXT4_SUPER_MAGIC, shared with ext2 and ext3, where fallocate fails */
    unsigned long long blocks = geteuid() == 0 ? s.f_bfree : s.f_bavail;
    unsigned long long size = s.f_frsize ? s.f_frsize : s.f_bsize;
    if (size && blocks > (unsigned long long)0x7fffffffffffffffLL / size) return 0x7fffffffffffffffLL;
    return (long long)(blocks * size);
#else
    (void)fd;
    return -1;
#endif
}

/* Allocates the blocks of [offset, offset + length) of the file open as fd, the file's size
   unchanged (FALLOC_FL_KEEP_SIZE). 0 on success; -1 with errno set, EOPNOTSUPP where the
   system or the file system cannot. Every argument is passed to syscall(2) as a long, the
   width it reads them with. */
static inline int cfilesystem_reserve(int fd, long long offset, long long length) {
#if defined(__linux__) && defined(SYS_fallocate) && defined(__LP64__)
    return (int)syscall(SYS_fallocate, (long)fd, (long)FALLOC_FL_KEEP_SIZE, (long)offset, (long)length);
#else
    (void)fd; (void)offset; (void)length;
    errno = EOPNOTSUPP;
    return -1;
#endif
}
#endif
