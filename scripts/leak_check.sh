#!/usr/bin/env bash
# Leak checks after the test run (called last by scripts/test.sh): fails if the run left
#  - a process running one of the project's binaries (a test binary or example under
#    target/ or $CARGO_TARGET_DIR, or a child started from one: fork, spawn and
#    forkserver children all run the same executable), or a zombie of one;
#  - a Unix socket of the project's listeners and managers (multiproc-<pid>-<n>-<hex>/ in
#    $XDG_RUNTIME_DIR or the temporary directory), of the tests (multiproc-test-*), or of
#    ipc-channel hand-offs (.tmp*/socket), that no live process listens on any more, or a
#    listener's directory whose creator is gone.
# /dev/shm is compared before and after by scripts/test.sh itself.
#
# Only what started after SINCE counts (epoch seconds; default: when the calling process,
# test.sh, started), and a process under a live cargo or cargo-nextest is someone's run
# still going, not a leak: other runs on the same machine are not flagged.
#
# Usage: scripts/leak_check.sh [SINCE]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd -P)
target=$(cd "${CARGO_TARGET_DIR:-$root/target}" 2>/dev/null && pwd -P || echo "$root/target")

hz=$(getconf CLK_TCK)
btime=$(awk '/^btime/ {print $2}' /proc/stat)

# Snapshot of every process's state, parent, start time (clock ticks since boot) and
# command, read with bash builtins only (no process per entry).
declare -A st_state=() st_ppid=() st_start=() st_comm=()
snapshot() {
  st_state=() st_ppid=() st_start=() st_comm=()
  local f line rest pid
  for f in /proc/[0-9]*/stat; do
    { read -r line <"$f"; } 2>/dev/null || continue # gone meanwhile
    pid=${line%% *}
    rest=${line##*) }
    st_comm[$pid]=${line#*(}
    st_comm[$pid]=${st_comm[$pid]%)*}
    # shellcheck disable=SC2086
    set -- $rest
    st_state[$pid]=$1 st_ppid[$pid]=$2 st_start[$pid]=${20}
  done
}
snapshot

if [ $# -ge 1 ]; then
  since=$1
else
  since=$((btime + ${st_start[$PPID]} / hz))
fi
since_ticks=$(((since - btime) * hz))

# The names a zombie of the project's binaries shows (its command, cut to 15 bytes).
declare -A ours=()
for f in "$target"/*/deps/* "$target"/*/examples/* "$target"/*/*; do
  [ -f "$f" ] && [ -x "$f" ] || continue
  case "$f" in *.so | *.d | *.rlib | *.rmeta) continue ;; esac
  b=$(basename "$f")
  ours[${b:0:15}]=1
done

# This script and its callers are not leaks.
declare -A mine=()
p=$$
while [ -n "${st_ppid[$p]:-}" ] && [ "$p" -gt 1 ]; do
  mine[$p]=1
  p=${st_ppid[$p]}
done

# Whether an ancestor of $1 is a cargo or cargo-nextest still running (someone's run).
under_cargo() {
  local p=$1
  while [ -n "${st_ppid[$p]:-}" ] && [ "$p" -gt 1 ]; do
    case "${st_comm[$p]}" in cargo | cargo-nextest) return 0 ;; esac
    p=${st_ppid[$p]}
  done
  return 1
}

stray_processes() {
  local pid exe
  snapshot
  for pid in "${!st_state[@]}"; do
    [ -z "${mine[$pid]:-}" ] || continue
    [ "${st_start[$pid]}" -ge "$since_ticks" ] || continue
    if [ "${st_state[$pid]}" = Z ]; then
      [ -n "${ours[${st_comm[$pid]}]:-}" ] || continue
    else
      exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
      case "$exe" in "$target/"*) ;; *) continue ;; esac
    fi
    under_cargo "$pid" && continue
    echo "  pid $pid (${st_state[$pid]}) ppid ${st_ppid[$pid]} ${st_comm[$pid]}: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-200)"
  done
}

# Unix socket paths some live process has bound.
bound=$(mktemp)
trap 'rm -f "$bound"' EXIT

left_sockets() {
  awk 'NR > 1 && $8 != "" {print $8}' /proc/net/unix | sort -u >"$bound"
  local base bases=() f dir pid
  [ -n "${XDG_RUNTIME_DIR:-}" ] && [ -d "${XDG_RUNTIME_DIR}" ] && bases+=("$XDG_RUNTIME_DIR")
  bases+=("${TMPDIR:-/tmp}")
  for base in "${bases[@]}"; do
    while IFS= read -r f; do
      grep -qxF "$f" "$bound" || echo "  socket nobody listens on: $f"
    done < <(find "$base" -maxdepth 2 -type s -newermt "@$since" \
      \( -path "$base/multiproc-*" -o -path "$base/.tmp*/socket" \) 2>/dev/null)
    # A listener's private directory whose creating process is gone.
    while IFS= read -r dir; do
      pid=$(basename "$dir" | cut -d- -f2)
      [ -d "/proc/$pid" ] || echo "  directory of a dead listener: $dir"
    done < <(find "$base" -maxdepth 1 -type d -newermt "@$since" \
      -regex "$base/multiproc-[0-9]+-[0-9]+-[0-9a-f]+" 2>/dev/null)
  done
}

# Daemon children die with their parent's exit a moment later: look a few times.
for try in $(seq 1 10); do
  procs=$(stray_processes)
  socks=$(left_sockets)
  [ -z "$procs$socks" ] && break
  sleep 1
done
status=0
if [ -n "$procs" ]; then
  echo "error: the tests left processes of the project's binaries:"
  echo "$procs"
  status=1
fi
if [ -n "$socks" ]; then
  echo "error: the tests left sockets or socket directories:"
  echo "$socks"
  status=1
fi
[ "$status" -eq 0 ] && echo "== leak check: no stray process, zombie or socket left"
exit "$status"
