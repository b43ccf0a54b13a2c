#!/usr/bin/env python3
"""Where the CPU time goes: one retrieve by our movescu and one by DCMTK's movescu (with
TCP_NODELAY=1), each under `perf record -g`, and the samples sorted into what they were
doing, side by side in milliseconds.

  Scripts/bench/profile.py [--images 1000] [--large | --receive] [--no-build] [--keep]

--large retrieves the multi-frame object of large.py instead of the CT study. --receive
profiles the receive path alone instead: DCMTK's storescu (TCP_NODELAY=1) sends the CT study
to our storage SCP (receive-bench) and to DCMTK's storescp (TCP_NODELAY=1), and only the
receiver is profiled. Output goes to
the RAM file system as in retrieve.py (BENCH_OUT): on this machine's ext4 the kernel's time
for writing the gigabyte varied from 0.1 to 2 s between runs. The kernel's part is sorted by what the stack shows (writing files, reading
and writing sockets, waiting and waking, page faults, creating and renaming files); the user
part by the module whose code was running or called the runtime (for DCMTK, by library).
Needs perf (Debian: linux-perf) and permission to use it (perf_event_paranoid <= 2).
"""
import argparse
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

# Innermost frame first: the first rule whose pattern a frame matches names the sample.
KERNEL = [
    ("page faults", r"exc_page_fault"),
    ("file: write", r"shmem_file_write_iter|ext4_buffered_write_iter|ext4_file_write_iter|generic_perform_write|iter_file_splice_write"),
    ("socket: read", r"tcp_recvmsg|sock_read_iter|sock_recvmsg"),
    ("socket: write", r"tcp_sendmsg|sock_write_iter|sock_sendmsg"),
    ("socket: options", r"__sys_setsockopt|do_tcp_setsockopt"),
    ("file: create, rename, close", r"do_sys_openat2|do_renameat2|__x64_sys_close|__x64_sys_fchmod|__x64_sys_flock|do_unlinkat|do_mkdirat"),
    ("waiting and waking", r"__schedule|schedule\b|futex|do_epoll_wait|do_sys_poll|do_select|try_to_wake_up|finish_task_switch"),
    ("file: read", r"filemap_read|shmem_file_read_iter|ext4_file_read_iter"),
]
OUR_MODULES = ("DICOMNetwork", "DICOM", "Retrieve", "Console", "movescu", "Archive")


def sample_blocks(script):
    """(period in ns, [frames innermost first]) for each sample of `perf script` output."""
    block = []
    period = 0
    for line in script.splitlines():
        if not line.strip():
            if block:
                yield period, block
            block = []
            continue
        if not line.startswith((" ", "\t")):
            m = re.search(r"\s(\d+)\s+cpu-clock", line)
            period = int(m.group(1)) if m else 0
            continue
        block.append(line.strip())
    if block:
        yield period, block


def module_of(frame):
    m = re.search(r" \$s(\d+)([A-Za-z_]\w*)", frame)
    if not m:
        return None
    return m.group(2)[:int(m.group(1))]


def category(frames, ours):
    if "[kernel.kallsyms]" in frames[0]:
        for frame in frames:
            for name, pattern in KERNEL:
                if re.search(pattern, frame):
                    return "kernel: " + name
        return "kernel: other"
    if ours:
        for frame in frames:
            module = module_of(frame)
            if module:
                if module in OUR_MODULES:
                    return "user: ours (" + module + ")"
                if module.startswith("NIO") or module in ("DequeModule", "_NIOBase64"):
                    return "user: SwiftNIO"
                if module == "Logging":
                    return "user: swift-log"
        if any("libswift_Concurrency" in f for f in frames):
            return "user: Swift concurrency runtime"
        return "user: other (runtime, libc)"
    m = re.search(r"\((?:/[^)]*/)?([^/)]+?)(?:\.so[.\d]*)?\)$", frames[0])
    return "user: " + (m.group(1) if m else "?")


def record(data):
    """The perf command that profiles what follows it into `data`."""
    return ["perf", "record", "-q", "-e", "cpu-clock", "-F", "4000", "-g", "-o", data, "--"]


def totals_of(data, ours):
    """Milliseconds of CPU time by category, from perf's samples in `data`."""
    script = subprocess.run(["perf", "script", "-i", data], capture_output=True, text=True).stdout
    totals = collections.Counter()
    for period, frames in sample_blocks(script):
        totals[category(frames, ours)] += period / 1e6
    return totals


