#!/usr/bin/env bash
# The loom models (docs/loom.md): the lock state machine (multiproc-sync) and the queue
# ring (multiproc-ipc), the real code built with `--cfg loom`, in a target directory of
# its own so that the normal build's artifacts stay valid.
#
# LOOM_MAX_PREEMPTIONS overrides each model's preemption bound (2 or 3); LOOM_LOG=trace
# and LOOM_LOCATION=1 help to read a failure (see loom's documentation).
set -euo pipefail
cd "$(dirname "$0")/.."

# opt-level 1 without debug info: the models run about as fast as at opt-level 3 (loom's
# bookkeeping dominates) and the build takes a sixth less CPU time; a debug build runs
# them twenty times slower.
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR="${LOOM_TARGET_DIR:-target/loom}" \
  CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_DEBUG=false \
  cargo test --release --quiet -p multiproc-sync -p multiproc-ipc --lib loom
