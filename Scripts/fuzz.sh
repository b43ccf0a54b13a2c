#!/usr/bin/env bash
# Runs a libFuzzer target for a bounded time.
#   Scripts/fuzz.sh reader [seconds]   data set reader (Part 10 and bare data sets, every syntax)
#   Scripts/fuzz.sh text [seconds]     dump-text and -k parsers
#   Scripts/fuzz.sh pdu [seconds]      PDU decoder, state machine, acceptor policy, DIMSE reassembly
# Crashers are copied to Tests/DICOMTests/Fixtures/crashers/ (reader, text) or
# Tests/DICOMNetworkTests/Fixtures/crashers/ (pdu), where tests replay them.
# Prints the executions run and the coverage reached.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-reader}
seconds=${2:-60}
case "$which" in
  reader) target=0 ;;
  text) target=1 ;;
  pdu) target=2 ;;
  *) echo "usage: $0 reader|text|pdu [seconds]" >&2; exit 2 ;;
esac

work=fuzz-work/$which
crashers=Tests/DICOMTests/Fixtures/crashers
[ "$which" = pdu ] && crashers=Tests/DICOMNetworkTests/Fixtures/crashers
mkdir -p "$work/corpus" "$work/artifacts" "$crashers"
if [ "$which" = pdu ]; then
  # The pure parts of the network layer (no NIO), compiled into one module with the core:
  # their "import DICOM" lines are dropped from copies.
  binary=fuzz-work/fuzz-network
  if [ ! -x "$binary" ] || [ -n "$(find Sources/DICOM Sources/DICOMNetwork Fuzz -newer "$binary" -name '*.swift' | head -1)" ]; then
    echo "building $binary ..."
    rm -rf fuzz-work/network-src && mkdir -p fuzz-work/network-src
    for f in Sources/DICOMNetwork/PDU/*.swift Sources/DICOMNetwork/DIMSE/*.swift Sources/DICOMNetwork/Negotiation/*.swift \
             Sources/DICOMNetwork/UpperLayer/*.swift Sources/DICOMNetwork/Association/AETitle.swift \
             Sources/DICOMNetwork/Association/AcceptorPolicy.swift Sources/DICOMNetwork/FuzzTargets.swift; do
      grep -v '^import DICOM$' "$f" > "fuzz-work/network-src/$(basename "$(dirname "$f")")-$(basename "$f")"
    done
    swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name FuzzNetwork -D FUZZ_NETWORK \
      -I Sources/CZlib -lz \
      $(find Sources/DICOM -name '*.swift') fuzz-work/network-src/*.swift Fuzz/FuzzEntry.swift -o "$binary"
  fi
else
  binary=fuzz-work/fuzz-dicom
  if [ ! -x "$binary" ] || [ -n "$(find Sources/DICOM Fuzz -newer "$binary" -name '*.swift' | head -1)" ]; then
    echo "building $binary ..."
    swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name FuzzDICOM \
      -I Sources/CZlib -lz \
      $(find Sources/DICOM -name '*.swift') Fuzz/FuzzEntry.swift -o "$binary"
  fi
fi

# Seeds: pydicom's test files and our fixtures (reader), dump texts and keys (text).
if [ -z "$(ls -A "$work/corpus")" ]; then
  if [ "$which" = pdu ]; then
    # Every PDU of the golden captures, one seed per capture.
    for f in Tests/DICOMNetworkTests/Fixtures/golden/*.txt; do
      grep -E '^[0-9a-f]{2}( [0-9a-f]{2})*$' "$f" | xxd -r -p > "$work/corpus/$(basename "$f" .txt)"
    done
  elif [ "$which" = reader ]; then
    data=$(python3 -c 'import pydicom, os; print(os.path.join(os.path.dirname(pydicom.__file__), "data"))' 2>/dev/null || true)
    if [ -n "$data" ]; then
      find "$data/test_files" "$data/charset_files" -name '*.dcm' -size -64k -exec cp {} "$work/corpus/" \;
    fi
  else
    cp Tests/DICOMTests/Fixtures/sample.dump "$work/corpus/"
    printf 'ReferencedStudySequence[0].ReferencedSOPInstanceUID=1.2.3' > "$work/corpus/key1"
    printf '(0010,0020)=PAT001' > "$work/corpus/key2"
  fi
fi

log="$work/fuzz.log"
set +e
FUZZ_TARGET=$target "$binary" "$work/corpus" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
  -artifact_prefix="$work/artifacts/" -print_final_stats=1 >"$log" 2>&1
status=$?
set -e
for crash in "$work"/artifacts/*; do
  [ -e "$crash" ] || continue
  cp "$crash" "$crashers/$which-$(basename "$crash")"
  echo "kept crasher: $crashers/$which-$(basename "$crash")"
done
grep -E '^#[0-9]+.*(DONE|pulse)' "$log" | tail -1
grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$log" || true
echo "libFuzzer exit status: $status (log: $log)"
exit $status
