#!/usr/bin/env bash
# Installs what the lab demo and the tests need on a fresh Debian 12 machine (idempotent; run as root).
set -euo pipefail

need=()
command -v bird >/dev/null || need+=(bird2)
[ -x /usr/lib/frr/bgpd ] || need+=(frr)
command -v gobgpd >/dev/null || need+=(gobgpd)
command -v arping >/dev/null || need+=(arping)
command -v ndisc6 >/dev/null || need+=(ndisc6)
command -v ping >/dev/null || need+=(iputils-ping)
command -v ip >/dev/null || need+=(iproute2)
command -v python3 >/dev/null || need+=(python3)
command -v ps >/dev/null || need+=(procps)
command -v modprobe >/dev/null || need+=(kmod)
python3 -c 'import yaml' 2>/dev/null || need+=(python3-yaml)
# Checks of what operators install: the Prometheus rules (promtool) and the systemd units (systemd-analyze).
command -v promtool >/dev/null || need+=(prometheus)
command -v systemd-analyze >/dev/null || need+=(systemd)

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v dotnet >/dev/null; then
  echo "setup: the .NET 10 SDK is required (dotnet not on PATH)" >&2
  exit 1
fi