def profile(argv, env, out_dir, data, warm, ours):
    os.sync()
    b.warm_memory(warm)
    subprocess.run(record(data) + argv, env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return totals_of(data, ours), b.count_files(out_dir)


def profile_receive(receiver, files, out_dir, data, warm):
    """Profiles a storage SCP while storescu sends `files` to it; (totals, files stored)."""
    os.sync()
    b.warm_memory(warm)
    ours = receiver != "storescp"
    if ours:
        process = subprocess.Popen(record(data) + [receiver, out_dir, str(len(files))], stdout=subprocess.PIPE, text=True)
        port = int(process.stdout.readline().split()[-1])
    else:
        port = b.free_port()
        process = subprocess.Popen(record(data) + ["/usr/bin/storescp", "-aet", "RECEIVER", "-od", out_dir, str(port)],
                                   env=dict(os.environ, TCP_NODELAY="1"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        b.wait_listening(port)
    subprocess.run(["/usr/bin/storescu", "-aec", "RECEIVER", "localhost", str(port)] + files,
                   env=dict(os.environ, TCP_NODELAY="1"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not ours:
        # storescp serves until stopped: stopped once every file is there (perf writes on SIGINT).
        deadline = time.monotonic() + 30
        while b.count_files(out_dir) < len(files) and time.monotonic() < deadline:
            time.sleep(0.005)
        process.send_signal(signal.SIGINT)
    process.wait()
    return totals_of(data, ours), b.count_files(out_dir)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--large", action="store_true")
    mode.add_argument("--receive", action="store_true")
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--keep", action="store_true", help="leave perf's data files (for perf report, in BENCH_OUT) and say where; not with --receive")
    args = parser.parse_args()
    if args.keep and args.receive:
        parser.error("--keep is for the retrieve profiles (--receive reuses one data file)")
    if shutil.which("perf") is None:
        sys.exit("profile.py: perf is not installed (Debian: apt-get install linux-perf)")
    movescu = b.ours(build=not args.no_build)
    if args.receive:
        receive(args)
        return
    if args.large:
        folder, study, _, total = b.large_corpus(1000)
        count, what = 1, "one multi-frame object of %.0f MB" % (total / 1e6)
    else:
        folder, study, total, count = b.corpus(args.images)
        what = "%d CT images of 512x512 (%.0f MB)" % (count, total / 1e6)
    out_root = b.OUT
    ports = {"OURS": b.free_port(), "DCMTK": b.free_port()}
    archive = b.Archive(folder, ports, max_pdu=131072 if args.large else 16384)
    os.makedirs(out_root, exist_ok=True)
    work = tempfile.mkdtemp(prefix="bench-profile-", dir=out_root)
    keys = ["-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=" + study]
    results = {}
    try:
        for tool in ("ours", "dcmtk-nodelay"):
            out = os.path.join(work, tool)
            os.makedirs(out)
            if tool == "ours":
                argv, env = [movescu, "--batch", "-S", "-aet", "OURS", "-aem", "OURS"], None
            else:
                argv, env = ["/usr/bin/movescu", "-S", "-aet", "DCMTK", "-aem", "DCMTK"], dict(os.environ, TCP_NODELAY="1")
            port = ports["OURS" if tool == "ours" else "DCMTK"]
            argv += ["-aec", "ARCHIVE", "+P", str(port), "-od", out] + keys + ["localhost", str(archive.port)]
            totals, files = profile(argv, env, out, os.path.join(work, tool + ".data"), total + total // 8, ours=tool == "ours")
            if files != count:
                print("%s: %d of %d objects arrived" % (tool, files, count), file=sys.stderr)
            results[tool] = totals
            shutil.rmtree(out)
    finally:
        archive.stop()
        if args.keep:
            print("perf data kept in %s" % work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    print("CPU time by what it was spent on, ms (perf record -g, cpu-clock at 4 kHz, one run each): %s, "
          "dcmqrscp on loopback; %s" % (what, b.machine()))
    print(side_by_side(results["ours"], results["dcmtk-nodelay"], "DCMTK movescu, TCP_NODELAY=1"))


def receive(args):
    """The receive path alone: storescu sends the CT study to receive-bench and to storescp."""
    b.ours(build=not args.no_build)
    if not args.no_build:
        subprocess.run(["swift", "build", "-c", "release", "--product", "receive-bench"], cwd=b.ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    bench = os.path.join(b.ROOT, ".build", "release", "receive-bench")
    folder, _, total, count = b.corpus(args.images)
    files = sorted(os.path.join(folder, "files", f) for f in os.listdir(os.path.join(folder, "files")) if f.endswith(".dcm"))
    os.makedirs(b.OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="bench-profile-", dir=b.OUT)
    results = {}
    try:
        for receiver in (bench, "storescp"):
            out = os.path.join(work, "out")
            os.makedirs(out)
            totals, stored = profile_receive(receiver, files, out, os.path.join(work, "perf.data"), total + total // 8)
            if stored != len(files):
                print("%s: %d of %d objects arrived" % (receiver, stored, len(files)), file=sys.stderr)
            results[receiver] = totals
            shutil.rmtree(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("CPU time of the receiver by what it was spent on, ms (perf record -g, cpu-clock at 4 kHz, one run each): "
          "%d CT images of 512x512 (%.0f MB) sent by DCMTK's storescu (TCP_NODELAY=1); %s" % (count, total / 1e6, b.machine()))
    print(side_by_side(results[bench], results["storescp"], "DCMTK storescp, TCP_NODELAY=1"))


def side_by_side(ours, theirs, their_name):
    names = sorted(set(ours) | set(theirs), key=lambda n: (not n.startswith("kernel"), -max(ours[n], theirs[n])))
    rows = [[n, "%.0f" % ours[n], "%.0f" % theirs[n]] for n in names]
    for part in ("kernel", "user"):
        rows.append(["all of " + part, "%.0f" % sum(v for k, v in ours.items() if k.startswith(part)),
                     "%.0f" % sum(v for k, v in theirs.items() if k.startswith(part))])
    rows.append(["total", "%.0f" % sum(ours.values()), "%.0f" % sum(theirs.values())])
    return b.table(["spent on", "ours", their_name], rows)


if __name__ == "__main__":
    main()
