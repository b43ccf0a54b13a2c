#!/usr/bin/env bash
# Runs libFuzzer targets for a bounded time and reports what they did.
#   Scripts/fuzz.sh reader [seconds]   data set reader (Part 10 and bare data sets, every syntax)
#   Scripts/fuzz.sh text [seconds]     dump-text parser and -k key parser (keys applied, result encoded)
#   Scripts/fuzz.sh pdu [seconds]      PDU decoder, state machine, acceptor policy, DIMSE reassembly
#   Scripts/fuzz.sh all [seconds]      the three above one after the other, then a summary table
# seconds defaults to 60 and is per target.
# Crashers are copied to Tests/DICOMTests/Fixtures/crashers/ (reader, text) or
# Tests/DICOMNetworkTests/Fixtures/crashers/ (pdu), where tests replay them.
# For each run it prints the executions (stat::number_of_executed_units), exec/s, and the
# coverage libFuzzer reached: cov (edges hit) and ft (features, edges with hit counts)
# from its last status line. The numbers are also appended to fuzz-work/results.tsv.
# Exit status: 0 when no run found a crasher, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 reader|text|pdu|all [seconds]" >&2; exit 2; }
which=${1:-reader}
seconds=${2:-60}
case "$seconds" in ''|*[!0-9]*) usage ;; esac

# swiftc, with the linker's "Cannot export local symbol '__asan_...'" lines (one per
# sanitizer helper, harmless) left out of what is shown.
compile() {
  local log=fuzz-work/build.log
  if ! swiftc "$@" > "$log" 2>&1; then
    cat "$log" >&2
    echo "fuzz: the build failed" >&2
    exit 2
  fi
  grep -v "Cannot export local symbol" "$log" || true
}

build_dicom() {
  local binary=fuzz-work/fuzz-dicom
  if [ ! -x "$binary" ] || [ -n "$(find Sources/DICOM Fuzz -newer "$binary" -name '*.swift' | head -1)" ]; then
    echo "building $binary ..."
    compile -O -sanitize=fuzzer,address -parse-as-library -package-name movescu -module-name FuzzDICOM \
      -I Sources/CZlib -I Sources/CFileSystem -lz \
      $(find Sources/DICOM -name '*.swift') Fuzz/FuzzEntry.swift -o "$binary"
  fi
}

