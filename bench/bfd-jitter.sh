#!/usr/bin/env bash
# BFD jitter under load: do bgplb-speaker's BFD packets keep their interval while it is busy (thread pool, GC, a busy
# reconcile loop)? One speaker node (bgplb-jitter-RUN-n1) with N Services (198.18.16.0 upwards) and a BGPPeer with a
# BFDProfile of 100 ms x 3 towards a router namespace (bgplb-jitter-RUN-r) where BIRD 2 runs BGP (no BFD) and
# `bgplb-lab bfd-probe --record` is the speaker's BFD peer on port 3784, stamping every packet from the speaker with the
# monotonic clock on its BFD thread. Once all routes are at the router, BFD is up at 100 ms and the speaker has settled:
#   idle   nothing changes for I seconds
#   storm  S seconds of Service files added and removed at R changes/s (a pool of 1000 files taking turns, as
#          bench/churn.sh's file-rate series)
# Per phase: packets, inter-arrival p50 / p99 / p99.9 / max in ms (negotiated 100 ms; RFC 5880 jitter makes 75-100 ms
# normal), gaps longer than the 300 ms detection time (must be 0), the speaker's CPU and whether the probe's BFD
# session stayed Up. Exits 1 if a phase had a gap or a state change.
# A thin wrapper over `bgplb-lab bench-bfd-jitter` (integration/BgpLb.Lab, BfdJitterBench.cs); run as root.
#
# Usage: bench/bfd-jitter.sh [-n 10000] [-i 30] [-s 30] [-r 1000] [-o results.tsv]
#   -n  Services loaded    -i  idle seconds    -s  storm seconds    -r  storm changes/s
#   -o  also write the rows (tab-separated) to this file
# The speaker is $BGPLB_SPEAKER_PATH or src/Speaker/bin/Release/net10.0/bgplb-speaker (built here first).
set -euo pipefail

arguments=()
output=""
while getopts "n:i:s:r:o:" option; do
  case "$option" in
    n) arguments+=(--services "$OPTARG") ;;
    i) arguments+=(--idle-seconds "$OPTARG") ;;
    s) arguments+=(--storm-seconds "$OPTARG") ;;
    r) arguments+=(--rate "$OPTARG") ;;
    o) output="$OPTARG" ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
  esac
done

# shellcheck source=bench/lab.sh
. "$(dirname "$0")/lab.sh"
lab_init jitter
lab_build
status=0
lab_run bench-bfd-jitter "${arguments[@]}" --output "$work/results.tsv" || status=$?
[ -z "$output" ] || [ ! -f "$work/results.tsv" ] || cp "$work/results.tsv" "$output"
exit "$status"
