#!/usr/bin/env python3
"""The gigabyte's slow rounds by where the sender and the receiver run, with a canary for the
host. Some rounds of the gigabyte take twice as long as the rest. In interleaved rounds
(medians, the rounds printed), the large object goes from the lean sender (rawstore.py) to
our storage SCP (receive-bench) on the disk:

  free       placement left to the scheduler, as large.py does by default
  apart      the receiver pinned to the first CPU this script may use, the sender to the last
  together   both pinned to the first CPU: what a round costs when the two share one CPU
  cp         the copy the target is measured against

(On a machine with more than two CPUs, large.py --apart gives the receiver all but the last.)
Before each round runs a canary: two processes that each run the same fixed loop of Python
byte code, pinned to those two CPUs at once, next to one such process alone. If the host had
taken one of the two CPUs away at that moment (so that a pair of processes could only take
turns), the pair's slower loop would take about twice as long as the lone one. It is a spot
check of some 0.2 s before the round, not a watch over the round.

For the rounds that are not `cp` it also takes the receiver's CPU time and the system's TCP
counters (nstat, from iproute2) before and after, and prints their medians by placement, for
free and apart split into fast rounds and slow ones (more than 1.5 times the fastest round):
TCP segments received on the machine (TcpInSegs: the sender's data and the receiver's ACKs,
and any other TCP traffic meanwhile), segments that arrived while the receiver held its
socket and were queued to its backlog (TCPBacklogCoalesce: processed by the receiver when it
lets go), segments merged into the receive queue as they arrived (TCPRcvCoalesce), ACKs
taken by the kernel's fast path (TCPHPAcks), segments queued out of order, and
retransmitted segments (spurious ones included: nothing is lost on loopback).

  Scripts/bench/experiments/placement.py [--mb 1000] [--rounds 16] [--out DIR]

Wall time as in large.py (from the sender's connect to the receiver's exit); needs two CPUs
and the release build of receive-bench. A round that fails stops the run and keeps its log.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import benchlib as b  # noqa: E402

MODES = ["free", "apart", "together", "cp"]
# Each canary process times its own loop, so that its start-up is not counted.
SPIN = "import time\nt = time.monotonic()\nx = 0\nfor i in range(3000000): x += i\nprint(time.monotonic() - t)"


def spin(cpus):
    """Starts one canary loop per CPU in `cpus` at once; their loop times in seconds."""
    processes = [subprocess.Popen([sys.executable, "-c", SPIN], stdout=subprocess.PIPE, text=True,
                                  preexec_fn=(lambda c=c: os.sched_setaffinity(0, {c}))) for c in cpus]
    return [float(p.communicate()[0]) for p in processes]


COUNTERS = ["TcpInSegs", "TcpExtTCPBacklogCoalesce", "TcpExtTCPRcvCoalesce", "TcpExtTCPHPAcks", "TcpExtTCPOFOQueue",
            "TcpRetransSegs"]


def counters():
    """The TCP counters above, as nstat gives them since boot ({} without nstat)."""
    try:
        out = subprocess.run(["nstat", "-asz"] + COUNTERS, capture_output=True, text=True).stdout
    except OSError:
        return {}
    values = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] in COUNTERS and fields[1].isdigit():
            values[fields[0]] = int(fields[1])
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=16)
    parser.add_argument("--out", default=os.path.join(b.CACHE, "out"))
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not counters():
        print("placement.py: nstat (iproute2) gives no TCP counters here; their table is left out", file=sys.stderr)
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        sys.exit("placement.py: needs two CPUs, this process may use %s" % cpus)
    receiver_cpu, sender_cpu = cpus[0], cpus[-1]
    bench = os.path.join(b.ROOT, ".build", "release", "receive-bench")
    if not os.access(bench, os.X_OK):
        sys.exit("placement.py: no release build of receive-bench (swift build -c release --product receive-bench)")
    _, _, path, size = b.large_corpus(args.mb)
    rawstore = [sys.executable, os.path.join(os.path.dirname(HERE), "rawstore.py"), path, "localhost"]
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="bench-placement-", dir=args.out)
    walls = {m: [] for m in MODES}
    canary = []
    tcp = []  # (mode, wall, {counter: delta}) of the rounds that are not cp
    try:
        for round_ in range(args.rounds):
            alone = spin([receiver_cpu])[0]
            pair = spin([receiver_cpu, sender_cpu])
            canary.append(max(pair) / alone)
            for mode in b.in_turn(MODES, round_):
                out = os.path.join(work, mode)
                os.makedirs(out)
                os.sync()
                b.warm_memory(size + size // 8)
                log = os.path.join(work, mode + ".log")
                cpu = None
                if mode == "cp":
                    status, wall, _, _ = b.measure(["cp", path, out + "/copy.dcm"], log=log)
                else:
                    on = {"free": (None, None), "apart": (receiver_cpu, sender_cpu),
                          "together": (receiver_cpu, receiver_cpu)}[mode]
                    pin = [[] if c is None else ["taskset", "-c", str(c)] for c in on]
                    before = counters()
                    status, wall, cpu, _ = b.receive_pair(pin[0] + [bench, out, "1"], pin[1] + rawstore, log)
                    after = counters()
                if status != 0 or b.count_files(out) != 1:
                    failed = "%s round %d: exit %d, %d file(s); the work folder %s is kept (log %s)" % (
                        mode, round_ + 1, status, b.count_files(out), work, log)
                    sys.exit(failed)
                if cpu is not None:
                    delta = {k: after[k] - before[k] for k in after if k in before}
                    delta["receiver CPU s"] = cpu
                    tcp.append((mode, wall, delta))
                walls[mode].append(wall)
                print("round %d %-9s %5.2f s" % (round_ + 1, mode, wall), file=sys.stderr)
                shutil.rmtree(out)
    except SystemExit:
        raise
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    shutil.rmtree(work, ignore_errors=True)
    cp = statistics.median(walls["cp"])
    rows = [[m, "%.2f" % statistics.median(walls[m]), "%.2f" % (statistics.median(walls[m]) / cp),
             " ".join("%.2f" % w for w in walls[m])] for m in MODES]
    print("the multi-frame object of %.0f MB from the lean sender to receive-bench, onto %s; medians of %d rounds; "
          "receiver on CPU %d, sender on CPU %d where pinned; %s"
          % (size / 1e6, args.out, args.rounds, receiver_cpu, sender_cpu, b.machine()))
    print(b.table(["placement", "wall s", "wall / cp", "rounds, wall s"], rows))
    print("canary, the slower of two loops run at once on CPUs %d and %d against one alone: median %.2f, "
          "largest %.2f (2 would mean one CPU for both)" % (receiver_cpu, sender_cpu, statistics.median(canary), max(canary)))
    columns = ["receiver CPU s"] + (COUNTERS if any(k in c for _, _, c in tcp for k in COUNTERS) else [])
    fastest = min(w for _, w, _ in tcp)
    groups = []
    for mode in MODES[:3]:
        if mode == "together":
            groups.append((mode, [c for m, _, c in tcp if m == mode]))
            continue
        groups.append((mode + ", fast", [c for m, w, c in tcp if m == mode and w <= 1.5 * fastest]))
        groups.append((mode + ", slow", [c for m, w, c in tcp if m == mode and w > 1.5 * fastest]))
    rows = [[name, str(len(group))] + [("%.2f" if k.endswith(" s") else "%.0f") % statistics.median(c.get(k, 0) for c in group)
                                       if group else "" for k in columns]
            for name, group in groups]
    print("per round, medians; fast: up to 1.5 times the fastest round (%.2f s); the counters are the whole machine's:" % fastest)
    print(b.table(["group", "rounds"] + [k.replace("TcpExt", "") for k in columns], rows))


if __name__ == "__main__":
    main()
