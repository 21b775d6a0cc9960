#!/usr/bin/env bash
# The project's test command (README): formatting, lints, every test, doc tests, and
# benches compiled. Installs cargo-nextest first if this machine lacks it.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "== installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

# multiproc-mpi (in --workspace) needs Open MPI and libclang.
scripts/install_mpi.sh

shm_before=$(mktemp)
ls -A /dev/shm > "$shm_before" 2>/dev/null || true

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
# The MPI benchmark program (bench-harness's `mpi` feature, off by default).
cargo clippy -p bench-harness --features mpi --all-targets -- -D warnings
echo "== cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
echo "== benches compile"
cargo test --workspace --benches --no-run --quiet
echo "== doc tests"
cargo test --workspace --doc --quiet
echo "== examples build (tests/examples_run.rs runs each and checks its output)"
cargo build --quiet -p multiproc --examples
echo "== tests (nextest)"
cargo nextest run --workspace --profile ci
echo "== loom models"; scripts/loom.sh
echo "== fuzz (20 s per target)"; scripts/fuzz.sh 20

# Nothing may be left in /dev/shm that was not there before the tests.
leftover=$(comm -13 <(sort "$shm_before") <(ls -A /dev/shm 2>/dev/null | sort) || true)
rm -f "$shm_before"
if [ -n "$leftover" ]; then
  echo "error: the tests left files in /dev/shm:"; echo "$leftover"; exit 1
fi
# No process, zombie or socket of the project left behind (the checks are in the script).
scripts/leak_check.sh
