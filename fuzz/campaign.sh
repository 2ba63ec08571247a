#!/usr/bin/env bash
# A bounded coverage-guided fuzzing campaign: fuzz/campaign.sh TARGET|all MINUTES
# TARGET is one of FuzzTargets.All (bgp bfd arp yaml grpc). Installs afl++ (Debian) and the sharpfuzz instrumenter
# (NuGet) when missing, publishes fuzz/BgpLb.Fuzz, instruments the code-under-test assemblies of the target, runs one
# afl-fuzz at a time for MINUTES per target, prints its figures and copies crashes into fuzz/regressions/TARGET.
# Work files (published copies, afl-fuzz findings, hangs) stay in ${BGPLB_FUZZ_WORK:-/tmp/bgplb-fuzz}.
set -euo pipefail
cd "$(dirname "$0")/.."

SHARPFUZZ_VERSION=2.3.0
TARGETS=(bgp bfd arp yaml grpc)

usage() { echo "usage: $0 {$(IFS='|'; echo "${TARGETS[*]}")|all} MINUTES" >&2; exit 2; }
[ $# -eq 2 ] && [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -gt 0 ] || usage
if [ "$1" = all ]; then selected=("${TARGETS[@]}"); else selected=("$1"); fi
for target in "${selected[@]}"; do [[ " ${TARGETS[*]} " == *" $target "* ]] || usage; done
seconds=$(($2 * 60))
work=${BGPLB_FUZZ_WORK:-/tmp/bgplb-fuzz}

# The assemblies whose code each target exercises: only these are instrumented, so coverage means the code under test.
assemblies() {
  case $1 in
    bgp | bfd) echo BgpLb.Bgp.dll ;;
    arp) echo BgpLb.L2.dll ;;
    yaml) echo BgpLb.Config.dll BgpLb.Model.dll YamlDotNet.dll ;;
    grpc) echo bgplb-controller.dll BgpLb.Allocation.Client.dll BgpLb.Allocation.dll BgpLb.Model.dll Google.Protobuf.dll ;;
  esac
}

if ! command -v afl-fuzz > /dev/null; then
  echo "== installing afl++"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ > /dev/null
fi
export PATH="$PATH:$HOME/.dotnet/tools"
if ! command -v sharpfuzz > /dev/null; then
  echo "== installing sharpfuzz $SHARPFUZZ_VERSION"
  dotnet tool install --global SharpFuzz.CommandLine --version "$SHARPFUZZ_VERSION" > /dev/null
fi

echo "== publishing fuzz/BgpLb.Fuzz"
rm -rf "$work/publish"
dotnet publish fuzz/BgpLb.Fuzz -c Release -o "$work/publish" --nologo -v q > /dev/null

# afl-fuzz: the target is dotnet, not an afl-instrumented binary; no core dumps to wait for; stay off fixed cores
# (the machine is shared); plain status lines instead of the screen UI.
export AFL_SKIP_BIN_CHECK=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_NO_UI=1

stat() { awk -F' *: *' -v key="$2" '$1 == key { print $2 }' "$1"; }

summary=()
for target in "${selected[@]}"; do
  echo "== $target: instrumenting $(assemblies "$target")"
  dir="$work/$target"
  rm -rf "$dir" && mkdir -p "$dir"
  cp -r "$work/publish" "$dir/app"
  for assembly in $(assemblies "$target"); do
    sharpfuzz "$dir/app/$assembly" > /dev/null
  done

  echo "== $target: afl-fuzz for $2 min"
  mkdir -p "$dir/seeds"
  find "fuzz/corpus/$target" "fuzz/regressions/$target" -type f ! -name '.*' -exec cp {} "$dir/seeds/" \;
  BGPLB_FUZZ_TARGET=$target afl-fuzz -i "$dir/seeds" -o "$dir/findings" -t 5000 -m none -V "$seconds" \
    -- dotnet "$dir/app/BgpLb.Fuzz.dll" > "$dir/afl.log" 2>&1 || { tail -20 "$dir/afl.log"; exit 1; }

  stats="$dir/findings/default/fuzzer_stats"
  crashes=0
  for crash in "$dir"/findings/default/crashes/id:*; do
    [ -e "$crash" ] || continue
    cp "$crash" "fuzz/regressions/$target/crash-$(sha1sum "$crash" | cut -c1-40)"
    crashes=$((crashes + 1))
  done
  hangs=$(find "$dir/findings/default/hangs" -name 'id:*' | wc -l)
  line=$(printf '%-5s %12s execs %9s execs/s %6s corpus %4s crashes %4s hangs' "$target" \
    "$(stat "$stats" execs_done)" "$(stat "$stats" execs_per_sec)" "$(stat "$stats" corpus_count)" "$crashes" "$hangs")
  echo "$line"
  [ "$hangs" -eq 0 ] || echo "   hangs (replay with --run; not copied: a loaded machine can make a slow input look hung): $dir/findings/default/hangs"
  [ "$crashes" -eq 0 ] || echo "   crashes copied to fuzz/regressions/$target/ (replay: BGPLB_FUZZ_TARGET=$target dotnet run --project fuzz/BgpLb.Fuzz -- --run FILE)"
  summary+=("$line")
done

echo "== summary ($2 min per target)"
printf '%s\n' "${summary[@]}"
