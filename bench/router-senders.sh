#!/usr/bin/env bash
# Sender benchmark (DESIGN.md §6): one sender in namespace bgplb-bench-RUN-n1 advertises N /32 over eBGP to a BIRD 2
# router in bgplb-bench-RUN-r (passive, import all, no kernel export); RUN is this script's process ID in hex, as in
# the lab's namespace names, so two runs (or a run and the lab tests) on one host never collide. Per run it reports
#   established_s  from the sender's start (GoBGP: neighbor added after its RIB is loaded) to Established,
#   converge_s     from Established (BIRD's own timestamp) until `birdc show route count` shows all N,
#   cpu_session_s  sender user+system CPU seconds spent from its start to convergence, minus loading its RIB,
#   cpu_total_s    sender CPU seconds in all,
#   rss_mib        sender resident memory (VmRSS) at convergence,
# and the median of RUNS runs per (sender, N).
# BIRD as a sender feeds its export in chunks of 256 routes and sometimes sends the last partial chunk only
# 1-2 s later (seen here under load: 9984 of 10000 for ~1.4 s); converge_min_s shows the run without that stall.
#
# Usage: bench/router-senders.sh [-s "bird gobgp bgplb"] [-n "10000 100000"] [-r 3] [-o results.tsv]
# Senders: bird (static routes in its config), gobgp (RIB loaded from an MRT TABLE_DUMP_V2 file with
# `gobgp mrt inject global` before the session exists), bgplb (bgplb-speaker reading a generated config directory
# with N Services; $BGPLB_SPEAKER_PATH or src/Speaker/bin/Release/net10.0/bgplb-speaker).
# Prefixes: 198.18.16.0 upwards (inside the RFC 2544 benchmarking range 198.18.0.0/15, only inside the namespaces).
set -euo pipefail

senders="bird gobgp bgplb"
counts="10000 100000"
runs=3
output=""
while getopts "s:n:r:o:" option; do
  case "$option" in
    s) senders="$OPTARG" ;;
    n) counts="$OPTARG" ;;
    r) runs="$OPTARG" ;;
    o) output="$OPTARG" ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
  esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)
run_id=$(printf %x $$)
router_ns=bgplb-bench-$run_id-r
sender_ns=bgplb-bench-$run_id-n1
router_ip=198.18.0.1
sender_ip=198.18.0.2
router_as=64512
sender_as=64513
gobgp_port=50051
peer_ns=$sender_ns
peer_ip=$sender_ip
. "$repo/bench/netns-pair.sh"
pair_init bgplb-bench
rss_mib() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

# Prefix i (0-based) as a dotted quad from 198.18.16.0.
prefixes() {
  python3 - "$1" <<'PY'
import ipaddress, sys
base = int(ipaddress.IPv4Address("198.18.16.0"))
print("\n".join(str(ipaddress.IPv4Address(base + i)) for i in range(int(sys.argv[1]))))
PY
}

start_router() {
  cat > "$work/router.conf" <<CONF
log stderr { warning, error, fatal };
router id $router_ip;
protocol device {}
protocol bgp sender {
  local $router_ip as $router_as;
  neighbor $sender_ip as $sender_as;
  passive on;
  ipv4 { import all; export none; };
}
CONF
  ip netns exec "$router_ns" bird -f -c "$work/router.conf" -s "$work/router.ctl" 2>"$work/router.log" &
  pids+=($!)
  wait_until 10 birdc -s "$work/router.ctl" show status
}

router_count() { birdc -s "$work/router.ctl" show route count | awk '/routes for .* in table master4/ { print $1 }'; }

# Established time of day in seconds, from BIRD's "Since" column (hh:mm:ss.mmm, local time).
router_established_at() {
  birdc -s "$work/router.ctl" show protocols sender | awk '$1 == "sender" && /Established/ { print $5 }'
}

seconds_of_day() { awk -F: '{ printf "%.3f\n", $1 * 3600 + $2 * 60 + $3 }' <<<"$1"; }

# --- senders: prepare_* builds the sender's RIB; start_* opens the session and sets sender_pid, loaded_cpu (CPU
# seconds the sender spent before the session: loading its RIB) and start (epoch seconds) ---

prepare_bird() {
  {
    echo "log stderr { warning, error, fatal };"
    echo "router id $sender_ip;"
    echo "protocol device {}"
    echo "protocol static services { ipv4;"
    prefixes "$1" | sed 's|.*|  route &/32 blackhole;|'
    echo "}"
    echo "protocol bgp uplink { local $sender_ip as $sender_as; neighbor $router_ip as $router_as; connect delay time 1;"
    echo "  ipv4 { import none; export where source = RTS_STATIC; next hop self; }; }"
  } > "$work/sender.conf"
}

