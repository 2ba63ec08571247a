#!/usr/bin/env bash
# The project's test command (README): every test project of the solution, TRX results in ./TestResults.
set -euo pipefail
cd "$(dirname "$0")"
exec dotnet test BgpLb.sln -c Release --logger trx --results-directory TestResults "$@"
