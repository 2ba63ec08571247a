# Sourced by the benches that pair a BIRD router with one other BGP speaker, each in its namespace (router-senders.sh,
# full-table.sh). Name the namespaces NAME-$run_id-ROLE (run_id: this run's process ID in hex) and set router_ns,
# peer_ns, router_ip and peer_ip first. `pair_init NAME` removes NAME namespaces of runs whose process is gone (a live
# run's are left alone), makes $work (a temporary directory, removed on success and kept on failure) and the EXIT
# trap; `make_lab` (re)creates the two namespaces joined by a veth pair (to-n1 in the router's, uplink in the peer's, a /30 each); `cleanup` kills the processes in
# $pids and removes both namespaces, killing by PID whatever still runs in them.

pids=()

log() { printf '%s\n' "$*" >&2; }

# Namespaces NAME-RUN-ROLE left by a run whose process is gone (killed before its trap ran).
sweep_dead_runs() {
  local ns run
  for ns in $(ip netns list | awk '{ print $1 }' | grep -E "^$1-[0-9a-f]+-[a-z0-9]+\$"); do
    run=${ns#"$1"-}; run=${run%-*}
    if [ ! -d "/proc/$((16#$run))" ]; then delete_ns "$ns"; fi
  done
}

delete_ns() {
  for pid in $(ip netns pids "$1"); do kill -KILL "$pid" 2>/dev/null || true; done
  ip netns del "$1"
}

pair_init() {
  sweep_dead_runs "$1"
  work=$(mktemp -d "/tmp/$1.XXXXXX")
  chmod 755 "$work"
  trap 'status=$?; cleanup; if [ "$status" -eq 0 ]; then rm -rf "$work"; else log "kept $work"; fi' EXIT
}

cleanup() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
  for ns in "$router_ns" "$peer_ns"; do
    if ip netns list | grep -qx "$ns\( .*\)\?"; then delete_ns "$ns"; fi
  done
}

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.3f\", $* }"; }
later_than() { awk "BEGIN { exit !($1 > $2) }"; }
cpu_seconds() { awk '{ print ($14 + $15) / 100 }' "/proc/$1/stat"; }

# Wait until a command succeeds, polling every 10 ms, at most $1 seconds.
wait_until() {
  local timeout=$1; shift
  local deadline; deadline=$(calc "$(now) + $timeout")
  until "$@" >/dev/null 2>&1; do
    if later_than "$(now)" "$deadline"; then log "timeout after ${timeout}s: $*"; return 1; fi
    sleep 0.01
  done
}

make_lab() {
  cleanup
  ip netns add "$router_ns"
  ip netns add "$peer_ns"
  ip -n "$router_ns" link add to-n1 type veth peer name uplink netns "$peer_ns"
  ip -n "$router_ns" addr add "$router_ip/30" dev to-n1
  ip -n "$peer_ns" addr add "$peer_ip/30" dev uplink
  for end in "$router_ns to-n1" "$peer_ns uplink"; do
    set -- $end
    ip -n "$1" link set lo up
    ip -n "$1" link set "$2" up
  done
}

speaker_path() {
  if [ -n "${BGPLB_SPEAKER_PATH:-}" ]; then echo "$BGPLB_SPEAKER_PATH"; else echo "$repo/src/Speaker/bin/Release/net10.0/bgplb-speaker"; fi
}
