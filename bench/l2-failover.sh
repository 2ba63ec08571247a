#!/usr/bin/env bash
# L2 failover time: three bgplb-speaker processes in their own namespaces on one bridge, a client namespace that has
# resolved a Service address (examples/l2); kill -9 the owner and time until the client's neighbour entry (ip neigh)
# carries the new owner's MAC (learned from the gratuitous ARP). Prints each run and the median in seconds.
# A thin wrapper over `bgplb-lab bench-l2-failover` (integration/BgpLb.Lab, L2Lab + L2Demo). Run as root.
# Usage: sudo bench/l2-failover.sh [runs=5] [Debug|Release]
set -euo pipefail
RUNS=${1:-5}
CONFIGURATION=${2:-Debug}
cd "$(dirname "$0")/.."
for project in src/Speaker integration/BgpLb.Lab; do
  dotnet build -c "$CONFIGURATION" -v q --nologo "$project" | grep -E "error|rror\(s\)" || true
done
exec dotnet "integration/BgpLb.Lab/bin/$CONFIGURATION/net10.0/bgplb-lab.dll" bench-l2-failover "$RUNS"
