"""Shared parts of the benchmark scripts: the corpus, DCMTK's dcmqrscp over it, free ports,
running a program with its wall time, CPU time and peak resident memory (from wait4), and
the tables. Python's standard library only; DCMTK from /usr/bin, pynetdicom from python3."""
import atexit
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.environ.get("BENCH_CACHE", "/tmp/movescu-bench")
# Where the tools write what they receive. A RAM file system by default: on this machine's
# ext4, whoever ran after a large deletion paid for it (new inodes skip recently deleted
# ones), and gigabytes of dirty pages written back meanwhile were charged to whoever ran
# then; both made the CPU times depend on the order of the runs. BENCH_OUT=<folder> puts
# the output on a disk instead.
OUT = os.environ.get("BENCH_OUT", "/dev/shm/movescu-bench" if os.path.isdir("/dev/shm") else CACHE)


# Firecracker's guest kernel here hands free memory back to the host ("free page reporting",
# /sys/module/page_reporting). A page handed back costs a host fault when it is next used:
# writing 600 MB into /dev/shm took 0.27 s with pages just freed, and 1.35-1.93 s once they
# had lain free for a few seconds, whichever program wrote them. That, not the programs, is
# what made single runs bimodal (a profile of ours at 1888 ms, then 659 ms, of the same build).
# warm_memory() below narrows it; holding the reporting off for the run removes it: the page
# order threshold is raised above the largest order (11), so no free block qualifies, and set
# back at exit. Only as root, and not with BENCH_PAGE_REPORTING=keep; machine() says which.
PAGE_REPORTING = "/sys/module/page_reporting/parameters/page_reporting_order"


def _hold_page_reporting():
    if not os.path.exists(PAGE_REPORTING):
        return ""
    if os.environ.get("BENCH_PAGE_REPORTING") == "keep":
        return "free page reporting left on (BENCH_PAGE_REPORTING=keep)"
    try:
        with open(PAGE_REPORTING) as f:
            before = f.read().strip()
        if before != "11":
            with open(PAGE_REPORTING, "w") as f:
                f.write("11")

            def restore():
                try:
                    with open(PAGE_REPORTING, "w") as f:
                        f.write(before)
                except OSError as error:
                    print("benchlib: could not set %s back to %s: %s" % (PAGE_REPORTING, before, error), file=sys.stderr)
            atexit.register(restore)
        return "free page reporting held off"
    except OSError as error:
        print("benchlib: free page reporting stays on (%s); single runs may pay host faults" % error, file=sys.stderr)
        return "free page reporting on"


PAGE_REPORTING_STATE = _hold_page_reporting()


# Where the two processes of a benchmark on loopback run (an archive or sender, and a
# receiver) is the scheduler's choice, and it may put them on one CPU. `apart()` (the scripts'
# --apart) pins the sending side to the last CPU and the receiving side to the others, as a
# sender on another machine would be; the default leaves placement to the scheduler. Pinned
# together on one CPU, the gigabyte from the lean sender took 0.68-0.87 s in every round
# (experiments/placement.py); apart, it still had the slow rounds that free placement has, so
# --apart does not remove those. What it does change is the retrieve: DCMTK's movescu with
# TCP_NODELAY=1 loses its speed-up (see the README).
APART = {"sender": None, "receiver": None}


def apart():
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        sys.exit("benchlib: --apart needs two CPUs, this process may use %s" % cpus)
    APART["sender"], APART["receiver"] = {cpus[-1]}, set(cpus[:-1])


def placement():
    """What machine() adds about placement."""
    if APART["sender"] is None:
        return ""
    return "; sender or archive on CPU %s, receiver on CPU %s" % (
        ",".join(map(str, sorted(APART["sender"]))), ",".join(map(str, sorted(APART["receiver"]))))


def _pinned(role):
    """A preexec_fn pinning the child to its role's CPUs under --apart, else None."""
    cpus = APART[role]
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    sys.exit("nothing listens on port %d" % port)


