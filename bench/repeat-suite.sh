#!/usr/bin/env bash
# Runs the whole test suite from fresh clones, run after run, as CI would
# (./setup.sh test, as root), optionally with both cores kept busy by
# another process, and prints one line per run: tests, passed, failed,
# duration. Green-every-time (issue 6) is recorded from this script.
#   bench/repeat-suite.sh [--runs N] [--load] [--out FILE] [--rev REV]
# --load keeps every core busy with a spinning process for the whole run.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5 load=0 out=/dev/stdout rev=HEAD
while (($#)); do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --load) load=1; shift ;;
    --out) out=$2; shift 2 ;;
    --rev) rev=$2; shift 2 ;;
    *) echo "usage: bench/repeat-suite.sh [--runs N] [--load] [--out FILE] [--rev REV]" >&2; exit 2 ;;
  esac
done
repo=$PWD
commit=$(git rev-parse --short "$rev")
work=$(mktemp -d /tmp/hearth-repeat.XXXXXX)
spinners=()
stop_load() { for p in "${spinners[@]}"; do kill "$p" 2>/dev/null || true; done; spinners=(); }
trap 'stop_load; rm -rf "$work"' EXIT
# A stopped script must not leave its spinners or clones behind either.
trap 'exit 130' INT TERM

for ((i = 1; i <= runs; i++)); do
  clone="$work/run-$i"
  git clone -q "$repo" "$clone"
  git -C "$clone" checkout -q "$rev"
  if ((load)); then
    for ((c = 0; c < $(nproc); c++)); do (while :; do :; done) & spinners+=($!); done
  fi
  started=$(date +%s)
  set +e
  (cd "$clone" && CI=true ./setup.sh test) > "$work/run-$i.log" 2>&1
  code=$?
  set -e
  took=$(($(date +%s) - started))
  stop_load
  tests=$(sed -n 's/^ℹ tests \([0-9]*\)$/\1/p' "$work/run-$i.log" | tail -1)
  pass=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$work/run-$i.log" | tail -1)
  fail=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$work/run-$i.log" | tail -1)
  printf '%s run %d/%d commit %s load %s exit %d tests %s pass %s fail %s duration %ds\n' \
    "$(date -u +%FT%TZ)" "$i" "$runs" "$commit" "$([ $load = 1 ] && echo "$(nproc)-spinners" || echo none)" "$code" "${tests:-?}" "${pass:-?}" "${fail:-?}" "$took" >> "$out"
  if [ "$code" != 0 ]; then
    cp "$work/run-$i.log" "/tmp/hearth-repeat-failed-run-$i.log"
    grep -A 12 '✖' "$work/run-$i.log" | head -60 >> "$out" || true
  fi
  # The suite must leave nothing behind: say so if it did.
  left=$(ip netns list | wc -l)
  [ "$left" = 0 ] || echo "  left behind: $left network namespaces: $(ip netns list | tr '\n' ' ')" >> "$out"
  rm -rf "$clone"
done
