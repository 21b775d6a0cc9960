#!/usr/bin/env bash
# Installs what multiproc-mpi needs to build and run (Open MPI, and libclang for the
# bindings' build script) when this machine lacks it: Debian's libopenmpi-dev,
# openmpi-bin and libclang-dev (README, "Past one machine"). Does nothing when they are
# there. Called by .ci/run and scripts/test.sh.
set -euo pipefail
have_mpi() {
  command -v mpirun >/dev/null 2>&1 && command -v mpicc >/dev/null 2>&1 &&
    ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1
}
have_mpi && exit 0
echo "== installing Open MPI and libclang (libopenmpi-dev openmpi-bin libclang-dev)"
sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || {
    echo "error: multiproc-mpi needs libopenmpi-dev openmpi-bin libclang-dev; install them as root" >&2
    exit 1
  }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q libopenmpi-dev openmpi-bin libclang-dev >/dev/null ||
  { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q libopenmpi-dev openmpi-bin libclang-dev >/dev/null; }
have_mpi || { echo "error: Open MPI or libclang still missing after the install" >&2; exit 1; }
