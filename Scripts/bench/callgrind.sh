#!/usr/bin/env bash
# Instruction counts of the receive path, for seeing a change's effect on a noisy machine:
# DCMTK's storescu sends a fixed input (the first N images of the benchmark corpus, 20 by
# default) to our storage SCP (Benchmarks/receive-bench, release build) running under
# valgrind --tool=callgrind. Prints the total instructions (Ir), per object and per byte,
# and the functions that take the most.
#   Scripts/bench/callgrind.sh [images]
# Not working on the machine it was written on: valgrind 3.19 (Debian 12) stops with an
# internal error (SIGSEGV in valgrind itself) on Swift 6 binaries there, stripped or not.
set -euo pipefail
cd "$(dirname "$0")/../.."
images=${1:-20}
swift build -c release --product receive-bench >/dev/null
python3 -c 'import sys; sys.path.insert(0, "Scripts/bench"); import benchlib; benchlib.corpus(1000)' >/dev/null
files=$(printf "%s\n" /tmp/movescu-bench/ct1000/files/*.dcm | head -n "$images" || true)
bytes=$(cat $files | wc -c)
work=$(mktemp -d /tmp/movescu-bench/callgrind-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/out"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" \
  .build/release/receive-bench "$work/out" "$images" "$port" > "$work/receiver.log" 2>"$work/valgrind.log" &
receiver=$!
for _ in $(seq 1 400); do grep -q "listening" "$work/receiver.log" 2>/dev/null && break; sleep 0.05; done
TCP_NODELAY=1 /usr/bin/storescu -aec RECEIVER localhost "$port" $files
wait "$receiver"
stored=$(grep stored "$work/receiver.log")
total=$(grep -E '^(summary|totals):' "$work/callgrind.out" | tail -1 | awk '{print $2}')
echo "receive path, $images CT images ($bytes bytes), $stored"
echo "instructions (Ir): $total total, $((total / images)) per object, $(python3 -c "print('%.2f' % ($total / $bytes))") per byte"
callgrind_annotate --inclusive=no "$work/callgrind.out" 2>/dev/null | sed -n '/^Ir/,$p' | head -25