start_bird() {
  start=$(now)
  ip netns exec "$sender_ns" bird -f -c "$work/sender.conf" -s "$work/sender.ctl" 2>"$work/sender.log" &
  sender_pid=$!
  pids+=("$sender_pid")
  loaded_cpu=0
}

prepare_gobgp() {
  python3 - "$1" "$work/rib.mrt" "$sender_ip" <<'PY'
import ipaddress, struct, sys
count, path, nexthop = int(sys.argv[1]), sys.argv[2], ipaddress.IPv4Address(sys.argv[3]).packed
def record(subtype, body):  # MRT common header: timestamp, type 13 TABLE_DUMP_V2, subtype, length
    return struct.pack("!IHHI", 0, 13, subtype, len(body)) + body
# PEER_INDEX_TABLE: collector id, empty view name, one peer (type 2: IPv4 address, 4-byte AS)
peers = struct.pack("!4sHH", nexthop, 0, 1) + struct.pack("!B4s4sI", 2, nexthop, nexthop, 64513)
# ORIGIN IGP, empty AS_PATH (GoBGP prepends its own AS towards the eBGP router), NEXT_HOP
attributes = bytes([0x40, 1, 1, 0]) + bytes([0x40, 2, 0]) + bytes([0x40, 3, 4]) + nexthop
base = int(ipaddress.IPv4Address("198.18.16.0"))
with open(path, "wb") as out:
    out.write(record(1, peers))
    entry = struct.pack("!HIH", 0, 0, len(attributes)) + attributes
    # `gobgp mrt inject` (3.10) exits before its gRPC stream drains and loses the last few hundred records:
    # pad with repeats of the first prefixes (an identical path again, harmless before the session exists).
    for seq in range(count + min(count, 5000)):
        i = seq % count
        body = struct.pack("!IB", seq, 32) + struct.pack("!I", base + i) + struct.pack("!H", 1) + entry
        out.write(record(2, body))  # RIB_IPV4_UNICAST
PY
  cat > "$work/gobgp.toml" <<CONF
[global.config]
  as = $sender_as
  router-id = "$sender_ip"
CONF
  ip netns exec "$sender_ns" gobgpd -f "$work/gobgp.toml" --api-hosts "127.0.0.1:$gobgp_port" --log-plain --pprof-disable \
    >"$work/sender.log" 2>&1 &
  gobgp_pid=$!
  pids+=("$gobgp_pid")
  wait_until 10 ip netns exec "$sender_ns" gobgp --port "$gobgp_port" global
  for attempt in 1 2 3; do
    ip netns exec "$sender_ns" gobgp --port "$gobgp_port" mrt inject global "$work/rib.mrt"
    if wait_until 10 gobgp_loaded "$1"; then return 0; fi
  done
  log "gobgp RIB incomplete: $(ip netns exec "$sender_ns" gobgp --port "$gobgp_port" global rib summary -a ipv4 | tail -1)"
  return 1
}

gobgp_loaded() {
  ip netns exec "$sender_ns" gobgp --port "$gobgp_port" global rib summary -a ipv4 | grep -q "Destination: $1,"
}

start_gobgp() {
  sender_pid=$gobgp_pid
  loaded_cpu=$(cpu_seconds "$gobgp_pid")
  start=$(now)
  ip netns exec "$sender_ns" gobgp --port "$gobgp_port" neighbor add "$router_ip" as "$router_as"
}

