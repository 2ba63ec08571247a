# Sourced by the lab benchmark scripts that wrap a `bgplb-lab` subcommand (churn.sh, failover.sh, bfd-jitter.sh).
# `lab_init NAME` checks for root, makes $work (a temporary directory, removed on exit) and sets the traps; `lab_build`
# builds bgplb-speaker and bgplb-lab (Release); `lab_run ARGS...` runs bgplb-lab in the background (so that the traps
# see Ctrl-C and SIGTERM) and returns its exit status. bgplb-lab tears its lab down itself, also on SIGINT/SIGTERM; on
# exit this removes what it could not: the namespaces of this bench's test name and bgplb-lab process only
# (bgplb-NAME-RUN-r, bgplb-NAME-RUN-nN, RUN being that process's ID in hex), their processes killed by PID.

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lab_dll="$repo/integration/BgpLb.Lab/bin/Release/net10.0/bgplb-lab.dll"
lab_name=""
lab_pid=""
lab_run_id=""
work=""

log() { printf '%s\n' "$*" >&2; }

lab_init() {
  lab_name=$1
  [ "$(id -u)" = 0 ] || { log "run as root (network namespaces)"; exit 2; }
  work=$(mktemp -d "/tmp/bgplb-$lab_name.XXXXXX")
  trap 'status=$?; lab_cleanup; rm -rf "$work"; exit $status' EXIT
  trap 'exit 130' INT TERM
}

lab_cleanup() {
  if [ -n "$lab_pid" ] && kill -0 "$lab_pid" 2>/dev/null; then
    kill -TERM "$lab_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$lab_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$lab_pid" 2>/dev/null || true
  fi
  [ -n "$lab_run_id" ] || return 0
  local ns pid
  for ns in $(ip netns list | awk '{ print $1 }' | grep -E "^bgplb-$lab_name-$lab_run_id-(r|n[0-9]+)\$" || true); do
    log "removing leftover namespace $ns"
    for pid in $(ip netns pids "$ns"); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns"
    rm -rf "/run/frr/$ns"
  done
}

lab_build() {
  log "== building (Release)"
  local project
  for project in src/Speaker integration/BgpLb.Lab; do
    dotnet build -c Release -v q --nologo "$repo/$project" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
  done
}

lab_run() {
  dotnet "$lab_dll" "$@" &
  lab_pid=$!
  lab_run_id=$(printf %x "$lab_pid")
  local status=0
  wait "$lab_pid" || status=$?
  lab_pid=""
  return "$status"
}
