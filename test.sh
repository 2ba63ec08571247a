#!/usr/bin/env bash
# The project's test command (README): builds everything, then runs every test project of the solution
# (unit, property, and the integration lab against real routers, which needs root); TRX results in ./TestResults.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
# Build first: the lab tests start the built bgplb-speaker and bgplb-controller executables, which no test assembly
# references, so a combined build-and-test could start them before they exist.
dotnet build BgpLb.sln -c Release --nologo -v q
exec dotnet test BgpLb.sln -c Release --no-build --logger trx --results-directory TestResults "$@"
