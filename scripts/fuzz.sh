#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ (libFuzzer, coverage-guided) for a time budget each.
#
#   scripts/fuzz.sh                 # every target, 60 s each
#   scripts/fuzz.sh 300 csv_import  # one target, 5 minutes
#
# Stable Rust has no `-Zsanitizer`, and cargo-fuzz needs nightly for its defaults, so the
# targets are built with plain cargo and the coverage flags cargo-fuzz passes with
# `--sanitizer none` (libfuzzer-sys links libFuzzer, built from its C++ sources). Panics
# and failed assertions are the crashes found; overflow checks and debug assertions are on.
# With a nightly toolchain, `cd fuzz && cargo fuzz run <target>` runs the same targets.
#
# Each target keeps its corpus in fuzz/corpus/<target>/ (seeded from fuzz/seeds/<target>/,
# which is checked in); a crash leaves its input in fuzz/artifacts/<target>/ and stops the
# script with a non-zero exit. Keep such an input as a regression test
# (tests/api/fuzz_regressions.rs) once it is fixed.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

budget="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(badge_code csv_import form_decoder token json_body)
fi

triple="$(rustc -vV | sed -n 's/^host: //p')"
# `--target` keeps these flags off build scripts and proc macros, which run inside
# rustc/cargo where libFuzzer's coverage hooks do not exist.
export RUSTFLAGS="-Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 --cfg fuzzing"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/target}"
cargo build --release --target "$triple" --bins

status=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    seeds=()
    [ -d "seeds/$t" ] && seeds=("seeds/$t")
    echo "== $t: ${budget} s"
    if ! "$CARGO_TARGET_DIR/$triple/release/$t" "corpus/$t" "${seeds[@]}" \
        -max_total_time="$budget" -artifact_prefix="artifacts/$t/" -print_final_stats=1 \
        -timeout=10 -rss_limit_mb=2048 2>"artifacts/$t.log"; then
        echo "!! $t found a crash; see fuzz/artifacts/$t/ and fuzz/artifacts/$t.log"
        tail -40 "artifacts/$t.log"
        status=1
    fi
    grep -E '^(stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb)' "artifacts/$t.log" || true
    grep -E '^#[0-9]+.*DONE' "artifacts/$t.log" | tail -1 || true
done
exit $status
