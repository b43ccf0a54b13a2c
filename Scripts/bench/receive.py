#!/usr/bin/env python3
"""Receive benchmark: DCMTK's storescu (TCP_NODELAY=1) sends the corpus of N CT images to our
storage SCP (Benchmarks/receive-bench, the one movescu retrieves with) and to DCMTK's storescp
(as it comes, and with TCP_NODELAY=1), with 1, 4 and 16 associations at once (the corpus
split between them). Reports medians of wall time, images/s, MB/s and the receiver's CPU
seconds and peak RSS, the senders' CPU seconds and the receiver's and senders' together, and
our ratio to each. On loopback the kernel's TCP work for a segment lands in whichever
process's system call set it off (an ACK the receiver sends can run the sender's transmit of
what it held back, and the receive of it, in the receiver's time), so the receiver's CPU alone
depends on how it acknowledges; the sum is what the transfer cost the machine.

  Scripts/bench/receive.py [--images 1000] [--rounds 5] [--senders 1,4,16] [--no-build]
                           [--receivers ours,...] [--baseline PATH]

--baseline runs another build of receive-bench (an earlier commit's, say) as one more receiver
in the same rounds, for a change's before and after on this noisy machine.
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

RECEIVERS = ["ours", "storescp", "storescp-nodelay"]


def start_receiver(kind, out, count, bench):
    if kind in ("ours", "baseline"):
        process = subprocess.Popen([bench[kind], out, str(count)], stdout=subprocess.PIPE, text=True)
        port = int(process.stdout.readline().split()[-1])
        return process, port
    port = b.free_port()
    env = dict(os.environ)
    if kind == "storescp-nodelay":
        env["TCP_NODELAY"] = "1"
    process = subprocess.Popen(["/usr/bin/storescp", "-aet", "RECEIVER", "-od", out, str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    b.wait_listening(port)
    return process, port


def run(kind, files, senders, bench, work, tag):
    out = os.path.join(work, tag)
    os.makedirs(out)
    b.warm_memory(sum(os.path.getsize(f) for f in files) * 9 // 8)
    receiver, port = start_receiver(kind, out, len(files), bench)
    env = dict(os.environ, TCP_NODELAY="1")
    groups = [files[i::senders] for i in range(senders)]
    started = time.monotonic()
    procs = [subprocess.Popen(["/usr/bin/storescu", "-aec", "RECEIVER", "localhost", str(port)] + g, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for g in groups]
    failed, senders_cpu = 0, 0.0
    for p in procs:
        _, status, sender_usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        failed += p.returncode != 0
        senders_cpu += sender_usage.ru_utime + sender_usage.ru_stime
    # Ours exits by itself after the last object; storescp is stopped once every file is there.
    ours = kind in ("ours", "baseline")
    if not ours:
        deadline = time.monotonic() + 30
        while b.count_files(out) < len(files) and time.monotonic() < deadline:
            time.sleep(0.005)
    wall = time.monotonic() - started
    if not ours:
        receiver.send_signal(signal.SIGKILL)
    _, _, usage = os.wait4(receiver.pid, 0)
    got = b.count_files(out)
    if failed or got != len(files):
        print("%s with %d senders: %d sender(s) failed, %d of %d files" % (kind, senders, failed, got, len(files)), file=sys.stderr)
    subprocess.run(["rm", "-rf", out])
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024.0, senders_cpu, cpu + senders_cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--senders", default="1,4,16")
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--receivers", default=",".join(RECEIVERS), help="which of " + ", ".join(RECEIVERS))
    parser.add_argument("--baseline", help="another build of receive-bench to run as 'baseline'")
    args = parser.parse_args()
    receivers = [r for r in args.receivers.split(",") if r in RECEIVERS]
    if args.baseline:
        receivers.insert(1, "baseline")
    if not args.no_build:
        subprocess.run(["swift", "build", "-c", "release", "--product", "receive-bench"], cwd=b.ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    bench = {"ours": os.path.join(b.ROOT, ".build", "release", "receive-bench"),
             "baseline": os.path.abspath(args.baseline) if args.baseline else None}
    folder, _, total, count = b.corpus(args.images)
    files = sorted(os.path.join(folder, "files", f) for f in os.listdir(os.path.join(folder, "files")))
    senders_list = [int(s) for s in args.senders.split(",")]
    results = {(k, s): [] for k in receivers for s in senders_list}
    os.makedirs(b.OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="bench-receive-", dir=b.OUT)
    try:
        for round_ in range(args.rounds):
            for senders in senders_list:
                for kind in b.in_turn(receivers, round_):
                    r = run(kind, files, senders, bench, work, "%s-%d-%d" % (kind, senders, round_))
                    results[(kind, senders)].append(r)
                    print("round %d %2d sender(s) %-17s %6.2f s  cpu %6.2f s  rss %6.1f MB  senders' cpu %6.2f s  together %6.2f s"
                          % ((round_ + 1, senders, kind) + r), file=sys.stderr)
    finally:
        subprocess.run(["rm", "-rf", work])
    mb = total / 1e6
    rows = []
    for senders in senders_list:
        # The sum is a column of its own, the median of each round's sum (not a sum of medians).
        med = {k: b.column_medians(results[(k, senders)], columns=5) for k in receivers}
        for kind in receivers:
            wall, cpu, rss, senders_cpu, together = med[kind]
            row = [str(senders), kind, "%.2f" % wall, "%.0f" % (count / wall), "%.1f" % (mb / wall), "%.2f" % cpu, "%.0f" % rss,
                   "%.2f" % senders_cpu, "%.2f" % together]
            if kind == "ours" or "ours" not in med:
                row += ["", "", ""]
            else:
                ours = med["ours"]
                row += ["%.2f" % (ours[0] / wall), "%.2f" % (ours[1] / cpu), "%.2f" % (ours[4] / together)]
            rows.append(row)
    print("%d CT images, %.0f MB, sent by storescu (TCP_NODELAY=1), output in %s; medians of %d rounds; %s"
          % (count, mb, b.OUT, args.rounds, b.machine()))
    print(b.table(["senders", "receiver", "wall s", "images/s", "MB/s", "receiver CPU s", "peak RSS MB",
                   "senders' CPU s", "CPU s with the senders'", "ours/theirs wall", "ours/theirs CPU",
                   "ours/theirs CPU with the senders'"], rows))


if __name__ == "__main__":
    main()