prepare_bgplb() {
  local path; path=$(speaker_path)
  [ -x "$path" ] || { log "bgplb-speaker not found at $path (build -c Release or set BGPLB_SPEAKER_PATH)"; return 1; }
  mkdir -p "$work/speaker-config"
  python3 - "$1" "$work/speaker-config" "$sender_ip" "$router_ip" "$sender_as" "$router_as" <<'PY'
import ipaddress, os, sys
count, directory, node_ip, router_ip, my_as, peer_as = sys.argv[1:7]
count = int(count)
base = int(ipaddress.IPv4Address("198.18.16.0"))
last = ipaddress.IPv4Address(base + count - 1)
with open(os.path.join(directory, "lab.yaml"), "w") as out:
    out.write(f"""apiVersion: v1
kind: Node
metadata: {{name: node1, labels: {{kubernetes.io/hostname: node1}}}}
status: {{addresses: [{{type: InternalIP, address: {node_ip}}}]}}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {{name: bench, namespace: metallb-system}}
spec: {{addresses: ["198.18.16.0-{last}"]}}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {{name: router, namespace: metallb-system}}
spec: {{myASN: {my_as}, peerASN: {peer_as}, peerAddress: {router_ip}}}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {{name: bench, namespace: metallb-system}}
spec: {{ipAddressPools: [bench]}}
""")
with open(os.path.join(directory, "services.yaml"), "w") as out:
    for i in range(count):
        ip = ipaddress.IPv4Address(base + i)
        out.write(f"""---
apiVersion: v1
kind: Service
metadata: {{name: svc-{i}, namespace: default}}
spec: {{type: LoadBalancer, selector: {{app: svc-{i}}}, ports: [{{port: 80, targetPort: 8080, protocol: TCP}}]}}
status: {{loadBalancer: {{ingress: [{{ip: {ip}}}]}}}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: svc-{i}-node1, namespace: default, labels: {{kubernetes.io/service-name: svc-{i}}}}}
addressType: IPv4
endpoints: [{{addresses: [10.0.0.1], conditions: {{ready: true}}, nodeName: node1}}]
ports: [{{port: 8080, protocol: TCP}}]
""")
PY
}

start_bgplb() {
  start=$(now)
  ip netns exec "$sender_ns" "$(speaker_path)" --node node1 --config "$work/speaker-config" --bgp-listen 0.0.0.0:0 \
    --metrics-listen 127.0.0.1:7474 --log-level warning >"$work/sender.log" 2>&1 &
  sender_pid=$!
  pids+=("$sender_pid")
  loaded_cpu=0
}

# --- one measurement ---

run_once() {
  local sender=$1 count=$2
  make_lab
  "prepare_$sender" "$count"
  start_router
  "start_$sender"
  wait_until 300 router_established_at_nonempty
  local established_at; established_at=$(router_established_at)
  local deadline; deadline=$(calc "$(now) + 120")
  until [ "$(router_count)" = "$count" ]; do
    if later_than "$(now)" "$deadline"; then log "router holds $(router_count) of $count"; return 1; fi
    sleep 0.01
  done
  local converged; converged=$(date +%H:%M:%S.%N)
  local cpu_total; cpu_total=$(cpu_seconds "$sender_pid")
  local rss; rss=$(rss_mib "$sender_pid")
  local start_of_day; start_of_day=$(date -d "@$start" +%H:%M:%S.%N)
  local t_start t_est t_conv
  t_start=$(seconds_of_day "$start_of_day"); t_est=$(seconds_of_day "$established_at"); t_conv=$(seconds_of_day "$converged")
  local row
  row=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s' "$sender" "$count" \
    "$(calc "$t_est - $t_start")" "$(calc "$t_conv - $t_est")" "$(calc "$cpu_total - $loaded_cpu")" "$cpu_total" "$rss")
  log "$row"
  echo "$row" >> "$results"
  cleanup
}

router_established_at_nonempty() {
  kill -0 "$sender_pid" 2>/dev/null || { log "sender exited:"; cat "$work/sender.log" >&2; exit 1; }
  [ -n "$(router_established_at)" ]
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

results="$work/results.tsv"
: > "$results"
for sender in $senders; do
  for count in $counts; do
    for run in $(seq 1 "$runs"); do
      log "== $sender N=$count run $run"
      run_once "$sender" "$count"
    done
  done
done

[ -n "$output" ] && cp "$results" "$output"
printf '\n%-8s %8s %14s %12s %14s %14s %12s %8s   (median of %s runs; converge_min_s: fastest run)\n' \
  sender N established_s converge_s converge_min_s cpu_session_s cpu_total_s rss_mib "$runs"
for sender in $senders; do
  for count in $counts; do
    rows=$(awk -v s="$sender" -v n="$count" '$1 == s && $2 == n' "$results")
    [ -n "$rows" ] || continue
    printf '%-8s %8s %14s %12s %14s %14s %12s %8s\n' "$sender" "$count" \
      "$(cut -f3 <<<"$rows" | median)" "$(cut -f4 <<<"$rows" | median)" "$(cut -f4 <<<"$rows" | sort -g | head -1)" \
      "$(cut -f5 <<<"$rows" | median)" "$(cut -f6 <<<"$rows" | median)" "$(cut -f7 <<<"$rows" | median)"
  done
done
