/* A minimal receiver for floor.py: what a splice path for large values would cost with the
 * framing a storage SCP sees. The bytes come as P-DATA-TF PDUs, each with one PDV (a 6-byte
 * PDU header and a 6-byte item header before every fragment, as DCMTK's storescu sends them).
 * The headers are read with recv(2); each fragment's value goes from the socket into a pipe
 * with splice(2) and, once half the pipe (512 KiB) has gathered there, from the pipe into the
 * file: two system calls for every PDU, and one more every 32 PDUs of 16 KB. The
 * file's blocks are allocated first (posix_fallocate), as our storage SCP does for a large value
 * on ext4. No DICOM beyond the framing: no association, no command set.
 *
 *   framed_splice PATH SIZE    listens on a free loopback port and prints it, takes one
 *                              connection, writes SIZE bytes of fragment values to PATH.part,
 *                              renames it to PATH and answers one byte ('k').
 *
 * Built by floor.py with cc -O2. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PIPE_SIZE (1 << 20)

static void die(const char *what) {
    fprintf(stderr, "framed_splice: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void receive_exactly(int fd, unsigned char *into, size_t count) {
    while (count) {
        ssize_t n = recv(fd, into, count, MSG_WAITALL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { errno = n == 0 ? ECONNRESET : errno; die("reading a header"); }
        into += n;
        count -= (size_t)n;
    }
}

/* Moves what the pipe holds into the file. */
static void drain(int pipe_out, int file, size_t *held) {
    while (*held) {
        ssize_t n = splice(pipe_out, NULL, file, NULL, *held, SPLICE_F_MOVE);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("splicing into the file");
        *held -= (size_t)n;
    }
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: framed_splice PATH SIZE\n"); return 2; }
    const char *path = argv[1];
    long long size = atoll(argv[2]);

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t length = sizeof address;
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 1)
        || getsockname(listener, (struct sockaddr *)&address, &length)) die("listening");
    printf("%d\n", ntohs(address.sin_port));
    fflush(stdout);
    int conn = accept(listener, NULL, NULL);
    if (conn < 0) die("accepting");

    char part[4096];
    snprintf(part, sizeof part, "%s.part", path);
    int file = open(part, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (file < 0) die("creating the file");
    if (size > 0) {
        int error = posix_fallocate(file, 0, size);
        if (error) { errno = error; die("allocating the file's blocks"); }
    }
    int pipes[2];
    if (pipe(pipes)) die("making the pipe");
    /* The pipe's real size (the kernel may refuse a MiB: the user's pipe pages are limited). */
    (void)fcntl(pipes[1], F_SETPIPE_SZ, PIPE_SIZE);
    int capacity = fcntl(pipes[1], F_GETPIPE_SZ);
    if (capacity <= 0) die("reading the pipe's size");
    /* At most half of it held: a value not aligned to pages takes a slot more than its pages,
     * and a full pipe would block the splice from the socket with no one to drain it. */
    size_t most = (size_t)capacity / 2;

    long long left = size;
    size_t held = 0;
    unsigned char header[12];
    while (left > 0) {
        receive_exactly(conn, header, sizeof header);
        uint32_t pdu = (uint32_t)header[2] << 24 | header[3] << 16 | header[4] << 8 | header[5];
        uint32_t pdv = (uint32_t)header[6] << 24 | header[7] << 16 | header[8] << 8 | header[9];
        if (header[0] != 0x04 || pdv + 4 != pdu || pdv < 2) {
            fprintf(stderr, "framed_splice: not a P-DATA-TF PDU with one PDV\n");
            return 1;
        }
        size_t value = pdv - 2;
        if ((long long)value > left) {
            fprintf(stderr, "framed_splice: a PDU brings more than the %lld bytes asked for\n", size);
            return 1;
        }
        while (value) {
            if (held >= most) drain(pipes[0], file, &held);
            size_t want = value < most - held ? value : most - held;
            ssize_t n = splice(conn, NULL, pipes[1], NULL, want, SPLICE_F_MOVE | SPLICE_F_MORE);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) { errno = n == 0 ? ECONNRESET : errno; die("splicing from the socket"); }
            value -= (size_t)n;
            held += (size_t)n;
            left -= n;
        }
    }
    drain(pipes[0], file, &held);
    if (close(file) || rename(part, path)) die("closing and renaming the file");
    if (send(conn, "k", 1, 0) != 1) die("answering");
    close(conn);
    return 0;
}
