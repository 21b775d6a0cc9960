#!/usr/bin/env bash
# Fuzzing (docs/fuzzing.md): builds the cargo-fuzz targets in fuzz/, replays the committed
# regression inputs (fuzz/regressions/<target>/) so a fixed crash stays fixed, then runs
# each target for a bounded time.
#
#   scripts/fuzz.sh            # 20 s per target, as CI runs it (scripts/test.sh)
#   scripts/fuzz.sh 600        # a longer local run: 10 minutes per target
#   FUZZ_SANITIZER=address scripts/fuzz.sh 600   # with AddressSanitizer (slower build)
#
# Seconds per target: the first argument, else $FUZZ_SECONDS, else 20. Targets run one
# after another (this machine has two cores). A crash, panic, hang (10 s for one input)
# or leak of more than 2 GiB fails the script; libFuzzer then names the input it saved
# under fuzz/artifacts/<target>/: fix the bug, add a test named after it, and move the
# input to fuzz/regressions/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-${FUZZ_SECONDS:-20}}"
# CI builds without a sanitizer: Rust code is memory safe outside `unsafe`, the targets look
# for panics, overflows (checked in fuzz builds), hangs and unbounded allocations, and an
# AddressSanitizer build of the workspace takes longer than CI's budget for this stage.
sanitizer="${FUZZ_SANITIZER:-none}"
# cargo-fuzz passes nightly-only flags; the stable toolchain accepts them with this.
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

cd fuzz
# Several codegen units: a much faster build of the instrumented workspace, for a slightly
# slower fuzzer.
build=(-s "$sanitizer" --codegen-units 16)
echo "-- building the fuzz targets"
cargo fuzz build "${build[@]}"

# libFuzzer options: a hang of 10 s is a failure, as is using more than 2 GiB.
opts=(-timeout=10 -rss_limit_mb=2048)
for t in $(cargo fuzz list); do
  mkdir -p "corpus/$t" "regressions/$t"
  if [ -n "$(ls -A "regressions/$t")" ]; then
    echo "-- $t: replaying $(ls "regressions/$t" | wc -l) regression inputs"
    timeout -k 10 120 cargo fuzz run "${build[@]}" "$t" "regressions/$t"/* -- "${opts[@]}" \
      > "target/replay-$t.log" 2>&1 || { tail -40 "target/replay-$t.log"; exit 1; }
  fi
  echo "-- $t: fuzzing for ${secs} s"
  # New inputs go to corpus/<target> (kept between local runs, not committed); the
  # regressions and the hand-written seeds/<target> (valid messages) start it off.
  seeds=("regressions/$t")
  if [ -d "seeds/$t" ]; then seeds+=("seeds/$t"); fi
  timeout -k 10 $((secs + 60)) nice -n 10 cargo fuzz run "${build[@]}" "$t" \
    "corpus/$t" "${seeds[@]}" -- "${opts[@]}" -max_total_time="$secs" \
    > "target/fuzz-$t.log" 2>&1 || { tail -40 "target/fuzz-$t.log"; exit 1; }
  grep -E '^Done [0-9]+ runs' "target/fuzz-$t.log" || tail -3 "target/fuzz-$t.log"
done
