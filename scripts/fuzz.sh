#!/usr/bin/env bash
# fuzz.sh — fuzzes every reader of files ctpipe did not write, with libFuzzer and
# AddressSanitizer; CI runs it after the tests (.ci/run).
#
#   bash scripts/fuzz.sh [TARGET...]          (default: every target, `ctfuzz list`)
#
# Builds ctfuzz (Fuzz/) into .build/fuzz with libFuzzer's coverage instrumentation
# and AddressSanitizer, seeds each target's corpus from the test fixtures and the
# inputs kept under Tests/FuzzTests/Regressions/<target>/, and fuzzes it for
# FUZZ_SECONDS (default 60), and on until at least FUZZ_MIN_RUNS inputs (default
# 10000) have run (a target that cannot reach them in FUZZ_MAX_SECONDS more fails). A crash (Swift traps included), a hang
# over FUZZ_TIMEOUT seconds (default 5), one allocation over FUZZ_MALLOC_MB
# (default 256) or a resident size over FUZZ_RSS_MB (default 2048) fails the
# target; the input is saved under .build/fuzz-out/artifacts/ and printed
# (base64) so that it survives the CI log. Once the reader is fixed, keep the
# input under Tests/FuzzTests/Regressions/<target>/ (FuzzRegressionTests replays it).
# FUZZ_SEED (default 1) picks libFuzzer's random seed; another seed explores
# elsewhere. Writes a summary table to .build/fuzz-out/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
MIN_RUNS=${FUZZ_MIN_RUNS:-10000}
SEED=${FUZZ_SEED:-1}
TIMEOUT=${FUZZ_TIMEOUT:-5}
MALLOC_MB=${FUZZ_MALLOC_MB:-256}
RSS_MB=${FUZZ_RSS_MB:-2048}
MAX_SECONDS=${FUZZ_MAX_SECONDS:-600}
OUT=.build/fuzz-out
BUILD=.build/fuzz

# libFuzzer's coverage instrumentation (what -sanitize=fuzzer adds) and AddressSanitizer on
# every module, libFuzzer linked without its main: SwiftPM names the executable's entry point
# itself, so ctfuzz's own main hands over to LLVMFuzzerRunDriver.
runtime="$(dirname "$(dirname "$(readlink -f "$(command -v swiftc)")")")/lib/swift/clang/lib/linux"
if [ ! -f "$runtime/libclang_rt.fuzzer_no_main-$(uname -m).a" ]; then
    echo "fuzz.sh: libFuzzer (libclang_rt.fuzzer_no_main-$(uname -m).a) is not in this Swift toolchain ($runtime)" >&2
    exit 1
fi
swift build --build-path "$BUILD" --product ctfuzz \
    -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table \
    -Xswiftc -DCTFUZZ_LIBFUZZER -Xcc -fsanitize=fuzzer-no-link,address \
    -Xlinker "$runtime/libclang_rt.fuzzer_no_main-$(uname -m).a" -Xlinker -lstdc++ \
    2>&1 | { grep -v "Cannot export local symbol '__asan" || true; }
CTFUZZ="$BUILD/debug/ctfuzz"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <("$CTFUZZ" list | awk '{print $1}')
fi

# Fixture files seeding each target (small ones: the fuzzer works on inputs up to max_len).
fixtures() {
    case "$1" in
        png|labels) find Tests -name '*.png' -size -64k ;;
        jpeg) find Tests -name '*.jpg' -size -64k ;;
        pth|pickle) find Tests -name '*.pth' -size -1024k ;;
        safetensors) find Tests -name '*.safetensors' -size -1024k ;;
        npy) find Tests -name '*.npy' -size -16k ;;
        manifest) find manifests pipelines Tests -name '*.json' -size -64k | grep -v -e Fixtures/mask2former -e '/config' ;;
    esac | LC_ALL=C sort
}
max_len() {
    case "$1" in
        pth|safetensors) echo 1048576 ;;
        pickle) echo 65536 ;;
        *) echo 65536 ;;
    esac
}

rm -rf "$OUT"
mkdir -p "$OUT/artifacts" "$OUT/logs" "$OUT/tmp"
export TMPDIR="$PWD/$OUT/tmp"
echo "| target | inputs run | corpus at start -> end | seconds | result |" > "$OUT/summary.md"
echo "|---|---|---|---|---|" >> "$OUT/summary.md"
failed=0
for t in "${targets[@]}"; do
    corpus="$OUT/corpus/$t"
    mapfile -t seeds < <(fixtures "$t"; find "Tests/FuzzTests/Regressions/$t" -type f 2>/dev/null | LC_ALL=C sort)
    "$CTFUZZ" seed "$t" "$corpus" "${seeds[@]}"
    start_count=$(find "$corpus" -type f | wc -l)
    log="$OUT/logs/$t.log"
    start=$(date +%s)
    status=0
    executed=0
    # First for FUZZ_SECONDS; then, on a slow or busy machine, on until FUZZ_MIN_RUNS inputs have run
    # (at most FUZZ_MAX_SECONDS more). The corpus carries over between the two.
    for pass in time count; do
        if [ "$pass" = time ]; then
            limits=(-max_total_time="$SECONDS_PER_TARGET")
        else
            [ "$executed" -lt "$MIN_RUNS" ] || break
            limits=(-runs=$((MIN_RUNS - executed)) -max_total_time="$MAX_SECONDS")
        fi
        CTFUZZ_TARGET="$t" CTFUZZ_PIPELINES="$PWD/pipelines" ASAN_OPTIONS=detect_leaks=0 \
            "$CTFUZZ" -seed="$SEED" -max_len="$(max_len "$t")" -timeout="$TIMEOUT" \
            -malloc_limit_mb="$MALLOC_MB" -rss_limit_mb="$RSS_MB" "${limits[@]}" \
            -artifact_prefix="$OUT/artifacts/$t-" -print_final_stats=1 -detect_leaks=0 "$corpus" >> "$log" 2>&1 || status=$?
        ran=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        executed=$((executed + ${ran:-0}))
        [ "$status" -eq 0 ] || break
    done
    seconds=$(( $(date +%s) - start ))
    end_count=$(find "$corpus" -type f | wc -l)
    result=ok
    if [ "$status" -ne 0 ]; then
        result="FAILED (exit $status)"
    elif [ "$executed" -lt "$MIN_RUNS" ]; then
        result="FAILED (only $executed inputs in $seconds s, fewer than $MIN_RUNS)"
    fi
    echo "| $t | $executed | $start_count -> $end_count | $seconds | $result |" >> "$OUT/summary.md"
    echo "fuzz $t: $executed inputs in $seconds s, corpus $start_count -> $end_count: $result"
    if [ "$result" != ok ]; then
        failed=1
        grep -E "ERROR|SUMMARY|==[0-9]+==|Fatal error|out-of-memory|timeout|Test unit written" "$log" | head -40 || true
        tail -30 "$log"
        for artifact in "$OUT/artifacts/$t-"*; do
            [ -f "$artifact" ] || continue
            echo "--- $artifact ($(wc -c < "$artifact") bytes), base64:"
            base64 -w 100 "$artifact" | head -200
        done
    fi
done
rm -rf "$OUT/tmp"
cat "$OUT/summary.md"
exit $failed