def ours(build=True):
    """Our movescu, release build."""
    if build:
        subprocess.run(["swift", "build", "-c", "release", "--product", "movescu"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    path = os.path.join(ROOT, ".build", "release", "movescu")
    if not os.access(path, os.X_OK):
        sys.exit("no release build at " + path)
    return path


def corpus(ct, size=512):
    """A folder of `ct` CT images (size x size, 16-bit, one study), made once and kept in
    CACHE, indexed for dcmqrscp. Returns (folder, study UID, total bytes, number of files)."""
    folder = os.path.join(CACHE, "ct%d" % ct if size == 512 else "ct%d-%d" % (ct, size))
    manifest_path = os.path.join(folder, "manifest.json")
    if not os.path.exists(manifest_path):
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(os.path.join(folder, "db"))
        print("making a corpus of %d CT images in %s ..." % (ct, folder), file=sys.stderr)
        out = subprocess.run([sys.executable, os.path.join(ROOT, "Scripts", "make-corpus.py"), folder + "/files",
                              "--ct", str(ct), "--ct-size", str(size), "--no-mixed"], check=True, capture_output=True,
                             text=True).stdout
        files = [os.path.join(folder, "files", e["file"]) for e in json.loads(out)]
        for i in range(0, len(files), 200):
            subprocess.run(["/usr/bin/dcmqridx", os.path.join(folder, "db")] + files[i:i + 200], check=True)
        with open(manifest_path, "w") as f:
            f.write(out)
    entries = json.load(open(manifest_path))
    total = sum(os.path.getsize(os.path.join(folder, "files", e["file"])) for e in entries)
    return folder, entries[0]["studyInstanceUID"], total, len(entries)


class Archive:
    """dcmqrscp serving a corpus as ARCHIVE, with `destinations` {AE title: port} on loopback."""

    def __init__(self, folder, destinations, max_pdu=16384):
        self.port = free_port()
        config = os.path.join(folder, "dcmqrscp-%d.cfg" % self.port)
        hosts = "\n".join("d%d = (%s, localhost, %d)" % (i, ae, port) for i, (ae, port) in enumerate(destinations.items()))
        with open(config, "w") as f:
            f.write("NetworkTCPPort = %d\nMaxPDUSize = %d\nMaxAssociations = 64\nHostTable BEGIN\n%s\nHostTable END\n"
                    "VendorTable BEGIN\nVendorTable END\nAETable BEGIN\nARCHIVE %s/db R (1000, 4096mb) ANY\nAETable END\n"
                    % (self.port, max_pdu, hosts, folder))
        self.process = subprocess.Popen(["/usr/bin/dcmqrscp", "-c", config, str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        preexec_fn=_pinned("sender"))
        wait_listening(self.port)

    def cpu(self):
        """CPU seconds dcmqrscp has used so far, its association processes included: it forks one
        per association and reaps it when it ends, so this waits (up to 5 s) until none is left.
        The difference across a run is what serving that run cost the archive."""
        pid = self.process.pid
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                children = open("/proc/%d/task/%d/children" % (pid, pid)).read().split()
            except OSError:
                break
            if not children:
                break
            time.sleep(0.01)
        fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        # utime, stime, cutime, cstime (fields 14-17 of proc(5); 12-15 after the name)
        return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()


def large_corpus(mb):
    """One multi-frame object of about `mb` MB, made once in CACHE and indexed for dcmqrscp.
    Returns (folder, study UID, path of the file, its size in bytes)."""
    folder = os.path.join(CACHE, "multiframe%d" % mb)
    manifest_path = os.path.join(folder, "manifest.json")
    if not os.path.exists(manifest_path):
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(os.path.join(folder, "db"))
        print("making a multi-frame object of %d MB in %s ..." % (mb, folder), file=sys.stderr)
        out = subprocess.run([sys.executable, os.path.join(ROOT, "Scripts", "make-corpus.py"), folder + "/files",
                              "--multiframe-mb", str(mb), "--no-mixed"], check=True, capture_output=True, text=True).stdout
        files = [os.path.join(folder, "files", e["file"]) for e in json.loads(out)]
        subprocess.run(["/usr/bin/dcmqridx", os.path.join(folder, "db")] + files, check=True)
        with open(manifest_path, "w") as f:
            f.write(out)
    entry = json.load(open(manifest_path))[0]
    path = os.path.join(folder, "files", entry["file"])
    return folder, entry["studyInstanceUID"], path, os.path.getsize(path)


def warm_memory(nbytes):
    """Writes nbytes to a file in OUT and deletes it, so the measured run after it is given
    memory the machine has just used. On a virtual machine that hands free memory back to its
    host (Firecracker's free page reporting here, see dmesg), a page not touched for a few
    seconds costs a host fault when it is next used: writing a gigabyte to tmpfs took 0.33 s
    or 1.3-1.9 s, alternating from run to run, for the same program. Warming first evens that
    out for whichever tool runs next (12 runs: 11 at 0.32-0.40 s)."""
    folder = "/dev/shm" if os.path.isdir("/dev/shm") else OUT
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, ".movescu-bench-warm")
    block = bytes(4 << 20)
    with open(path, "wb") as f:
        for _ in range(0, nbytes, len(block)):
            f.write(block)
    os.unlink(path)


def measure(argv, env=None, cwd=None, log=None, warm=0, sync=False):
    """Runs argv to its end: (exit status, wall seconds, CPU seconds, peak RSS in MB). With
    warm, that many bytes of memory are used and freed first (warm_memory); with sync, what
    earlier runs left to write back is written first, so that it is not charged to this one."""
    if sync:
        os.sync()
    if warm:
        warm_memory(warm)
    started = time.monotonic()
    out = open(log, "w") if log else subprocess.DEVNULL
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_pinned("receiver"))
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if log:
        out.close()
    return process.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def receive_pair(receiver_argv, sender_argv, log):
    """One receiver and its sender: the receiver is started and prints its port (the last word
    of its first line), then the sender with the port as its last argument; the sender says on
    a line of its own when its clock starts ("connecting at <monotonic>" or "sending at ...").
    Returns (status, wall s from that moment to the receiver's exit, receiver CPU s, receiver
    peak RSS MB); the status is the sender's when it failed, else the receiver's.

    The clock stops when the receiver exits, not the sender: a sender's own teardown after the
    receiver is done (unmapping the gigabyte: some 0.05 s) is not the receiver's time. A sender
    that fails has the receiver stopped (it would wait for its object forever). A sender that
    never says when it started is timed from its launch, with a warning."""
    receiver = subprocess.Popen(receiver_argv, stdout=subprocess.PIPE, text=True, preexec_fn=_pinned("receiver"))
    first = receiver.stdout.readline().split()
    if not first:
        receiver.kill()
        receiver.wait()
        sys.exit("benchlib: the receiver %s printed no port" % receiver_argv[0])
    # The receiver is reaped only by the main thread, after the watcher can no longer signal it
    # (the lock and `done`), so that a signal never goes to a process id already reused.
    lock = threading.Lock()
    done = False
    with open(log, "w") as f:
        launched = time.monotonic()
        sender = subprocess.Popen(sender_argv + [first[-1]], stdout=f, stderr=subprocess.STDOUT,
                                  preexec_fn=_pinned("sender"))

        def watch():
            if sender.wait() != 0:
                with lock:
                    if not done:
                        os.kill(receiver.pid, signal.SIGTERM)
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        os.waitid(os.P_PID, receiver.pid, os.WEXITED | os.WNOWAIT)
        finished = time.monotonic()
        with lock:
            done = True
        _, status, usage = os.wait4(receiver.pid, 0)
        receiver.returncode = os.waitstatus_to_exitcode(status)
        sender.wait()
        watcher.join()
    receiver.stdout.close()
    started = None
    with open(log) as f:
        for line in f:
            if line.startswith(("sending at ", "connecting at ")):
                started = float(line.split()[-1])
                break
    if started is None:
        print("benchlib: the sender never said when it started (see %s); timed from its launch" % log, file=sys.stderr)
        started = launched
    code = sender.returncode or receiver.returncode
    return code, finished - started, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def machine():
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        mem = "%.0f GB" % (int(open("/proc/meminfo").readline().split()[1]) / 1024 / 1024)
    except OSError:
        pass
    described = "%s, %d cores, %s RAM, %s %s" % (model or platform.machine(), os.cpu_count(), mem, platform.system(), platform.release())
    return described + (", " + PAGE_REPORTING_STATE if PAGE_REPORTING_STATE else "") + placement()


def median(values):
    return statistics.median(values) if values else float("nan")


def column_medians(runs, columns=3):
    """The median of each column of a list of (wall, cpu, rss)-like tuples."""
    return tuple(median([run[i] for run in runs]) for i in range(columns))


def table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    return "\n".join([line, rule] + body)


def count_files(folder):
    return sum(1 for name in os.listdir(folder) if not name.startswith("."))


def in_turn(tools, round_):
    """The tools in the order they run in round `round_`: turned by one place each round, so
    that over a number of rounds that is a multiple of the number of tools every tool runs in
    every place equally often. Whichever tool runs first in a round
    pays about 10% more on this VM (the same build as both "ours" and "baseline": 1.10 times
    the wall time, 1.12 times the CPU, 7 rounds)."""
    tools = list(tools)
    if not tools:
        return tools
    k = round_ % len(tools)
    return tools[k:] + tools[:k]
