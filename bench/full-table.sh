#!/usr/bin/env bash
# Full-table benchmark (issue 11, bounded input): a BIRD 2 router in namespace bgplb-fulltable-r sends N routes (a
# static protocol of N /32s from 10.0.0.0, enabled once the session is up) over eBGP to a receiver in
# bgplb-fulltable-n1, with hold time 3 s (keepalives every second). The speaker only counts what it receives, so its
# memory must stay flat and its keepalives on time however large the table. Per receiver it reports
#   rss_before_mib  VmRSS once Established, before the routes,
#   rss_after_mib   VmRSS once every route was received (the receiver's counter stops and BIRD exported all N),
#   peak_rss_mib    VmHWM at that point (the process's peak, start-up included),
#   cpu_s           user+system CPU seconds from enabling the routes to the end,
#   stream_s        seconds from enabling the routes to the end,
#   max_gap_s       the largest gap between two KEEPALIVEs received by BIRD from the receiver while the routes flowed
#                   (BIRD's view: its "Hold timer" is restarted by every message from the receiver; sampled every 50 ms),
#   state           the session's state in BIRD at the end.
# Receivers: bgplb (bgplb-speaker; $BGPLB_SPEAKER_PATH or src/Speaker/bin/Release/net10.0/bgplb-speaker) and bird
# (BIRD importing everything into its table, for comparison).
# Run under the lab lock: flock /tmp/bgplb-lab.lock bench/full-table.sh [-n 1000000] [-r "bgplb bird"]
set -euo pipefail

count=1000000
receivers="bgplb bird"
while getopts "n:r:" option; do
  case "$option" in
    n) count="$OPTARG" ;;
    r) receivers="$OPTARG" ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces)" >&2; exit 2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
run_id=$(printf %x $$)
router_ns=bgplb-fulltable-$run_id-r
receiver_ns=bgplb-fulltable-$run_id-n1
router_ip=198.18.0.1
receiver_ip=198.18.0.2
router_as=64512
receiver_as=64513
peer_ns=$receiver_ns
peer_ip=$receiver_ip
. "$repo/bench/netns-pair.sh"
pair_init bgplb-fulltable
proc_mib() { awk -v key="$2:" '$1 == key { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

write_router_config() {
  {
    echo "log stderr { warning, error, fatal };"
    echo "router id $router_ip;"
    echo "protocol device {}"
    echo "protocol static fulltable { ipv4; disabled on;"
    python3 - "$count" <<'PY'
import ipaddress, sys
base = int(ipaddress.IPv4Address("10.0.0.0"))
sys.stdout.write("".join(f"  route {ipaddress.IPv4Address(base + i)}/32 blackhole;\n" for i in range(int(sys.argv[1]))))
PY
    echo "}"
    echo "protocol bgp receiver { local $router_ip as $router_as; neighbor $receiver_ip as $receiver_as; passive on; hold time 3;"
    echo "  ipv4 { import none; export where source = RTS_STATIC; next hop self; }; }"
  } > "$work/router.conf"
}

router() { birdc -s "$work/router.ctl" "$@"; }
router_established() { router show protocols receiver | grep -q Established; }
router_exported() { router show protocols all receiver | awk '/Routes:/ { for (i = 1; i < NF; i++) if ($(i + 1) ~ /^exported/) print $i }'; }

start_router() {
  ip netns exec "$router_ns" bird -f -c "$work/router.conf" -s "$work/router.ctl" 2>"$work/router.log" &
  pids+=($!)
  wait_until 60 router show status
}

start_bgplb() {
  local path; path=$(speaker_path)
  [ -x "$path" ] || { log "bgplb-speaker not found at $path (build -c Release or set BGPLB_SPEAKER_PATH)"; return 1; }
  mkdir -p "$work/speaker-config"
  cat > "$work/speaker-config/lab.yaml" <<YAML
apiVersion: v1
kind: Node
metadata: {name: node1}
status: {addresses: [{type: InternalIP, address: $receiver_ip}]}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: router, namespace: metallb-system}
spec: {myASN: $receiver_as, peerASN: $router_as, peerAddress: $router_ip, holdTime: 3s}
YAML
  ip netns exec "$receiver_ns" "$path" --node node1 --config "$work/speaker-config" --bgp-listen 0.0.0.0:0 \
    --metrics-listen 127.0.0.1:7474 --log-level warning >"$work/receiver.log" 2>&1 &
  receiver_pid=$!
  pids+=("$receiver_pid")
}

