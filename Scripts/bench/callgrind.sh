#!/usr/bin/env bash
# Instruction counts of the receive path, for seeing a change's effect on a noisy machine:
# DCMTK's storescu sends a fixed input (the first N images of the benchmark corpus, 20 by
# default) to our storage SCP (Benchmarks/receive-bench, release build) running under
# valgrind --tool=callgrind, and then the same to DCMTK's storescp under callgrind. Prints
# the instructions (Ir) per object and per byte of each, their ratio, and the functions that
# take the most of ours. Instructions are user space only: the kernel's copies (most of the
# receive's CPU, see the README) are not in them.
#   Scripts/bench/callgrind.sh [images [maximum PDU length]]
# The receivers offer 16384-byte PDUs (both tools' default) unless a length is given; storescu
# sends PDUs of the length offered.
# valgrind 3.19 (Debian 12) cannot read the DWARF 5 the Swift toolchain writes ("unhandled
# dwarf2 abbrev form code", then it gives up), so it runs a copy without debug info; symbols
# stay. receive-bench keeps its main thread out of dispatch_main, which valgrind cannot follow.
set -euo pipefail
cd "$(dirname "$0")/../.."
images=${1:-20}
pdu=${2:-16384}
swift build -c release --product receive-bench >/dev/null
python3 -c 'import sys; sys.path.insert(0, "Scripts/bench"); import benchlib; benchlib.corpus(1000)' >/dev/null
files=$(printf "%s\n" /tmp/movescu-bench/ct1000/files/*.dcm | head -n "$images" || true)
first=$(printf "%s\n" /tmp/movescu-bench/ct1000/files/*.dcm | tail -n 1)
bytes=$(cat $files | wc -c)
work=$(mktemp -d /tmp/movescu-bench/callgrind-XXXXXX)
receiver=
trap '[ -n "$receiver" ] && kill "$receiver" 2>/dev/null; [ -n "${KEEP:-}" ] && cp "$work"/*.out "$KEEP"/; rm -rf "$work"' EXIT
mkdir "$work/out"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cp .build/release/receive-bench "$work/receive-bench"
strip --strip-debug "$work/receive-bench"
# Two runs: one object alone (start-up, the dictionary, the first association), then that
# object and the measured ones; the difference is what the measured objects cost.
ir() { grep -E '^(summary|totals):' "$1" | tail -1 | awk '{print $2}'; }
profile() { # <name> <objects> <files...>
  local name=$1 objects=$2; shift 2
  rm -rf "$work/out"; mkdir "$work/out"
  valgrind --tool=callgrind --callgrind-out-file="$work/$name.out" \
    "$work/receive-bench" "$work/out" "$objects" "$port" "$pdu" > "$work/$name.log" 2>"$work/$name.valgrind" &
  receiver=$!
  for _ in $(seq 1 400); do grep -q "listening" "$work/$name.log" 2>/dev/null && break; sleep 0.05; done
  TCP_NODELAY=1 /usr/bin/storescu -aec RECEIVER localhost "$port" "$@"
  wait "$receiver"
  receiver=
}
# storescp serves until it is stopped: it is stopped once its files are all there (callgrind
# writes its counts when the process ends by a signal too).
profile_storescp() { # <name> <objects> <files...>
  local name=$1 objects=$2; shift 2
  rm -rf "$work/out"; mkdir "$work/out"
  TCP_NODELAY=1 valgrind --tool=callgrind --callgrind-out-file="$work/$name.out" \
    /usr/bin/storescp -aet RECEIVER -pdu "$pdu" -od "$work/out" "$port" > "$work/$name.log" 2>"$work/$name.valgrind" &
  receiver=$!
  # Under valgrind it takes a while to listen: storescu is tried again while it is refused.
  local sent=
  for _ in $(seq 1 100); do
    if TCP_NODELAY=1 /usr/bin/storescu -aec RECEIVER localhost "$port" "$@" 2>"$work/$name.storescu"; then sent=1; break; fi
    grep -q "Connection refused" "$work/$name.storescu" || break
    sleep 0.1
  done
  if [ -z "$sent" ]; then echo "storescu could not send to storescp:" >&2; cat "$work/$name.storescu" >&2; exit 1; fi
  for _ in $(seq 1 400); do [ "$(ls "$work/out" | wc -l)" -ge "$objects" ] && break; sleep 0.05; done
  sleep 0.5
  kill -TERM "$receiver"; wait "$receiver" || true
  receiver=
  local got; got=$(ls "$work/out" | wc -l)
  if [ "$got" -ne "$objects" ]; then echo "storescp stored $got of $objects objects" >&2; exit 1; fi
}
profile warm-up 1 "$first"
profile measured "$((images + 1))" "$first" $files
stored=$(grep stored "$work/measured.log")
warm=$(ir "$work/warm-up.out")
total=$(ir "$work/measured.out")
delta=$((total - warm))
echo "receive path: $images CT images ($bytes bytes) in PDUs of up to $pdu bytes, after one to warm up; receiver: $stored"
echo "start-up and the first object: $warm instructions"
echo "measured objects: $delta instructions, $((delta / images)) per object, $(python3 -c "print('%.2f' % ($delta / $bytes))") per byte"
profile_storescp scp-warm-up 1 "$first"
profile_storescp scp-measured "$((images + 1))" "$first" $files
scp_delta=$(($(ir "$work/scp-measured.out") - $(ir "$work/scp-warm-up.out")))
echo "DCMTK's storescp, the same objects: $scp_delta instructions, $((scp_delta / images)) per object, $(python3 -c "print('%.2f' % ($scp_delta / $bytes))") per byte"
echo "ours/storescp: $(python3 -c "print('%.2f' % ($delta / $scp_delta))")"
echo "the functions taking most of the measured objects' instructions (second run less the first):"
callgrind_annotate --inclusive=no --threshold=100 "$work/warm-up.out" > "$work/warm-up.txt" 2>/dev/null
callgrind_annotate --inclusive=no --threshold=100 "$work/measured.out" > "$work/measured.txt" 2>/dev/null
python3 - "$work/warm-up.txt" "$work/measured.txt" "$images" <<'PY'
import re, sys
def functions(path):
    counts = {}
    for line in open(path):
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*\S)", line)
        if m:
            name = re.sub(r" \[[^\]]*\]$", "", m.group(2))
            counts[name] = counts.get(name, 0) + int(m.group(1).replace(",", ""))
    return counts
before, after = functions(sys.argv[1]), functions(sys.argv[2])
images = int(sys.argv[3])
delta = sorted(((after[f] - before.get(f, 0), f) for f in after), reverse=True)
for ir, name in delta[:30]:
    print("%12d per object  %s" % (ir // images, name[:150]))
PY
