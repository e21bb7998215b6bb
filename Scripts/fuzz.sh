#!/bin/sh
# make fuzz: builds the fuzz targets (Fuzz/, libFuzzer with AddressSanitizer) and runs each for
# FUZZ_SECONDS (default 60) from its seed corpus (Fuzz/Seeds/<target>), growing a working corpus
# in .build/fuzz/corpus/<target>. An input over 1 s or 2 GB of RSS counts as a finding, as a
# crash does; findings go to .build/fuzz/findings/ and the run fails. Prints each target's
# executions per second and coverage (libFuzzer's cov: edges, ft: features).
set -eu
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
targets="${FUZZ_TARGETS:-FuzzAnnotation FuzzExample FuzzTFRecord FuzzCheckpoint FuzzImage}"
(cd Fuzz && swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -use-ld=lld)
mkdir -p .build/fuzz/findings
status=0
for target in $targets; do
    corpus=.build/fuzz/corpus/$target
    mkdir -p "$corpus"
    log=.build/fuzz/$target.log
    if Fuzz/.build/release/$target -max_total_time="$seconds" -timeout=1 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix=.build/fuzz/findings/$target- "$corpus" "Fuzz/Seeds/$target" > "$log" 2>&1; then
        result=ok
    else
        result="FINDING (see $log and .build/fuzz/findings/)"
        status=1
    fi
    runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    rate=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}')
    coverage=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)
    printf '%-15s %ss, %s runs, %s exec/s, %s, corpus %s files: %s\n' "$target" "$seconds" "${runs:-?}" "${rate:-?}" \
        "${coverage:-cov: ?}" "$(ls "$corpus" | wc -l)" "$result"
done
exit $status
