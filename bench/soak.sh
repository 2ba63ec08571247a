#!/usr/bin/env bash
# Session flap soak: one bgplb-speaker node (bgplb-soak-n1) peering with a real router (bgplb-soak-r,
# BIRD 2 then FRR), hold time 3 s, announcing one Service, taken through N flaps: router daemons SIGKILLed and
# restarted, the router's link down until the speaker's hold timer expires then up, the router's BGP daemon SIGSTOPped
# past the hold time then SIGCONTed, in turn. After every flap the speaker's session must be up again, the router must
# show it Established and have the Service's route from the node. Every S flaps the speaker's RSS, managed heap (after
# the last GC), threads and open file descriptors are sampled; a table per router, the last row the change since the
# first sample after warm-up. A thin wrapper over `bgplb-lab bench-soak` (integration/BgpLb.Lab, SoakBench.cs); run as root.
#
# Usage: bench/soak.sh [-n 1000] [-s 100] [-r bird,frr]
# The speaker is $BGPLB_SPEAKER_PATH or src/Speaker/bin/Release/net10.0/bgplb-speaker (built here first).
set -euo pipefail

arguments=()
while getopts "n:s:r:" option; do
  case "$option" in
    n) arguments+=(--flaps "$OPTARG") ;;
    s) arguments+=(--sample-every "$OPTARG") ;;
    r) arguments+=(--routers "$OPTARG") ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
  esac
done

# shellcheck source=bench/lab.sh
. "$(dirname "$0")/lab.sh"
lab_init soak
lab_build
lab_run bench-soak "${arguments[@]}"
