#!/usr/bin/env bash
# L2 failover time: three bgplb-speaker processes in their own namespaces on one bridge, a client namespace that has
# resolved a Service address; kill -9 the owner and time until the client's neighbour entry (ip neigh) carries the
# new owner's MAC (learned from the gratuitous ARP). Prints each run and the median in seconds.
# Usage: sudo bench/l2-failover.sh [runs=5] [Debug|Release]
set -euo pipefail
RUNS=${1:-5}
CONFIGURATION=${2:-Debug}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SPEAKER="$ROOT/src/Speaker/bin/$CONFIGURATION/net10.0/bgplb-speaker"
VIP=203.0.113.10
P=bgplb-l2bench
WORK=$(mktemp -d)
PIDS=()

[[ -x "$SPEAKER" ]] || { echo "build first: dotnet build src/Speaker -c $CONFIGURATION" >&2; exit 1; }

teardown() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
  for ns in client s1 s2 s3 br; do ip netns del "$P-$ns" 2>/dev/null || true; done
}
trap 'teardown; rm -rf "$WORK"' EXIT

setup() {
  ip netns add "$P-br"
  ip -n "$P-br" link add br0 type bridge
  ip -n "$P-br" link set br0 up
  local i=1
  for ns in client s1 s2 s3; do
    ip netns add "$P-$ns"
    ip -n "$P-$ns" link set lo up
    ip netns exec "$P-$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    ip link add eth0 netns "$P-$ns" type veth peer name "p-$ns" netns "$P-br"
    ip -n "$P-br" link set "p-$ns" master br0 up
    ip -n "$P-$ns" addr add "198.18.10.$i/24" dev eth0
    ip -n "$P-$ns" link set eth0 up
    i=$((i + 1))
  done
  ip -n "$P-client" route add 203.0.113.0/24 dev eth0 # on-link, so the client's kernel ARPs for the Service address
  mkdir -p "$WORK/config"
  cat > "$WORK/config/l2.yaml" <<YAML
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: { name: l2, namespace: metallb-system }
spec: { addresses: [203.0.113.0/24] }
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: { name: l2, namespace: metallb-system }
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec: { type: LoadBalancer, clusterIP: 10.96.0.10, ports: [{ port: 80, protocol: TCP }] }
status: { loadBalancer: { ingress: [{ ip: $VIP }] } }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: web-1, namespace: default, labels: { kubernetes.io/service-name: web } }
addressType: IPv4
endpoints: [{ addresses: [10.0.0.1], nodeName: node-1, conditions: { ready: true } }]
YAML
  for n in 1 2 3; do
    cat >> "$WORK/config/l2.yaml" <<YAML
---
apiVersion: v1
kind: Node
metadata: { name: node-$n }
status: { addresses: [{ type: InternalIP, address: 198.18.10.$((n + 1)) }] }
YAML
  done
  for n in 1 2 3; do
    ip netns exec "$P-s$n" "$SPEAKER" --node "node-$n" --config "$WORK/config" --bgp-listen 0.0.0.0:0 \
      >"$WORK/s$n.log" 2>&1 &
    PIDS+=($!)
  done
}

mac_of() { ip netns exec "$P-$1" cat /sys/class/net/eth0/address; }
neigh_mac() { ip -n "$P-client" neigh show "$VIP" dev eth0 | awk '/lladdr/ { print $3 }'; }

results=()
for run in $(seq "$RUNS"); do
  setup
  # Let the speakers hear each other and the owner finish probing, then resolve the address from the client's kernel.
  owner_mac=""
  for _ in $(seq 100); do
    ip netns exec "$P-client" bash -c "echo > /dev/udp/$VIP/9" 2>/dev/null || true # makes the kernel resolve it
    owner_mac=$(neigh_mac)
    [[ -n "$owner_mac" ]] && break
    sleep 0.1
  done
  [[ -n "$owner_mac" ]] || { echo "run $run: nobody answers for $VIP" >&2; tail -n 20 "$WORK"/s*.log >&2; exit 1; }
  sleep 6 # the owner's gratuitous burst is over and the neighbour lock time has passed
  owner=""
  for n in 1 2 3; do [[ "$(mac_of "s$n")" == "$owner_mac" ]] && owner=$n; done
  start=$(date +%s%N)
  kill -9 "${PIDS[$((owner - 1))]}"
  new_mac=""
  while (( $(date +%s%N) - start < 10000000000 )); do
    new_mac=$(neigh_mac)
    [[ -n "$new_mac" && "$new_mac" != "$owner_mac" ]] && break
    sleep 0.005
  done
  end=$(date +%s%N)
  [[ -n "$new_mac" && "$new_mac" != "$owner_mac" ]] || { echo "run $run: no takeover within 10 s" >&2; tail -n 20 "$WORK"/s*.log >&2; exit 1; }
  seconds=$(awk -v ns=$((end - start)) 'BEGIN { printf "%.3f", ns / 1e9 }')
  echo "run $run: owner s$owner ($owner_mac) killed, client sees $new_mac after ${seconds}s"
  results+=("$seconds")
  teardown
done
median=$(printf '%s\n' "${results[@]}" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo "median failover: ${median}s over $RUNS runs"
