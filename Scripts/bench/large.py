#!/usr/bin/env python3
"""Large-object benchmark: one multi-frame object of about 1 GB (--mb) served by DCMTK's
dcmqrscp, retrieved by our movescu and by DCMTK's movescu (TCP_NODELAY=1), next to a plain
file copy (cp) of the same file on the same disk. Reports medians of wall time, MB/s, CPU
seconds and peak RSS; the targets are our peak RSS under 100 MB and our time within 1.5x of
the copy. "ours --ignore" receives the object without writing it: the sender and the network
alone, for where the time goes.

dcmqrscp cannot send a gigabyte as fast as cp copies it (it takes about 2.5 times as long
even when we throw the object away), so the copy target is also checked where the sender is
not the limit: "receive-lean" is our storage SCP (receive-bench) fed by rawstore.py,
which maps the file and sends its bytes with a few system calls. Its row is the receiver's
CPU and peak RSS; the wall time runs from the sender's connect (after its start-up, which
importing pydicom makes 0.3-0.4 s long) to the receiver's exit, when the object is on disk
under its final name (not to the sender's exit, which unmapping the gigabyte delays).

"dd" writes as many bytes from memory (/dev/zero, 1 MiB blocks) to the same disk: write(2)
into the page cache, the step every receiver ends with. On this VM that step alone swings
from 0.24 to 3.1 s per gigabyte from one run to the next (the kernel's copy into fresh page
cache pages), so read the rounds, not only the medians.

  Scripts/bench/large.py [--mb 1000] [--rounds 3] [--no-build] [--out DIR] [--only ours,...]
                         [--baseline PATH] [--apart]

--apart pins dcmqrscp and the lean sender to the last CPU and the receivers (and cp, dd) to the
others (benchlib.apart). --baseline runs another build of our movescu (an earlier commit's,
say) as one more tool in the same rounds; --only picks tools (ours, ours --ignore,
receive-lean, dcmtk-nodelay, cp, dd).

The output goes to the disk by default (BENCH_CACHE/out), not to the RAM file system of the
other benchmarks: the target is a copy on this disk. Each measured run starts after sync(2)
and with warmed memory (benchlib.measure), so no run pays for the previous one's write-back.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--out", default=os.path.join(b.CACHE, "out"),
                        help="where the object (and the copy) is written; by default on the disk that "
                             "holds the source file (%s), as the target compares with a copy on this disk" % b.CACHE)
    parser.add_argument("--only", help="comma-separated tools of: ours, ours --ignore, receive-lean, dcmtk-nodelay, cp, dd")
    parser.add_argument("--baseline", help="another build of our movescu to run as 'baseline'")
    parser.add_argument("--apart", action="store_true",
                        help="pin the sender (or archive) to the last CPU and the receiver to the others")
    args = parser.parse_args()
    if args.apart:
        b.apart()
    movescu = b.ours(build=not args.no_build)
    if not args.no_build:
        subprocess.run(["swift", "build", "-c", "release", "--product", "receive-bench"], cwd=b.ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    bench = os.path.join(b.ROOT, ".build", "release", "receive-bench")
    folder, study, path, size = b.large_corpus(args.mb)
    ports = {"OURS": b.free_port(), "DCMTK": b.free_port()}
    archive = b.Archive(folder, ports, max_pdu=131072)
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="bench-large-", dir=args.out)
    tools = ["ours", "ours --ignore", "receive-lean", "dcmtk-nodelay", "cp", "dd"]
    if args.only:
        tools = [t for t in tools if t in args.only.split(",")] or ["ours"]
    if "ours" not in tools:
        tools.insert(0, "ours")
    if args.baseline:
        tools.insert(1, "baseline")
    results = {t: [] for t in tools}
    keys = ["-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=" + study]
    try:
        for round_ in range(args.rounds):
            for tool in b.in_turn(results, round_):
                out = os.path.join(work, "%s-%d" % (tool, round_))
                os.makedirs(out)
                env = None
                log = os.path.join(work, "%s-%d.log" % (tool, round_))
                if tool == "receive-lean":
                    argv = None
                elif tool.startswith("ours") or tool == "baseline":
                    binary = os.path.abspath(args.baseline) if tool == "baseline" else movescu
                    argv = [binary, "--batch"] + tool.split()[1:] + [
                        "-S", "-aet", "OURS", "-aem", "OURS", "-aec", "ARCHIVE", "+P", str(ports["OURS"]),
                        "-od", out] + keys + ["localhost", str(archive.port)]
                elif tool == "dcmtk-nodelay":
                    env = dict(os.environ, TCP_NODELAY="1")
                    argv = ["/usr/bin/movescu", "-S", "-aet", "DCMTK", "-aem", "DCMTK", "-aec", "ARCHIVE", "+P", str(ports["DCMTK"]),
                            "-od", out] + keys + ["localhost", str(archive.port)]
                elif tool == "dd":
                    argv = ["dd", "if=/dev/zero", "of=" + out + "/zeros.bin", "bs=1M", "count=%d" % -(-size // (1 << 20)),
                            "status=none"]
                else:
                    argv = ["cp", path, out + "/copy.dcm"]
                if argv is None:
                    status, wall, cpu, rss = lean_receive(bench, path, out, size, log)
                else:
                    status, wall, cpu, rss = b.measure(argv, env=env, log=log, warm=size + size // 8, sync=True)
                got = b.count_files(out)
                if status != 0 or got != (0 if "ignore" in tool else 1):
                    print("%s: exit %d, %d file(s)" % (tool, status, got), file=sys.stderr)
                results[tool].append((wall, cpu, rss))
                print("round %d %-15s %6.2f s  cpu %6.2f s  rss %7.1f MB" % (round_ + 1, tool, wall, cpu, rss), file=sys.stderr)
                # Each output is removed at once: three copies of a gigabyte add up.
                shutil.rmtree(out)
    finally:
        archive.stop()
        shutil.rmtree(work, ignore_errors=True)
    mb = size / 1e6
    med = {t: b.column_medians(results[t]) for t in results}
    rows = []
    for tool in results:
        wall, cpu, rss = med[tool]
        rows.append([tool, "%.2f" % wall, "%.0f" % (mb / wall), "%.2f" % cpu, "%.0f" % rss,
                     "" if tool == "ours" else "%.2f" % (med["ours"][0] / wall)])
    print("one multi-frame object of %.0f MB, output (and copy) in %s; medians of %d rounds; %s" % (mb, args.out, args.rounds, b.machine()))
    print(b.table(["tool", "wall s", "MB/s", "CPU s", "peak RSS MB", "ours/this wall"], rows))
    if "cp" in med:
        ok = med["ours"][2] < 100 and med["ours"][0] <= 1.5 * med["cp"][0]
        print("targets (peak RSS < 100 MB, time <= 1.5x the copy), retrieved from dcmqrscp: %s" % ("met" if ok else "NOT met"))
        if "receive-lean" in med:
            lean = med["receive-lean"]
            ok = lean[2] < 100 and lean[0] <= 1.5 * med["cp"][0]
            print("the same targets, received from the lean sender: %s (%.2fx the copy)"
                  % ("met" if ok else "NOT met", lean[0] / med["cp"][0]))


def lean_receive(bench, path, out, size, log):
    """receive-bench fed by rawstore.py: (status, wall s, receiver CPU s, receiver peak RSS MB).
    The status is the sender's exit status when it failed, else the receiver's."""
    os.sync()
    b.warm_memory(size + size // 8)
    rawstore = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "rawstore.py"), path, "localhost"]
    return b.receive_pair([bench, out, "1"], rawstore, log)


if __name__ == "__main__":
    main()
