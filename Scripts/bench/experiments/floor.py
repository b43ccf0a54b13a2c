#!/usr/bin/env python3
"""The floor under any network receiver of the large object: what it costs to move a gigabyte
from a socket into a file on this machine, next to our storage SCP and to a plain copy.

The large-object target compares our receiver with `cp`, which copies inside the kernel
(copy_file_range). A receiver cannot: the bytes come out of a socket. This script measures, in
interleaved rounds on the same disk (medians, with the rounds printed):

  ours           receive-bench (our storage SCP, 16 KB PDUs as it offers by default) fed by
                 rawstore.py, the lean C-STORE sender; the C-STORE's whole path, response and
                 rename included.
  ours-128K      the same with 128 KB PDUs offered (movescu's largest, -pdu 131072).
  ours-spool     "ours" fed by rawstore.py --spool /dev/shm: its PDUs laid out beforehand and
                 sent with sendfile(2), as the raw file is to the minimal receivers below, so
                 that the receiver, like them, reads bytes no longer in the caches (from the
                 map, the sender's copy has just put them there).
  recv-write     a minimal receiver: recv_into a 1 MiB buffer, write(2) it to the file. No
                 DICOM, no framing; the sender sends the raw file with sendfile(2).
  recv-falloc    recv-write with the file's blocks allocated first (posix_fallocate), so that
                 ext4 does not reserve and map them page by page as the writes come.
  recv-lowat     recv-write with SO_RCVLOWAT at 256 KB (less for the last bytes): woken once
                 that much has come, not for every segment.
  recv-mmap      one copy instead of two: the file's blocks allocated, the file mapped, and
                 recv_into the mapping, so the socket's bytes go straight into the page cache.
  recv-rcvbuf    recv-write with SO_RCVBUF of 8 MiB set on the listener (the kernel doubles it),
                 which fixes the receive window instead of letting the kernel tune it.
  splice         a minimal receiver that never touches the bytes: splice(2) from the socket
                 into a pipe and from the pipe into the file.
  splice-16K     splice with the framing a storage SCP gets (framed_splice.c, built with cc):
  splice-128K    the file's bytes sent as P-DATA-TF PDUs of 16 KB (the default) or 128 KB, one
                 PDV each, from a spool in /dev/shm; each PDU's two headers read with recv(2),
                 its value spliced, the file's blocks allocated first. What a splice path for
                 large values in our receiver could reach at best.
  cp, dd         the copy, and dd's write(2) of as many zero bytes from memory.

Wall time runs from the sender's start (its connect; rawstore.py's first byte of the
C-STORE) to the receiver's exit; CPU is the receiver's (for cp and dd, theirs). The output
goes to --out (default: the benchmarks' cache on the disk).

  Scripts/bench/experiments/floor.py [--mb 1000] [--rounds 5] [--out DIR] [--only a,b]
                                     [--baseline RECEIVE-BENCH] [--apart]

--baseline runs another build of receive-bench (an earlier commit's) as "baseline" in the same
rounds, fed as "ours" is. --apart pins the senders to the last CPU and the receivers (and cp,
dd) to the others (benchlib.apart).
"""
import argparse
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import benchlib as b  # noqa: E402

CHUNK = 1 << 20
LOWAT = 256 << 10


