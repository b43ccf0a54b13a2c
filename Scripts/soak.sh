#!/usr/bin/env bash
# Soak test: one movescu process retrieves the same patient from DCMTK's dcmqrscp on loopback
# again and again (--repeat, one association) for a bounded time: every move brings the
# corpus's mixed study (7 objects in three transfer syntaxes, SR, RT plan) and its CT study.
# Meanwhile the process's memory (VmRSS) and open file descriptors are sampled once per
# second from /proc.
#   Scripts/soak.sh [seconds]          default 180
# Environment:
#   MOVESCU   the movescu binary (default: .build-fuzz/release/movescu, else .build/release/movescu;
#             build one with: swift build -c release --build-path .build-fuzz)
#   SOAK_CT   CT images of 512x512 (16-bit) in the corpus's second study (default 10)
#   SOAK_KEEP set to keep the scratch folder
# Every 10 s it prints a row (time, RSS, descriptors, moves finished, objects stored, files
# found in the output folder) and then deletes the received files, so the next row shows
# that new files keep landing. At the end it compares the median of the last quarter of the
# samples with the median of the first quarter:
#   RSS grows if the last median exceeds the first by more than 10% and 4 MiB;
#   descriptors grow if the last median exceeds the first by more than 2.
# Exit status: 0 flat, 1 growth, 2 the soak itself failed (nothing retrieved, a move that did
# not end in Success, an error line, movescu ended early).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

seconds=${1:-180}
case "$seconds" in ''|*[!0-9]*) echo "usage: $0 [seconds]" >&2; exit 2 ;; esac
[ "$seconds" -ge 20 ] || { echo "soak: give at least 20 seconds" >&2; exit 2; }

movescu=${MOVESCU:-}
if [ -z "$movescu" ]; then
  for candidate in .build-fuzz/release/movescu .build/release/movescu; do
    [ -x "$candidate" ] && { movescu=$repo/$candidate; break; }
  done
fi
[ -n "$movescu" ] && [ -x "$movescu" ] || {
  echo "soak: no movescu binary; build one (swift build -c release --build-path .build-fuzz) or set MOVESCU" >&2; exit 2; }
for tool in /usr/bin/dcmqrscp /usr/bin/dcmqridx; do
  [ -x "$tool" ] || { echo "soak: $tool is missing (DCMTK)" >&2; exit 2; }
done

