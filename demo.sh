#!/usr/bin/env bash
# The lab demos, run as root; everything is removed on exit (also on failure or Ctrl+C).
#   ./demo.sh [--keep]  BGP: a BIRD router and two nodes running bgplb-speaker in network namespaces (examples/bgp), the
#                       router's table with each Service address and its ECMP next hops. --keep: stay up until Ctrl+C.
#   ./demo.sh l2        L2: three bgplb-speaker nodes and a client on one bridge (examples/l2); the client's arping
#                       answer, SIGKILL to the owner, the client's neighbour entry moving to the new owner, failover time.
#   ./demo.sh --topology FILE [--keep]
#                       a containerlab topology (examples/containerlab/*.clab.yml) in network namespaces instead of
#                       containers: FRR/BIRD with the bound configs, bgplb-speaker on the bgplb nodes, the exec lines;
#                       the routers' ECMP tables and the L2 answers. See examples/containerlab/README.md.
set -euo pipefail
caller_directory=$PWD
cd "$(dirname "$0")"
scripts/setup.sh
for project in src/Speaker integration/BgpLb.Lab; do
  dotnet build -c Release -v q --nologo "$project" | grep -E "error|rror\(s\)" || true
done
lab=integration/BgpLb.Lab/bin/Release/net10.0/bgplb-lab.dll
if [[ "${1:-}" == --topology ]]; then
  [[ $# -ge 2 ]] || { echo "usage: ./demo.sh --topology FILE [--keep]" >&2; exit 2; }
  topology=$(cd "$caller_directory" && realpath "$2")
  shift 2
  exec dotnet "$lab" demo-topology "$topology" "$@"
fi
if [[ "${1:-}" == l2 ]]; then
  shift
  exec dotnet "$lab" demo-l2 "$@"
fi
exec dotnet "$lab" demo "$@"