def receiver_main(mode, path, size):
    """The minimal receivers, run as `floor.py --receive MODE PATH SIZE`: listen, print the
    port, take one connection, put `size` bytes into PATH (through a part name, renamed)."""
    listener = socket.socket()
    if mode == "recv-rcvbuf":
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    print(listener.getsockname()[1], flush=True)
    conn, _ = listener.accept()
    part = path + ".part"
    # A shared mapping that is written needs the file open for reading too.
    fd = os.open(part, (os.O_RDWR if mode == "recv-mmap" else os.O_WRONLY) | os.O_CREAT | os.O_TRUNC, 0o644)
    left = size
    if mode in ("recv-falloc", "recv-mmap"):
        os.posix_fallocate(fd, 0, size)
    if mode == "recv-mmap":
        import mmap
        mapping = mmap.mmap(fd, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        view = memoryview(mapping)
        offset = 0
        while offset < size:
            n = conn.recv_into(view[offset:], min(CHUNK, size - offset))
            if n == 0:
                sys.exit("floor: the sender closed early")
            offset += n
        view.release()
        mapping.close()
        left = 0
    if mode in ("recv-write", "recv-falloc", "recv-lowat", "recv-rcvbuf"):
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        lowat = 0
        while left:
            if mode == "recv-lowat" and lowat != min(LOWAT, left):
                lowat = min(LOWAT, left)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, lowat)
            n = conn.recv_into(view, min(CHUNK, left))
            if n == 0:
                sys.exit("floor: the sender closed early")
            done = 0
            while done < n:
                done += os.write(fd, view[done:n])
            left -= n
    else:
        r, w = os.pipe()
        try:
            import fcntl
            fcntl.fcntl(w, 1031, CHUNK)  # F_SETPIPE_SZ
        except OSError:
            pass
        while left:
            n = os.splice(conn.fileno(), w, min(CHUNK, left))
            if n == 0:
                sys.exit("floor: the sender closed early")
            moved = 0
            while moved < n:
                moved += os.splice(r, fd, n - moved)
            left -= n
    os.close(fd)
    os.rename(part, path)
    conn.sendall(b"k")  # the sender waits for this, as a C-STORE sender waits for its response
    conn.close()


def sender_main(path, port):
    """`floor.py --send PATH PORT`: connect, say when, sendfile the whole file, wait for the
    receiver's one byte."""
    print("connecting at %.6f" % time.monotonic(), flush=True)
    sock = socket.create_connection(("127.0.0.1", port))
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        offset = 0
        while offset < size:
            offset += os.sendfile(sock.fileno(), f.fileno(), offset, size - offset)
    if sock.recv(1) != b"k":
        sys.exit("floor: no answer from the receiver")


