#!/usr/bin/env python3
"""Console under load: a study of N small CT images (64x64; 10,000 by default) served by DCMTK's
dcmqrscp, retrieved by our movescu headless (--batch) and in the console (run in tmux, a
120x40 terminal), in turns. Reports the retrieve's own duration both ways, the console's
frames per second while the retrieve ran and the longest pause between two frames (from
MOVESCU_CONSOLE_STATS), and the console/batch time ratio. Targets: at least 10 frames a
second, and the console no slower than --batch.

  Scripts/bench/console-load.py [--images 10000] [--rounds 3] [--no-build]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402


def retrieve_seconds(text):
    match = re.search(r"Retrieved (\d+) object\(s\).* in ([0-9.]+) s", text)
    return (int(match.group(1)), float(match.group(2))) if match else (0, float("nan"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if not shutil.which("tmux"):
        sys.exit("tmux is needed")
    movescu = b.ours(build=not args.no_build)
    folder, study, total, count = b.corpus(args.images, size=64)
    port = b.free_port()
    archive = b.Archive(folder, {"OURS": port})
    os.makedirs(b.OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="bench-console-", dir=b.OUT)
    common = ["-v", "-S", "-aet", "OURS", "-aem", "OURS", "-aec", "ARCHIVE", "+P", str(port)]
    keys = ["-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=" + study, "localhost", str(archive.port)]
    batch, console, fps, gaps = [], [], [], []

    def run_batch(round_):
        out = os.path.join(work, "batch-%d" % round_)
        os.makedirs(out)
        log = os.path.join(work, "batch-%d.log" % round_)
        b.measure([movescu, "--batch"] + common + ["-od", out] + keys, log=log)
        got, seconds = retrieve_seconds(open(log).read())
        batch.append(seconds)
        print("round %d batch    %d objects in %.2f s" % (round_ + 1, got, seconds), file=sys.stderr)
        shutil.rmtree(out)

    def run_console(round_):
        out = os.path.join(work, "console-%d" % round_)
        os.makedirs(out)
        stats = os.path.join(work, "stats-%d" % round_)
        log = os.path.join(work, "console-%d.log" % round_)
        socket = "bench-%d-%d" % (os.getpid(), round_)
        command = "MOVESCU_CONSOLE_STATS=%s LANG=C.UTF-8 %s %s 2>%s" % (
            stats, movescu, " ".join(common + ["-od", out] + keys), log)
        subprocess.run(["tmux", "-L", socket, "new-session", "-d", "-x", "120", "-y", "40", command], check=True)
        deadline = time.time() + 600
        while not os.path.exists(stats) and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(0.2)
        subprocess.run(["tmux", "-L", socket, "kill-server"], stderr=subprocess.DEVNULL)
        fields = open(stats).read().split()
        values = dict(zip(fields[0::2], fields[1::2]))
        got, seconds = retrieve_seconds(open(log).read())
        console.append(seconds)
        fps.append(int(values["running-frames"]) / seconds)
        gaps.append(float(values["longest-gap"]))
        print("round %d console  %d objects in %.2f s, %.1f frames/s, longest pause %.3f s"
              % (round_ + 1, got, seconds, fps[-1], gaps[-1]), file=sys.stderr)
        shutil.rmtree(out)

    try:
        # The two take turns at running first (whichever runs first in a round pays more).
        for round_ in range(args.rounds):
            for run in b.in_turn([run_batch, run_console], round_):
                run(round_)
    finally:
        archive.stop()
        shutil.rmtree(work, ignore_errors=True)
    rows = [["--batch", "%.2f" % b.median(batch), "%.0f" % (count / b.median(batch)), "", ""],
            ["console", "%.2f" % b.median(console), "%.0f" % (count / b.median(console)),
             "%.1f" % b.median(fps), "%.3f" % max(gaps)]]
    print("%d CT images of 64x64 (%.0f MB), dcmqrscp on loopback, output in %s; medians of %d rounds; %s"
          % (count, total / 1e6, b.OUT, args.rounds, b.machine()))
    print(b.table(["front end", "retrieve s", "objects/s", "frames/s while running", "longest pause s"], rows))
    print("console/batch time: %.2f; targets (>= 10 frames/s, console no slower than batch): %s"
          % (b.median(console) / b.median(batch),
             "met" if b.median(fps) >= 10 and b.median(console) <= b.median(batch) * 1.05 else "NOT met"))


if __name__ == "__main__":
    main()