# What the receiver has taken in so far: the speaker's UPDATE counter, BIRD's imported route count.
received_bgplb() {
  ip netns exec "$receiver_ns" curl -s 127.0.0.1:7474/metrics | awk '/^metallb_bgp_updates_total_received/ { n += $NF } END { print n + 0 }'
}

start_bird() {
  cat > "$work/receiver.conf" <<CONF
log stderr { warning, error, fatal };
router id $receiver_ip;
protocol device {}
protocol bgp uplink { local $receiver_ip as $receiver_as; neighbor $router_ip as $router_as; hold time 3;
  ipv4 { import all; export none; }; }
CONF
  ip netns exec "$receiver_ns" bird -f -c "$work/receiver.conf" -s "$work/receiver.ctl" 2>"$work/receiver.log" &
  receiver_pid=$!
  pids+=("$receiver_pid")
}

received_bird() { birdc -s "$work/receiver.ctl" show route count | awk '/routes for .* in table master4/ { print $1 }'; }

# Samples BIRD's hold timer for the receiver every 50 ms until $work/stop exists; prints the largest time since the
# last message from the receiver (3 s minus the remaining hold time).
watch_keepalives() {
  local max=0 line left
  while [ ! -e "$work/stop" ]; do
    line=$(router show protocols all receiver | awk '/Hold timer:/ { print $3 }')
    left=${line%%/*}
    if [ -n "$left" ]; then max=$(awk -v m="$max" -v l="$left" 'BEGIN { g = 3 - l; printf "%.3f", (g > m ? g : m) }'); fi
    sleep 0.05
  done
  echo "$max"
}

run() {
  local receiver=$1
  log "== $receiver: N=$count"
  make_lab
  write_router_config
  start_router
  "start_$receiver"
  wait_until 120 router_established
  sleep 3
  local rss_before; rss_before=$(proc_mib "$receiver_pid" VmRSS)
  local cpu_before; cpu_before=$(cpu_seconds "$receiver_pid")
  rm -f "$work/stop"
  watch_keepalives > "$work/gap" &
  local watcher=$!
  local start; start=$(now)
  router enable fulltable >/dev/null
  # The end: BIRD exported all N and the receiver's count has not moved for 2 s.
  local last="" stable_since; stable_since=$(now)
  local deadline; deadline=$(calc "$start + 600")
  while true; do
    local got; got=$("received_$receiver")
    if [ "$got" != "$last" ]; then last=$got; stable_since=$(now); fi
    if [ "$(router_exported)" = "$count" ] && later_than "$(now)" "$(calc "$stable_since + 2")"; then break; fi
    if later_than "$(now)" "$deadline"; then log "no end after 600 s (received $got)"; break; fi
    sleep 0.2
  done
  local end; end=$stable_since
  touch "$work/stop"
  wait "$watcher"
  local state; state=$(router show protocols receiver | awk '$1 == "receiver" { print $6 }')
  printf '%-8s %9s %14s %13s %12s %8s %9s %9s %s\n' "$receiver" "$count" "$rss_before" "$(proc_mib "$receiver_pid" VmRSS)" \
    "$(proc_mib "$receiver_pid" VmHWM)" "$(calc "$(cpu_seconds "$receiver_pid") - $cpu_before")" "$(calc "$end - $start")" \
    "$(cat "$work/gap")" "$state" >> "$work/results"
  cleanup
}

: > "$work/results"
for receiver in $receivers; do run "$receiver"; done
printf '%-8s %9s %14s %13s %12s %8s %9s %9s %s\n' receiver N rss_before_mib rss_after_mib peak_rss_mib cpu_s stream_s max_gap_s state
cat "$work/results"
