#!/usr/bin/env bash
# Runs ./test.sh N times in a row (optionally with `stress-ng --cpu 2` loading the machine beside it) and reports each
# run's totals and the flake count: runs with a failed test or a skipped integration test, as .ci/run counts them.
# Each run's TestResults directory (TRX files) and output are kept as flake-runs/run-<i> and flake-runs/run-<i>.log.
# Usage: scripts/flake-runs.sh N [--stress]
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 N [--stress]" >&2; exit 2; }
[ $# -ge 1 ] && [[ $1 =~ ^[1-9][0-9]*$ ]] || usage
runs=$1
stress=false
case "${2:-}" in
  "") ;;
  --stress) stress=true ;;
  *) usage ;;
esac

stress_pid=
stop_stress() {
  if [ -n "$stress_pid" ]; then
    kill "$stress_pid" 2>/dev/null || true
    wait "$stress_pid" 2>/dev/null || true
  fi
}
trap stop_stress EXIT
if $stress; then
  command -v stress-ng >/dev/null || { apt-get update -qq && apt-get install -y -qq stress-ng >/dev/null; }
  stress-ng --cpu 2 --quiet &
  stress_pid=$!
  echo "stress-ng --cpu 2 running beside the tests (pid $stress_pid)"
fi

keep=flake-runs
rm -rf "$keep"
mkdir -p "$keep"
flakes=0
summary=()
for i in $(seq 1 "$runs"); do
  rm -rf TestResults
  log="$keep/run-$i.log"
  set +e
  ./test.sh >"$log" 2>&1
  test_status=$?
  set -e
  results="$keep/run-$i"
  if [ -d TestResults ]; then mv TestResults "$results"; else mkdir -p "$results"; fi
  if [ -z "$(find "$results" -name '*.trx' -print -quit)" ]; then
    totals="no TRX results (test.sh exit $test_status, see $log)"
    summary_status=1
  else
    set +e
    python3 .ci/summarize-trx.py "$results" >>"$log"
    summary_status=$?
    set -e
    totals=$(tail -1 "$log")
  fi
  if [ "$summary_status" -ne 0 ] || [ "$test_status" -ne 0 ]; then
    flakes=$((flakes + 1))
    verdict=FAIL
  else
    verdict=pass
  fi
  summary+=("run $i: $verdict: $totals")
  echo "run $i/$runs: $verdict: $totals"
done

echo "== $runs runs$($stress && echo ' under stress-ng --cpu 2')"
printf '%s\n' "${summary[@]}"
echo "flaky runs: $flakes of $runs"
[ "$flakes" -eq 0 ]
