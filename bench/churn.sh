#!/usr/bin/env bash
# Churn benchmark (DESIGN.md §6): what one change costs with N Services loaded. One node namespace bgplb-churn-RUN-n1 and a
# router namespace bgplb-churn-RUN-r running BIRD 2 whose kernel protocol installs the BGP routes in that namespace's table;
# `ip monitor route` there, read by a thread that stamps each line with the monotonic clock, says when a route arrives
# or goes (no polling). The senders take turns on the node, each loading the same N /32s (198.18.16.0 upwards) and
# changing others (198.19.192.0/18). Series (-s):
#   file-add   bgplb-speaker --config DIR: a new file (Service + EndpointSlice, temp + rename) -> route added; the file
#              deleted -> route removed; C times each
#   file-flip  an existing Service's slice file rewritten with its endpoint not ready, then ready -> route gone / back; F times each
#   idle       nothing changes for I seconds: speaker CPU as a share of one core
#   file-rate  R changes/s for D seconds (Service files of a pool taking turns: one added, the oldest removed); the tail
#              until the router's table matches the files, whether it does, RSS min/max sampled every second
#   kube       bgplb-speaker --kubeconfig against the fake API server (`bgplb-lab fake-apiserver`, run inside the node
#              namespace on its loopback, driven over its stdin) holding N LoadBalancer + K ClusterIP Services and N slices:
#              a Service added / deleted and a slice flipping, measured from the moment the server flushed the watch event
#   bird       BIRD as the sender: a static /32 added to / removed from its config + `birdc configure`
#   gobgp      GoBGP as the sender: `gobgp global rib add / del`
# Per series: p50 / p99 / max latency in ms, sender CPU per change (user+system over the series / changes), RSS.
# A thin wrapper over `bgplb-lab bench-churn` (integration/BgpLb.Lab, ChurnBench.cs); run as root.
#
# Usage: bench/churn.sh [-n "10000 100000"] [-s SERIES] [-l SERIES] [-c 100] [-f 100] [-r 1000] [-d 60] [-i 60] [-k 20000] [-o results.tsv]
#   -n  Services loaded, one run per count (default "10000 100000")
#   -s  series for counts up to 10000 (default file-add,file-flip,idle,file-rate,kube,bird,gobgp)
#   -l  series for larger counts (default file-add,file-flip,bird,gobgp)
#   -c  adds/removes per series (100), -f flips (100), -r changes/s and -d seconds for file-rate, -i idle seconds, -k ClusterIP Services
#   -o  also write the result rows (tab-separated) to this file
# The speaker is $BGPLB_SPEAKER_PATH or src/Speaker/bin/Release/net10.0/bgplb-speaker (built here first).
set -euo pipefail

counts="10000 100000"
series_small="file-add,file-flip,idle,file-rate,kube,bird,gobgp"
series_large="file-add,file-flip,bird,gobgp"
changes=100
flips=100
rate=1000
duration=60
idle=60
cluster_ip=20000
output=""
while getopts "n:s:l:c:f:r:d:i:k:o:" option; do
  case "$option" in
    n) counts="$OPTARG" ;;
    s) series_small="$OPTARG" ;;
    l) series_large="$OPTARG" ;;
    c) changes="$OPTARG" ;;
    f) flips="$OPTARG" ;;
    r) rate="$OPTARG" ;;
    d) duration="$OPTARG" ;;
    i) idle="$OPTARG" ;;
    k) cluster_ip="$OPTARG" ;;
    o) output="$OPTARG" ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
  esac
done

# shellcheck source=bench/lab.sh
. "$(dirname "$0")/lab.sh"
lab_init churn
lab_build

results="$work/results.tsv"
failed=0
for count in $counts; do
  if [ "$count" -le 10000 ]; then series=$series_small; else series=$series_large; fi
  log "== N=$count: $series"
  if ! lab_run bench-churn --services "$count" --series "$series" \
    --changes "$changes" --flips "$flips" --rate "$rate" --rate-seconds "$duration" --idle-seconds "$idle" --cluster-ip "$cluster_ip" \
    --output "$results" >"$work/run-$count.txt"; then
    failed=1
    log "N=$count failed: $(grep -c '' "$work/run-$count.txt") lines of results kept below"
  fi
done

[ -f "$results" ] || { log "no results"; exit 1; }
[ -z "$output" ] || cp "$results" "$output"
# One table for every run: the note column last and unpadded.
printf '\n'
awk -F'\t' 'NR == 1 || $1 != "series"' "$results" | awk -F'\t' '
  { for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (i < NF && length($i) > width[i]) width[i] = length($i) } fields[NR] = NF }
  END {
    for (r = 1; r <= NR; r++) {
      line = ""
      for (i = 1; i < fields[r]; i++) line = line sprintf("%" (i <= 3 ? "-" : "") width[i] "s  ", cell[r, i])
      print line cell[r, fields[r]]
    }
  }'
exit "$failed"
