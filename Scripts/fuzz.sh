#!/usr/bin/env bash
# Runs a libFuzzer target over the DICOM core for a bounded time.
#   Scripts/fuzz.sh reader [seconds]   data set reader (Part 10 and bare data sets, every syntax)
#   Scripts/fuzz.sh text [seconds]     dump-text and -k parsers
# Crashers are copied to Tests/DICOMTests/Fixtures/crashers/, where a test replays them.
# Prints the executions run and the coverage reached.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-reader}
seconds=${2:-60}
case "$which" in
  reader) target=0 ;;
  text) target=1 ;;
  *) echo "usage: $0 reader|text [seconds]" >&2; exit 2 ;;
esac

work=fuzz-work/$which
mkdir -p "$work/corpus" "$work/artifacts" Tests/DICOMTests/Fixtures/crashers
binary=fuzz-work/fuzz-dicom
if [ ! -x "$binary" ] || [ -n "$(find Sources/DICOM Fuzz -newer "$binary" -name '*.swift' | head -1)" ]; then
  echo "building $binary ..."
  swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name FuzzDICOM \
    -I Sources/CZlib -lz \
    $(find Sources/DICOM -name '*.swift') Fuzz/FuzzEntry.swift -o "$binary"
fi

# Seeds: pydicom's test files and our fixtures (reader), dump texts and keys (text).
if [ -z "$(ls -A "$work/corpus")" ]; then
  if [ "$which" = reader ]; then
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
  cp "$crash" "Tests/DICOMTests/Fixtures/crashers/$which-$(basename "$crash")"
  echo "kept crasher: Tests/DICOMTests/Fixtures/crashers/$which-$(basename "$crash")"
done
grep -E '^#[0-9]+.*(DONE|pulse)' "$log" | tail -1
grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$log" || true
echo "libFuzzer exit status: $status (log: $log)"
exit $status
