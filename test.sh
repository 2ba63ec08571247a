#!/usr/bin/env bash
# The project's test command (README): builds everything, then runs every test project of the solution (unit, property,
# and the integration lab against real routers, which needs root); TRX results in ./TestResults. Extra arguments go to
# both `dotnet test` runs (e.g. --filter).
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
# Build first: the lab tests start the built bgplb-speaker and bgplb-controller executables, which no test assembly
# references, so a combined build-and-test could start them before they exist.
dotnet build BgpLb.sln -c Release --nologo -v q

# Every project of the solution but the lab's, as a solution filter: the unit and property assemblies run first (in
# parallel with each other), the integration assembly after them and alone, so that the lab's routers and daemons never
# compete with a CPU-heavy unit run.
lab=integration/BgpLb.Integration.Tests/BgpLb.Integration.Tests.csproj
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet sln BgpLb.sln list | grep '\.csproj$' | tr '\\' / | grep -vx "$lab" \
  | python3 -c 'import json, sys; print(json.dumps({"solution": {"path": sys.argv[1], "projects": sys.stdin.read().split()}}))' "$PWD/BgpLb.sln" \
  > "$work/unit.slnf"

status=0
dotnet test "$work/unit.slnf" -c Release --no-build --logger trx --results-directory TestResults "$@" || status=$?
dotnet test "$lab" -c Release --no-build --logger trx --results-directory TestResults "$@" || status=$?
exit "$status"
