#!/usr/bin/env bash
# Failover benchmark (DESIGN.md §6): seconds from a speaker's failure until the router's kernel drops its next hop.
# One speaker node (bgplb-failover-RUN-n1) announces 203.0.113.10/32 to a router namespace (bgplb-failover-RUN-r) running BIRD 2
# or FRR 8, which installs it in that namespace's kernel table; `ip monitor route` there, read by a thread that stamps
# each line with the monotonic clock, says when the /32 goes. The time is measured from a timestamp taken right before
# the failure is caused. Matrix:
#   failures    kill (kill -9), stop (SIGSTOP: a frozen speaker), link (ip -n NODE link set uplink down),
#               term (SIGTERM: bgplb-speaker sends Cease/Administrative Shutdown, no graceful restart configured)
#   detections  hold3, hold9 (BGP hold time 3 / 9 s, no BFD), bfd300, bfd100 (BFD 300 / 100 ms x 3, hold time 30 s)
#   routers     bird (bfd on + protocol bfd), frr (neighbor X bfd + bfdd)
#   speakers    bgplb (bgplb-speaker, BGPPeer with holdTime and a BFDProfile), bird (the reference: BIRD 2 with protocol
#               bfd and `bfd on` towards the router, the /32 from a static route)
# One lab per (router, speaker, detection), reused: after each failover the speaker is brought back (SIGCONT, a new
# process, link up) and the next run waits for the route, the session and BFD to be back (no fixed sleeps).
# Prints one table: rows failure x detection, columns router x speaker, "median (min–max)" in seconds.
# A thin wrapper over `bgplb-lab bench-failover` (integration/BgpLb.Lab, FailoverBench.cs); run as root.
#
# Usage: bench/failover.sh [-r 5] [-s "bgplb bird"] [-R "bird frr"] [-f "kill stop link term"] [-d "hold3 hold9 bfd300 bfd100"] [-o results.tsv]
#   -r  runs per cell (default 5)    -s speakers    -R routers    -f failures    -d detections
#   -o  also write one row per failover (tab-separated) to this file
# The speaker is $BGPLB_SPEAKER_PATH or src/Speaker/bin/Release/net10.0/bgplb-speaker (built here first).
set -euo pipefail

arguments=()
output=""
while getopts "r:s:R:f:d:o:" option; do
  case "$option" in
    r) arguments+=(--runs "$OPTARG") ;;
    s) arguments+=(--speakers "$OPTARG") ;;
    R) arguments+=(--routers "$OPTARG") ;;
    f) arguments+=(--failures "$OPTARG") ;;
    d) arguments+=(--detections "$OPTARG") ;;
    o) output="$OPTARG" ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
  esac
done

# shellcheck source=bench/lab.sh
. "$(dirname "$0")/lab.sh"
lab_init failover
lab_build
status=0
lab_run bench-failover "${arguments[@]}" --output "$work/results.tsv" || status=$?
[ -z "$output" ] || [ ! -f "$work/results.tsv" ] || cp "$work/results.tsv" "$output"
exit "$status"