build_network() {
  # The pure parts of the network layer (no NIO), compiled into one module with the core:
  # their "import DICOM" lines are dropped from copies.
  local binary=fuzz-work/fuzz-network
  if [ ! -x "$binary" ] || [ -n "$(find Sources/DICOM Sources/DICOMNetwork Fuzz -newer "$binary" -name '*.swift' | head -1)" ]; then
    echo "building $binary ..."
    rm -rf fuzz-work/network-src && mkdir -p fuzz-work/network-src
    for f in Sources/DICOMNetwork/PDU/*.swift Sources/DICOMNetwork/DIMSE/*.swift Sources/DICOMNetwork/Negotiation/*.swift \
             Sources/DICOMNetwork/UpperLayer/*.swift Sources/DICOMNetwork/Association/AETitle.swift \
             Sources/DICOMNetwork/Association/AcceptorPolicy.swift Sources/DICOMNetwork/FuzzTargets.swift; do
      grep -v '^import DICOM$' "$f" > "fuzz-work/network-src/$(basename "$(dirname "$f")")-$(basename "$f")"
    done
    compile -O -sanitize=fuzzer,address -parse-as-library -package-name movescu -module-name FuzzNetwork -D FUZZ_NETWORK \
      -I Sources/CZlib -I Sources/CFileSystem -lz \
      $(find Sources/DICOM -name '*.swift') fuzz-work/network-src/*.swift Fuzz/FuzzEntry.swift -o "$binary"
  fi
}

# Seeds: golden captures (pdu), pydicom's test and character-set files (reader), a dump
# text and keys (text). Only written into an empty corpus; the corpus grows from run to run.
seed() {
  local which=$1 corpus=$2
  [ -z "$(ls -A "$corpus")" ] || return 0
  case "$which" in
    pdu)
      # Every PDU of the golden captures, one seed per capture.
      for f in Tests/DICOMNetworkTests/Fixtures/golden/*.txt; do
        grep -E '^[0-9a-f]{2}( [0-9a-f]{2})*$' "$f" | xxd -r -p > "$corpus/$(basename "$f" .txt)"
      done ;;
    reader)
      local data
      data=$(python3 -c 'import pydicom, os; print(os.path.join(os.path.dirname(pydicom.__file__), "data"))' 2>/dev/null || true)
      if [ -n "$data" ]; then
        find "$data/test_files" "$data/charset_files" -name '*.dcm' -size -64k -exec cp {} "$corpus/" \;
      fi
      ;;
    text)
      cp Tests/DICOMTests/Fixtures/sample.dump "$corpus/"
      printf 'ReferencedStudySequence[0].ReferencedSOPInstanceUID=1.2.3' > "$corpus/key1"
      printf '(0010,0020)=PAT001' > "$corpus/key2"
      printf '0008,0052=STUDY\nPatientName=\nStudyDate=20200101-20201231\n(0009,0010)=ACME' > "$corpus/key3"
      { cat Tests/DICOMTests/Fixtures/sample.dump; printf 'ReferencedSeriesSequence[1].SeriesInstanceUID=1.2\n'; } > "$corpus/dump-and-key" ;;
  esac
}

summary=()
crashed=0

run() {
  local which=$1 target binary crashers
  case "$which" in
    reader) target=0; binary=fuzz-work/fuzz-dicom; build_dicom ;;
    text) target=1; binary=fuzz-work/fuzz-dicom; build_dicom ;;
    pdu) target=2; binary=fuzz-work/fuzz-network; build_network ;;
    *) usage ;;
  esac
  crashers=Tests/DICOMTests/Fixtures/crashers
  [ "$which" = pdu ] && crashers=Tests/DICOMNetworkTests/Fixtures/crashers
  local work=fuzz-work/$which
  mkdir -p "$work/corpus" "$work/artifacts" "$crashers"
  # Artifacts of earlier runs were copied to the tests already; start empty so that what
  # is left after this run is what this run found.
  rm -f "$work"/artifacts/*
  seed "$which" "$work/corpus"

  local log="$work/fuzz.log" status
  echo "fuzzing $which for ${seconds}s (log: $log) ..."
  set +e
  FUZZ_TARGET=$target "$binary" "$work/corpus" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$work/artifacts/" -print_final_stats=1 >"$log" 2>&1
  status=$?
  set -e

  local found=0 crash
  for crash in "$work"/artifacts/*; do
    [ -e "$crash" ] || continue
    found=$((found + 1))
    cp "$crash" "$crashers/$which-$(basename "$crash")"
    echo "kept crasher: $crashers/$which-$(basename "$crash")"
  done
  [ "$found" -eq 0 ] && [ "$status" -ne 0 ] && found="?"   # failed without an artifact: see the log
  [ "$found" != 0 ] && crashed=1

  # The last status line (DONE, pulse, NEW, REDUCE) carries cov, ft and exec/s.
  local last execs rate cov ft corpus
  last=$(grep -E '^#[0-9]+' "$log" | grep 'cov: ' | tail -1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corpus=$(sed -nE 's/.* corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<<"$last")
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -1)
  rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$log" | tail -1)
  [ -n "$execs" ] || execs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last")
  echo "$which: ${seconds}s, executions ${execs:-?}, exec/s ${rate:-?}, cov ${cov:-?}, ft ${ft:-?}, corpus ${corpus:-?}, crashers $found, libFuzzer exit $status"
  summary+=("$(printf '%-7s %8s %12s %8s %7s %7s %12s %9s' "$which" "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corpus:-?}" "$found")")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$which" "$seconds" \
    "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$found" "$(uname -m)/$(nproc)cpu" >> fuzz-work/results.tsv
}

mkdir -p fuzz-work
if [ "$which" = all ]; then
  for t in reader text pdu; do run "$t"; done
else
  run "$which"
fi

echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -m), nproc $(nproc)"
printf '%-7s %8s %12s %8s %7s %7s %12s %9s\n' target seconds executions exec/s cov ft corpus crashers
printf '%s\n' "${summary[@]}"
exit $crashed
