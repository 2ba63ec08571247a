#!/usr/bin/env bash
# The lab demo: a BIRD router and two nodes running bgplb-speaker in network namespaces (examples/bgp), the router's
# table with each Service address and its ECMP next hops; everything is removed on exit. Run as root. Pass --keep to
# leave the lab up until Ctrl+C.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
for project in src/Speaker integration/BgpLb.Lab; do
  dotnet build -c Release -v q --nologo "$project" | grep -E "error|rror\(s\)" || true
done
exec dotnet integration/BgpLb.Lab/bin/Release/net10.0/bgplb-lab.dll demo "$@"