work=$(mktemp -d /tmp/soak.XXXXXX)
qr_pid=""
mv_pid=""
cleanup() {
  [ -n "$mv_pid" ] && kill "$mv_pid" 2>/dev/null || true
  [ -n "$qr_pid" ] && kill "$qr_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "${SOAK_KEEP:-}" ]; then echo "scratch folder kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Corpus, index, configuration.
python3 Scripts/make-corpus.py "$work/db" --ct "${SOAK_CT:-10}" > "$work/manifest.json"
/usr/bin/dcmqridx "$work/db" "$work"/db/*.dcm
read -r qr_port store_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
cat > "$work/qr.cfg" <<EOF
NetworkTCPPort = $qr_port
MaxPDUSize = 16384
MaxAssociations = 16
HostTable BEGIN
me = (MOVESCU, localhost, $store_port)
HostTable END
VendorTable BEGIN
VendorTable END
AETable BEGIN
ARCHIVE $work/db RW (200, 1024mb) ANY
AETable END
EOF

/usr/bin/dcmqrscp -c "$work/qr.cfg" "$qr_port" > "$work/dcmqrscp.log" 2>&1 &
qr_pid=$!
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$qr_port") 2>/dev/null && break
  sleep 0.1
done

# One long-running movescu; far more repeats than fit in the time, it is stopped at the end.
mkdir -p "$work/out"
"$movescu" --batch -v -aet MOVESCU -aec ARCHIVE +P "$store_port" -od "$work/out" --repeat 1000000 \
  -P -k QueryRetrieveLevel=PATIENT -k PatientID=CORPUS1 127.0.0.1 "$qr_port" > "$work/movescu.log" 2>&1 &
mv_pid=$!

echo "soak: ${seconds}s, movescu $movescu (pid $mv_pid), dcmqrscp on port $qr_port, patient CORPUS1 (patient root)"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -m), nproc $(nproc)"
printf '%6s %10s %5s %7s %9s %7s\n' time rss_kib fds moves objects files
samples="$work/samples.tsv"
: > "$samples"
died=0
start=$(date +%s)
for ((t = 1; t <= seconds; t++)); do
  sleep $((start + t - $(date +%s) > 0 ? start + t - $(date +%s) : 0))
  if [ ! -r "/proc/$mv_pid/status" ] || ! kill -0 "$mv_pid" 2>/dev/null; then died=1; break; fi
  rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$mv_pid/status" 2>/dev/null || true)
  fds=$(ls "/proc/$mv_pid/fd" 2>/dev/null | wc -l)
  [ -n "$rss" ] || { died=1; break; }
  printf '%s\t%s\t%s\n' "$t" "$rss" "$fds" >> "$samples"
  if (( t % 10 == 0 )); then
    moves=$(grep -c 'Received Final Move Response' "$work/movescu.log" || true)
    objects=$(grep -c 'Received Store Request' "$work/movescu.log" || true)
    files=$(find "$work/out" -maxdepth 1 -type f ! -name '.*' | wc -l)
    printf '%5ss %10s %5s %7s %9s %7s\n' "$t" "$rss" "$fds" "$moves" "$objects" "$files"
    # Files are overwritten by the next move anyway; deleting them shows new writes land.
    find "$work/out" -maxdepth 1 -type f ! -name '.*' -delete
  fi
done

moves=$(grep -c 'Received Final Move Response' "$work/movescu.log" || true)
objects=$(grep -c 'Received Store Request' "$work/movescu.log" || true)
failed=$(grep -c '^E:' "$work/movescu.log" || true)
# Counted before movescu is stopped; a final status other than Success is a failure of the run.
unsuccessful=$(grep 'Received Final Move Response' "$work/movescu.log" | grep -vc '(Success)' || true)
if [ "$died" = 1 ]; then
  echo "soak: movescu ended early; last lines of its log:" >&2
  tail -20 "$work/movescu.log" >&2
  SOAK_KEEP=1
  exit 2
fi
# Stop movescu as Ctrl-C would (C-CANCEL, release), then for good.
kill -INT "$mv_pid" 2>/dev/null || true
for _ in $(seq 50); do kill -0 "$mv_pid" 2>/dev/null || break; sleep 0.1; done
kill "$mv_pid" 2>/dev/null || true
wait "$mv_pid" 2>/dev/null || true
mv_pid=""

files_left=$(find "$work/out" -maxdepth 1 -type f ! -name '.*' | wc -l)
verdict=$(awk -F'\t' '
  function median(a, n,   i, j, x) {
    for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { rss[NR] = $2; fds[NR] = $3 }
  END {
    q = int(NR / 4); if (q < 1) q = 1
    for (i = 1; i <= q; i++) { r1[i] = rss[i]; f1[i] = fds[i]; r2[i] = rss[NR - q + i]; f2[i] = fds[NR - q + i] }
    rs = median(r1, q); re = median(r2, q); fs = median(f1, q); fe = median(f2, q)
    rssGrew = (re > rs * 1.10 && re - rs > 4096); fdsGrew = (fe - fs > 2)
    printf "samples %d; RSS median first quarter %d KiB, last quarter %d KiB (%+.1f%%); descriptors %d -> %d; first sample %d KiB %d fds, last %d KiB %d fds\n", \
      NR, rs, re, (re - rs) * 100 / rs, fs, fe, rss[1], fds[1], rss[NR], fds[NR]
    print (rssGrew || fdsGrew) ? (rssGrew ? "RSS GROWS " : "") (fdsGrew ? "DESCRIPTORS GROW" : "") : "FLAT"
  }' "$samples")
echo
echo "moves finished: $moves, objects stored: $objects ($(( moves > 0 ? objects / moves : 0 )) a move), moves not Success: $unsuccessful, error lines: $failed, files left in the output folder: $files_left"
echo "$verdict" | head -1
result=$(echo "$verdict" | tail -1)
echo "verdict: $result (threshold: RSS +10% and +4 MiB, descriptors +2, last quarter against first)"
[ "$moves" -gt 0 ] && [ "$objects" -gt 0 ] || { echo "soak: nothing was retrieved" >&2; SOAK_KEEP=1; exit 2; }
[ "$unsuccessful" -eq 0 ] && [ "$failed" -eq 0 ] || { echo "soak: some moves failed, see $work/movescu.log" >&2; SOAK_KEEP=1; exit 2; }
[ "$result" = FLAT ] || exit 1
exit 0