def framed_spool(path, pdu, spool):
    """Writes the file's bytes to `spool` as P-DATA-TF PDUs of `pdu` bytes (the PDU length
    field), one PDV of presentation context 1 each, the last one flagged last."""
    value = pdu - 6
    with open(path, "rb") as source, open(spool, "wb") as out:
        size = os.fstat(source.fileno()).st_size
        sent = 0
        while sent < size:
            chunk = source.read(min(value, size - sent))
            sent += len(chunk)
            out.write(struct.pack(">BBIIBB", 4, 0, len(chunk) + 6, len(chunk) + 2, 1, 2 if sent == size else 0))
            out.write(chunk)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--receive":
        return receiver_main(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    if len(sys.argv) > 1 and sys.argv[1] == "--send":
        return sender_main(sys.argv[2], int(sys.argv[3]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(b.CACHE, "out"))
    parser.add_argument("--only")
    parser.add_argument("--baseline", help="another build of receive-bench, run as one more receiver ('baseline')")
    parser.add_argument("--apart", action="store_true",
                        help="pin the sender (or archive) to the last CPU and the receiver to the others")
    args = parser.parse_args()
    if args.apart:
        b.apart()
    subprocess.run(["swift", "build", "-c", "release", "--product", "receive-bench"], cwd=b.ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    bench = os.path.join(b.ROOT, ".build", "release", "receive-bench")
    _, _, path, size = b.large_corpus(args.mb)
    tools = ["ours", "ours-128K", "ours-spool", "recv-write", "recv-falloc", "recv-lowat", "recv-mmap",
             "recv-rcvbuf", "splice", "splice-16K",
             "splice-128K", "cp", "dd"]
    if args.only:
        tools = [t for t in tools if t in args.only.split(",")]
    if args.baseline:
        tools.insert(1, "baseline")
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="bench-floor-", dir=args.out)
    results = {t: [] for t in tools}
    me = [sys.executable, os.path.abspath(__file__)]
    # The framed spools (a gigabyte of RAM each) go in the end however the run ends.
    spools = {t: "/dev/shm/floor-%d-%s.pdus" % (os.getpid(), t) for t in tools if t.startswith("splice-")}
    framed = os.path.join(b.CACHE, "framed_splice")
    rawstore = [sys.executable, os.path.join(os.path.dirname(HERE), "rawstore.py"), path, "127.0.0.1"]
    # Options before the file: receive_pair appends the port, the last positional argument.
    rawstore_spooled = rawstore[:2] + ["--spool", "/dev/shm"] + rawstore[2:]
    try:
        if spools:
            subprocess.run(["cc", "-O2", "-Wall", "-o", framed, os.path.join(HERE, "framed_splice.c")], check=True)
        for t, spool in spools.items():
            framed_spool(path, 16384 if t == "splice-16K" else 131072, spool)
        for round_ in range(args.rounds):
            for tool in b.in_turn(tools, round_):
                out = os.path.join(work, "%s-%d" % (tool, round_))
                os.makedirs(out)
                log = out + ".log"
                os.sync()
                # Twice the object, for every receiver alike: the spool of ours-spool takes as
                # much memory as the received copy (see benchlib.warm_memory).
                b.warm_memory(2 * size + size // 8)
                if tool == "ours-spool":
                    status, wall, cpu, rss = b.receive_pair([bench, out, "1"], rawstore_spooled, log)
                elif tool in ("ours", "ours-128K", "baseline"):
                    argv = [os.path.abspath(args.baseline) if tool == "baseline" else bench, out, "1"] + (["0", "131072"] if tool == "ours-128K" else [])
                    status, wall, cpu, rss = b.receive_pair(argv, rawstore, log)
                elif tool in ("recv-write", "recv-falloc", "recv-lowat", "recv-mmap", "recv-rcvbuf", "splice"):
                    status, wall, cpu, rss = b.receive_pair(me + ["--receive", tool, out + "/object.dcm", str(size)],
                                                        me + ["--send", path], log)
                elif tool in spools:
                    status, wall, cpu, rss = b.receive_pair([framed, out + "/object.dcm", str(size)],
                                                        me + ["--send", spools[tool]], log)
                elif tool == "cp":
                    status, wall, cpu, rss = b.measure(["cp", path, out + "/copy.dcm"], log=log)
                else:
                    status, wall, cpu, rss = b.measure(["dd", "if=/dev/zero", "of=" + out + "/zeros.bin", "bs=1M",
                                                        "count=%d" % -(-size // CHUNK), "status=none"], log=log)
                if status != 0 or b.count_files(out) != 1:
                    print("%s: exit %d, %d file(s); see %s" % (tool, status, b.count_files(out), log), file=sys.stderr)
                    sys.exit(1)
                results[tool].append((wall, cpu, rss))
                print("round %d %-11s %6.2f s  cpu %6.2f s  rss %6.1f MB" % (round_ + 1, tool, wall, cpu, rss),
                      file=sys.stderr)
                shutil.rmtree(out)
    except SystemExit:
        # A failed round's log is named in the message: kept, with the rest of the work folder.
        print("floor: the work folder %s is kept" % work, file=sys.stderr)
        raise
    finally:
        for spool in spools.values():
            try:
                os.unlink(spool)
            except FileNotFoundError:
                pass
    shutil.rmtree(work, ignore_errors=True)
    med = {t: b.column_medians(results[t]) for t in tools}
    base = med.get("cp")
    rows = [[t, "%.2f" % med[t][0], "%.0f" % (size / 1e6 / med[t][0]), "%.2f" % med[t][1], "%.0f" % med[t][2],
             "%.2f" % (med[t][0] / base[0]) if base else "",
             " ".join("%.2f" % r[0] for r in results[t])] for t in tools]
    print("one object of %.0f MB into %s; medians of %d rounds; %s" % (size / 1e6, args.out, args.rounds, b.machine()))
    print(b.table(["receiver", "wall s", "MB/s", "CPU s", "peak RSS MB", "wall / cp", "rounds, wall s"], rows))


if __name__ == "__main__":
    sys.exit(main())
