#!/usr/bin/env python3
"""Retrieve benchmark: one study of N CT images (512x512 unless --size, 16-bit) served by DCMTK's dcmqrscp on
loopback, retrieved whole by our movescu, by DCMTK's movescu (as it comes, and with
TCP_NODELAY=1 in its environment) and by pynetdicom's movescu, in turns, R rounds. Prints the
medians (wall time, images/s, MB/s, CPU seconds, peak RSS, and the CPU seconds dcmqrscp
spent serving the run) and our ratio to each. On loopback the kernel's TCP work for a
segment lands in whichever process's system call set it off (an ACK we send can run the
archive's transmit of what it held back, and our receive of it, in our time), so the CPU of
the retriever and the archive together is given too: what the whole retrieve cost the machine.

  Scripts/bench/retrieve.py [--images 1000] [--rounds 5] [--only ours,dcmtk,...] [--no-build]
                            [--baseline PATH] [--cpus 0 | --apart]

--cpus runs the archive and every tool on the CPUs listed (as taskset does, "0" or "0,1"):
on one CPU, the retrieve and the archive cannot run at the same time, which shows what the
work costs without the two competing for the cores. --apart pins the archive to the last CPU
and the retrievers to the others instead, as if the archive ran on another machine.

--baseline runs another build of our movescu (an earlier commit's, say) as one more tool in
the same rounds, for a change's before and after.
"""
import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

TOOLS = ["ours", "dcmtk", "dcmtk-nodelay", "pynetdicom"]
BASELINE = [None]


def command(tool, movescu, port, archive_port, study, out):
    keys = ["-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=" + study]
    ae = {"ours": "OURS", "baseline": "BASELINE", "dcmtk": "DCMTK", "dcmtk-nodelay": "DCMTKND", "pynetdicom": "PYNET"}[tool]
    if tool in ("ours", "baseline"):
        return [movescu if tool == "ours" else BASELINE[0], "--batch", "-S", "-aet", ae, "-aem", ae, "-aec", "ARCHIVE", "+P", str(port), "-od", out] + keys + [
            "localhost", str(archive_port)], None
    if tool.startswith("dcmtk"):
        env = dict(os.environ)
        if tool == "dcmtk-nodelay":
            env["TCP_NODELAY"] = "1"
        return ["/usr/bin/movescu", "-S", "-aet", ae, "-aem", ae, "-aec", "ARCHIVE", "+P", str(port), "-od", out] + keys + [
            "localhost", str(archive_port)], env
    return [sys.executable, "-m", "pynetdicom", "movescu", "localhost", str(archive_port), "-S", "-aet", ae, "-aem", ae,
            "-aec", "ARCHIVE", "--store", "--store-port", str(port), "--store-aet", ae, "-od", out] + keys, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--size", type=int, default=512, help="rows and columns of the CT images")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default=",".join(TOOLS))
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--baseline", help="another build of our movescu to run as 'baseline'")
    parser.add_argument("--cpus", help="comma-separated CPUs to run the archive and the tools on (default: all)")
    parser.add_argument("--apart", action="store_true",
                        help="pin the sender (or archive) to the last CPU and the receiver to the others")
    args = parser.parse_args()
    if args.apart:
        if args.cpus:
            parser.error("--apart and --cpus exclude each other")
        b.apart()
    tools = [t for t in args.only.split(",") if t]
    if args.baseline:
        BASELINE[0] = os.path.abspath(args.baseline)
        tools.insert(1, "baseline")
    movescu = b.ours(build=not args.no_build)
    if args.cpus:
        try:
            os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})
        except (ValueError, OSError) as error:
            parser.error("--cpus %s: %s" % (args.cpus, error))
    folder, study, total, count = b.corpus(args.images, size=args.size)
    ports = {t: b.free_port() for t in tools}
    aes = {"ours": "OURS", "baseline": "BASELINE", "dcmtk": "DCMTK", "dcmtk-nodelay": "DCMTKND", "pynetdicom": "PYNET"}
    archive = b.Archive(folder, {aes[t]: ports[t] for t in tools})
    results = {t: [] for t in tools}
    os.makedirs(b.OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="bench-retrieve-", dir=b.OUT)
    try:
        for round_ in range(args.rounds):
            for tool in b.in_turn(tools, round_):
                out = os.path.join(work, "%s-%d" % (tool, round_))
                os.makedirs(out)
                argv, env = command(tool, movescu, ports[tool], archive.port, study, out)
                log = os.path.join(work, "%s-%d.log" % (tool, round_))
                served = archive.cpu()
                status, wall, cpu, rss = b.measure(argv, env=env, log=log, warm=total + total // 8)
                served = archive.cpu() - served
                got = b.count_files(out)
                if got != count or status != 0:
                    print("%s round %d: exit %d, %d of %d files (log %s)" % (tool, round_ + 1, status, got, count, log), file=sys.stderr)
                results[tool].append((wall, cpu, rss, served, cpu + served))
                print("round %d %-14s %6.2f s  cpu %6.2f s  rss %6.1f MB  files %d  archive cpu %5.2f s"
                      % (round_ + 1, tool, wall, cpu, rss, got, served), file=sys.stderr)
                shutil.rmtree(out)
    finally:
        archive.stop()
        shutil.rmtree(work, ignore_errors=True)

    mb = total / 1e6
    medians = {t: b.column_medians(results[t], 5) for t in tools}
    rows = []
    for t in tools:
        wall, cpu, rss, served, both = medians[t]
        row = [t, "%.2f" % wall, "%.0f" % (count / wall), "%.1f" % (mb / wall), "%.2f" % cpu, "%.0f" % rss, "%.2f" % served,
               "%.2f" % both]
        if "ours" in medians and t != "ours":
            row += ["%.2f" % (medians["ours"][0] / wall), "%.2f" % (medians["ours"][1] / cpu), "%.2f" % (medians["ours"][4] / both)]
        else:
            row += ["", "", ""]
        rows.append(row)
    print("%d CT images of %dx%d, %.0f MB, one study, dcmqrscp on loopback, output in %s; medians of %d rounds; %s%s"
          % (count, args.size, args.size, mb, b.OUT, args.rounds, b.machine(),
             "; everything on CPU(s) %s" % args.cpus if args.cpus else ""))
    print(b.table(["tool", "wall s", "images/s", "MB/s", "CPU s", "peak RSS MB", "archive CPU s", "CPU s with archive's",
                   "ours/theirs wall", "ours/theirs CPU", "ours/theirs CPU with archive's"], rows))


if __name__ == "__main__":
    main()
