#!/usr/bin/env bash
# Runs the README's test command N times in a row (default 10) with a CPU hog beside it, as a loaded CI machine would:
#   tools/test-under-load.sh [RUNS] [HOG_WORKERS]
# The hog is `stress-ng --cpu HOG_WORKERS` (default: one worker per core), installed from Debian's packages if missing.
# Each run's counts are read from its TRX; the script stops at the first red run and exits 1. Nothing is left running.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
workers=${2:-$(nproc)}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

if ! command -v stress-ng >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "installing stress-ng (Debian's package) for the CPU hog"
    { apt-get install -y --no-install-recommends stress-ng || { apt-get update && apt-get install -y --no-install-recommends stress-ng; }; } >/dev/null 2>&1 \
      || { echo "could not install stress-ng: the Debian package registry is unreachable or refused it (apt-get failed)"; exit 2; }
  else
    echo "stress-ng is not installed and there is no apt-get to install it: install stress-ng, then run this again"
    exit 2
  fi
fi

dotnet build -v q || { echo "the build failed"; exit 1; }
results=TestResults/under-load
rm -rf "$results" && mkdir -p "$results"
stress-ng --cpu "$workers" --timeout 0 >/dev/null 2>&1 &
hog=$!
trap 'kill "$hog" 2>/dev/null; wait "$hog" 2>/dev/null' EXIT
echo "CPU hog: stress-ng --cpu $workers (pid $hog) on $(nproc) cores"

status=0
for i in $(seq 1 "$runs"); do
  started=$(date +%s)
  dotnet test --no-build --logger "trx;LogFileName=run$i.trx" --results-directory "$results/run$i" >"$results/run$i.log" 2>&1
  code=$?
  counters=$(grep -o '<Counters [^>]*>' "$results/run$i/run$i.trx" 2>/dev/null | head -1)
  passed=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  failed=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  echo "run $i of $runs: ${passed:-?} passed, ${failed:-?} failed in $(( $(date +%s) - started )) s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  if [ "$code" != 0 ]; then
    grep -E '^\s+Failed ' "$results/run$i.log"
    echo "run $i failed: its log is $results/run$i.log"
    status=1
    break
  fi
done

[ "$status" = 0 ] && echo "$runs of $runs runs green under the CPU hog"
exit "$status"
