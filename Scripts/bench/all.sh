#!/usr/bin/env bash
# Every benchmark in turn, side by side with DCMTK (and pynetdicom where it applies), on a
# machine left alone meanwhile; the tables go to stdout (progress to stderr). About 30 minutes.
#   Scripts/bench/all.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
swift build -c release --product movescu >/dev/null
swift build -c release --product receive-bench >/dev/null
echo "## Retrieve, 1000 CT images of 512x512"
python3 Scripts/bench/retrieve.py --rounds "$rounds" --no-build
echo
if [ "$(nproc)" -ge 2 ]; then
  echo "## Retrieve, 1000 CT images, the archive pinned to one CPU and each movescu to the other"
  python3 Scripts/bench/retrieve.py --rounds 3 --apart --only ours,dcmtk-nodelay,pynetdicom --no-build
  echo
fi
echo "## Retrieve, 300 CT images of 64x64 (small objects)"
python3 Scripts/bench/retrieve.py --images 300 --size 64 --rounds 3 --no-build
echo
echo "## Receive only"
python3 Scripts/bench/receive.py --rounds 3 --no-build
echo
echo "## Large object, written to the disk"
python3 Scripts/bench/large.py --rounds 5 --no-build
echo
echo "## Large object, written to the RAM file system"
python3 Scripts/bench/large.py --rounds 5 --no-build --out "${BENCH_OUT:-/dev/shm/movescu-bench}"
echo
if [ "$(nproc)" -ge 2 ]; then
  echo "## The gigabyte by placement of its sender and receiver, with a canary for the host"
  python3 Scripts/bench/experiments/placement.py --rounds 8
  echo
fi
echo "## Console under load"
python3 Scripts/bench/console-load.py --rounds 3 --no-build
echo
echo "## Where the CPU time goes (1000 CT images)"
python3 Scripts/bench/profile.py --no-build
